package tokencache

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
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

// TestBackoffRecordReadsInert: what a backoff record says reaches a
// terminal (kubectl's error, doctor, status), so whatever wrote the file
// cannot make it act: escape sequences, control characters and bytes that
// are not UTF-8, in any printed field, come out shown, not interpreted;
// printable text, any script, comes out as written.
func TestBackoffRecordReadsInert(t *testing.T) {
	hostile := []string{
		"\x1b[2J\x1b[Hclear screen",
		"\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07 clipboard",
		"\u009b31m C1 CSI",
		"carriage\rreturn",
		"bell\x07 and del\x7f",
		"tab\tnewline\n",
		"\xff\xfe\x9b not UTF-8",
	}
	benign := []string{"aws sso login --profile 'dev team'", "café 日本語 ✓ \"quoted\""}
	fields := []string{"message", "cluster", "region", "profile"}
	get := func(b Backoff, field string) string {
		return map[string]string{"message": b.Message, "cluster": b.Cluster, "region": b.Region, "profile": b.Profile}[field]
	}
	record := func(field, v string) []byte {
		// By hand: a JSON encoder would not write bytes that are not UTF-8.
		var q []byte
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c < 0x20 || c == '"' || c == '\\':
				q = append(q, []byte(`\u00`+strconv.FormatUint(uint64(c)>>4, 16)+strconv.FormatUint(uint64(c)&15, 16))...)
			default:
				q = append(q, c)
			}
		}
		return []byte(`{"format":"` + BackoffFormat + `","key":"k","since":"2026-11-29T12:00:00Z","until":"2026-11-29T12:00:30Z","` +
			field + `":"` + string(q) + `"}`)
	}
	for _, field := range fields {
		for _, v := range hostile {
			b, err := ParseBackoff(record(field, v))
			if err != nil {
				t.Errorf("%s %q: %v", field, v, err)
				continue
			}
			got := get(b, field)
			if !utf8.ValidString(got) {
				t.Errorf("%s %q reads as %q: not UTF-8", field, v, got)
			}
			for _, r := range got {
				if r < 0x20 || r >= 0x7f && r < 0xa0 {
					t.Errorf("%s %q reads as %q: holds control character %U", field, v, got, r)
					break
				}
			}
		}
		for _, v := range benign {
			b, err := ParseBackoff(record(field, v))
			if err != nil {
				t.Errorf("%s %q: %v", field, v, err)
				continue
			}
			if got := get(b, field); got != v {
				t.Errorf("%s %q reads as %q, want it unchanged", field, v, got)
			}
		}
	}
}
