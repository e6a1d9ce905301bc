//go:build !windows

package tmpdir

// UnderWine is false: wine runs Windows programs only.
func UnderWine() bool { return false }
