package serverside

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrSelector is wrapped by the errors of selectors that are not a list of
// PromQL label matchers.
var ErrSelector = errors.New("serverside: invalid selector")

// matcherRE matches one PromQL label matcher (name, operator, quoted value)
// at the start of a string, with the comma after it or the end.
var matcherRE = func() *regexp.Regexp {
	value := `(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`" + `)`
	return regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*` + value + `\s*(?:,|$)`)
}()

// ParseSelector checks a list of PromQL label matchers, such as
// `instance="gpu-box:9849", model_name=~"llama.*"`, with or without the
// braces around it, and returns it without braces and spaces around the
// matchers ("" for an empty list). The metric name (__name__) is not
// allowed: the queries name their metrics.
func ParseSelector(s string) (string, error) {
	rest := strings.TrimSpace(s)
	if strings.HasPrefix(rest, "{") && strings.HasSuffix(rest, "}") {
		rest = rest[1 : len(rest)-1]
	}
	var parts []string
	for strings.TrimSpace(rest) != "" {
		m := matcherRE.FindStringSubmatchIndex(rest)
		if m == nil {
			return "", fmt.Errorf("%w %q: want label matchers such as instance=\"host:9849\",model_name=~\"llama.*\"",
				ErrSelector, s)
		}
		if rest[m[2]:m[3]] == "__name__" {
			return "", fmt.Errorf("%w %q: the metric name (__name__) cannot be selected", ErrSelector, s)
		}
		parts = append(parts, strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest[:m[1]]), ",")))
		rest = rest[m[1]:]
	}
	return strings.Join(parts, ","), nil
}

// joinSelectors joins matcher lists that ParseSelector returned, skipping
// empty ones.
func joinSelectors(lists ...string) string {
	var out []string
	for _, l := range lists {
		if l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, ",")
}
