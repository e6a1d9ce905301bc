//go:build !windows

package cache

// sharingRefused is false: Unix has no sharing modes; every error counts.
func sharingRefused(error) bool { return false }
