//go:build ekstoken_fakeclock

package clock

import (
	"os"
	"time"
)

// Now reads the fake time from the file named by FileEnv.
func Now() time.Time {
	path := os.Getenv(FileEnv)
	if path == "" {
		return time.Now()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Now()
	}
	t, err := time.Parse(time.RFC3339Nano, string(trimNewline(b)))
	if err != nil {
		return time.Now()
	}
	return t
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Fake says whether this build reads a fake clock.
const Fake = true
