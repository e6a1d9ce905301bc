package tokencache

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBackoffInForce: a backoff record holds from its Since to its Until,
// for its own identity only, and never longer than the longest record
// ekstoken writes: one whose Until lies far beyond its Since (a clock
// set forward while it was written, a file edited or planted) would
// otherwise hold off refreshes, and fail kubectl runs without a terminal,
// until someone found and cleared it.
func TestBackoffInForce(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	watched := filepath.Join(t.TempDir(), "sso-token.json")
	if err := os.WriteFile(watched, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := func(since, until time.Duration) Backoff {
		return Backoff{Format: BackoffFormat, Key: "k", Failures: 1, Since: now.Add(since), Until: now.Add(until)}
	}
	for _, tc := range []struct {
		name string
		b    Backoff
		key  string
		want bool
	}{
		{"first failure", rec(-10*time.Second, 20*time.Second), "k", true},
		{"longest wait, near its end", rec(-backoffMax+time.Second, time.Second), "k", true},
		{"until a token's end", rec(-time.Second, 14*time.Minute), "k", true},
		{"over", rec(-time.Minute, -time.Second), "k", false},
		{"another identity's", rec(-time.Second, time.Minute), "other", false},
		{"another format", func() Backoff { b := rec(-time.Second, time.Minute); b.Format = "x"; return b }(), "k", false},
		{"written by a clock since set back", rec(time.Hour, 2*time.Hour), "k", false},
		{"until far in the future", rec(-time.Minute, 100*365*24*time.Hour), "k", true},
		{"until far in the future, long since", rec(-15*time.Minute, 100*365*24*time.Hour), "k", false},
		{"until far in the future, since a day ago", rec(-24*time.Hour, time.Hour), "k", false},
		{"until far in the future, since in year 1", Backoff{Format: BackoffFormat, Key: "k", Until: now.Add(time.Hour)}, "k", false},
		{"watched file unchanged", func() Backoff {
			b := rec(-time.Second, time.Minute)
			b.WatchFile, b.WatchStamp = watched, WatchStamp(watched)
			return b
		}(), "k", true},
		{"watched file changed", func() Backoff {
			b := rec(-time.Second, time.Minute)
			b.WatchFile, b.WatchStamp = watched, "0@0"
			return b
		}(), "k", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.InForce(tc.key, now); got != tc.want {
				t.Errorf("InForce(%q) of %+v = %v, want %v", tc.key, tc.b, got, tc.want)
			}
		})
	}
}
