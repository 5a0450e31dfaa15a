// Package secret is Benchstation's one policy for credentials, shared by the
// bencher, the exporter and the Grafana plugin:
//
//   - a [Secret] holds a credential and shows as [Redacted] in every format
//     (fmt verbs, JSON, text, YAML, slog), so printing a struct that holds
//     one never leaks it;
//   - a [Redactor] knows every credential in play (API keys, URL user-info,
//     Authorization-like headers) in every form a server may echo it (raw,
//     base64, URL- and JSON-escaped) and scrubs it from any string, error,
//     log record or stream before it is shown, logged, stored or exported;
//   - [CheckRedirect] and [Transport] make sure a credential reaches its own
//     origin (scheme, host and port) only: a redirect that changes origin is
//     refused with an error that says so.
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what a secret shows as, wherever it would appear.
const Redacted = "[REDACTED]"

// Secret is a credential. Its value is reachable only through [Secret.Value];
// every other way of showing it prints [Redacted] (or "" when it is unset,
// so that "no key" stays visible). It keeps its value behind a pointer, so
// that even fmt's reflection over an unexported struct field prints an
// address, never the value. The zero Secret is unset.
type Secret struct{ v *string }

// New returns a Secret holding v; New("") is unset.
func New(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{v: &v}
}

// Value returns the credential itself, to be sent to its server only.
func (s Secret) Value() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsSet reports whether s holds a credential.
func (s Secret) IsSet() bool { return s.v != nil }

// String returns [Redacted], or "" when s is unset.
func (s Secret) String() string {
	if s.v == nil {
		return ""
	}
	return Redacted
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format prints s as String does in every verb; %q quotes it.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// MarshalJSON encodes s as the JSON string String returns.
func (s Secret) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, "%q", s.String()), nil }

// MarshalText returns String's text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML returns String's text.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// LogValue makes slog (and every handler over it) log String's text.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

var (
	_ fmt.Formatter  = Secret{}
	_ fmt.Stringer   = Secret{}
	_ slog.LogValuer = Secret{}
)
