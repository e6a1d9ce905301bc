// Package debugenv says whether the environment asks for debug output. It
// imports nothing: internal/fastpath checks it on the cache-hit
// path, where log/slog (internal/debuglog) must not be initialized, and
// internal/debuglog checks it on the full path, so the two always agree.
package debugenv

// Vars are the variables that turn debugging on: ekstoken's own, and the
// blog's script's EKS_TOKEN_DEBUG.
var Vars = []string{"EKSTOKEN_DEBUG", "EKS_TOKEN_DEBUG"}

// Enabled reports whether any of Vars holds a true value: 1, t, true, y,
// yes or on, in any case, as people write them in shell profiles and CI
// settings. Anything else, empty included, is off.
func Enabled(getenv func(string) string) bool {
	for _, k := range Vars {
		if Truthy(getenv(k)) {
			return true
		}
	}
	return false
}

// Truthy reports whether v spells true.
func Truthy(v string) bool {
	switch asciiLower(trimSpace(v)) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}

// trimSpace and asciiLower stand in for strings.TrimSpace and
// strings.ToLower, which the hit path does without (see internal/strlite):
// the words Truthy accepts are ASCII.
func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
