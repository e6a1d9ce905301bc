//go:build !ekstoken_fakeclock

// Package clock is the binary's one source of the current time. Its two
// callers, main and the hit path's init, hand it to everything below them;
// nothing else in the program reads the clock for expiry logic.
//
// Built with the ekstoken_fakeclock tag (tests only, through
// internal/devbin), Now reads the time from the file named by
// EKSTOKEN_FAKE_NOW_FILE instead, so a test can run a simulated day of
// kubectl calls, background refreshes included, in a minute. Release builds
// never have that seam.
package clock

import "time"

// Now is time.Now.
func Now() time.Time { return time.Now() }

// Fake says whether this build reads a fake clock.
const Fake = false
