// Package strlite has the few functions of package strings that the cache
// hit path needs. Package strings waits on package unicode, and with it on
// a long chain of packages, in Go's initialization order; the hit path is
// answered from a package init that must run before them (see
// internal/fastpath). FuzzAgreesWithStrings holds each function to its
// namesake in strings.
package strlite

// HasPrefix is strings.HasPrefix.
func HasPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && s[:len(prefix)] == prefix
}

// HasSuffix is strings.HasSuffix.
func HasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// CutPrefix is strings.CutPrefix.
func CutPrefix(s, prefix string) (after string, found bool) {
	if !HasPrefix(s, prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// Index is strings.Index.
func Index(s, sep string) int {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return i
		}
	}
	return -1
}

// Cut is strings.Cut.
func Cut(s, sep string) (before, after string, found bool) {
	if i := Index(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// TrimRightByte is strings.TrimRight with a cutset of single bytes below
// utf8.RuneSelf.
func TrimRightByte(s string, cutset ...byte) string {
	for len(s) > 0 {
		trimmed := false
		for _, c := range cutset {
			if s[len(s)-1] == c {
				s, trimmed = s[:len(s)-1], true
				break
			}
		}
		if !trimmed {
			break
		}
	}
	return s
}
