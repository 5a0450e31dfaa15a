package batch

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// keyPrefixes start the API keys and tokens of well-known services, and the
// schemes of an Authorization value pasted whole.
var keyPrefixes = []string{
	"sk-", "sk_", "pk-", "pk_", "rk_", "hf_", "gsk_", "nvapi-", "ghp_", "gho_", "ghs_", "ghu_", "ghr_",
	"github_pat_", "glpat-", "xoxb-", "xoxp-", "xapp-", "AKIA", "ASIA", "AIza", "eyJ",
	"Bearer ", "bearer ", "Basic ", "basic ", "Token ", "token ",
}

// LooksLikeKey reports whether s could be a credential put where a name
// belongs (an environment variable's name, a file path, a command-line
// argument): it starts like a well-known key or token, or it is a long run
// of letters mixed with digits, as random tokens are. It errs on the side
// of yes: its only use is to decide whether an error message may quote s.
func LooksLikeKey(s string) bool {
	s = strings.TrimSpace(s)
	if hasKeyPrefix(s) || len(s) >= 40 {
		return true
	}
	var letters, digits int
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			digits++
		}
	}
	return len(s) >= 20 && letters >= 4 && digits >= 3
}

// hasKeyPrefix reports whether s starts like a well-known key, with at
// least 8 more characters.
func hasKeyPrefix(s string) bool {
	for _, p := range keyPrefixes {
		if strings.HasPrefix(s, p) && len(s) >= len(p)+8 {
			return true
		}
	}
	return false
}

// envName is what a shell accepts as an environment variable's name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// plausibleEnvName reports whether s may be quoted as an environment
// variable's name: a valid name that does not look like a key.
func plausibleEnvName(s string) bool { return envName.MatchString(s) && !LooksLikeKey(s) }

// plausiblePath reports whether s may be quoted as a file path. A name
// without a separator must not look like a key (see [LooksLikeKey]); a
// path with separators, which keys seldom have, must have no part that
// starts like a well-known key or is 40 characters or longer, and must not
// look like base64 (a "+" or a trailing "=" in a path that does not start
// with "/", "." or "~").
func plausiblePath(s string) bool {
	if s == "" || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return false
	}
	if !strings.ContainsAny(s, `/\`) {
		return !LooksLikeKey(s)
	}
	if !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "~") &&
		(strings.Contains(s, "+") || strings.HasSuffix(s, "=")) {
		return false
	}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '\\' }) {
		if len(part) >= 40 || hasKeyPrefix(part) {
			return false
		}
	}
	return true
}

// sizeOnly describes a value that must not be quoted by its length only,
// with the likely mistake.
func sizeOnly(s string) string {
	return fmt.Sprintf("a %d-character value; is it the key itself?", len([]rune(s)))
}

// MayBeKey reports whether a command-line argument may be a key given
// where a name or a value belongs: a token without a path separator that
// looks like a key (see [LooksLikeKey]). Main scrubs such arguments from
// everything it prints. Paths and URLs are left alone, so that messages
// about them stay readable; a URL's own credentials are scrubbed anyway.
func MayBeKey(s string) bool { return !strings.ContainsAny(s, `/\`) && LooksLikeKey(s) }
