// Package debugenv says whether the environment asks for debug output. It
// imports only package strings: internal/fastpath checks it on the cache-hit
// path, where log/slog (internal/debuglog) must not be initialized, and
// internal/debuglog checks it on the full path, so the two always agree.
package debugenv

import "strings"

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
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}
