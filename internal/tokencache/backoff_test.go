package tokencache

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
	"github.com/google/go-cmp/cmp"
)

// backoffFields are the JSON names of Backoff's fields, as ekstoken writes
// them.
var backoffFields = []string{"format", "key", "failures", "since", "until", "message", "needsPerson",
	"watchFile", "watchStamp", "cluster", "region", "profile"}

// FuzzParseBackoffAgreesWithEncodingJSON holds the hit path's backoff
// reader to json.Unmarshal into Backoff, which writes it: on records whose
// keys are written as ekstoken writes them (exactly, once), both accept
// the same documents and read the same fields.
func FuzzParseBackoffAgreesWithEncodingJSON(f *testing.F) {
	full, err := json.Marshal(Backoff{Format: BackoffFormat, Key: "v=1:2;", Failures: 3,
		Since: time.Date(2026, 11, 29, 12, 0, 0, 123, time.UTC), Until: time.Date(2026, 11, 29, 12, 2, 0, 0, time.UTC),
		Message: "run aws sso login --profile dev", NeedsPerson: true,
		WatchFile: "/home/x/.aws/sso/cache/a.json", WatchStamp: "12@34",
		Cluster: "prod", Region: "eu-west-1", Profile: "dev"})
	if err != nil {
		f.Fatal(err)
	}
	zero, err := json.Marshal(Backoff{})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(full), string(zero), `{}`, `null`, `[]`, `"x"`,
		`{"since":null,"until":null,"failures":null,"needsPerson":null,"key":null}`,
		`{"failures":"3"}`, `{"failures":1.5}`, `{"failures":1e2}`, `{"failures":-0}`, `{"failures":99999999999999999999}`,
		`{"needsPerson":"true"}`, `{"needsPerson":1}`, `{"key":1}`, `{"message":["a"]}`,
		`{"since":"yesterday"}`, `{"until":"2026-11-29T12:00:00+02:00"}`, `{"until":1}`,
		`{"format":"ekstoken/backoff/v2","extra":{"a":[1,{"b":null}]}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !exactOnceKeysOf(raw, backoffFields) {
			t.Skip()
		}
		var want Backoff
		jerr := json.Unmarshal([]byte(raw), &want)
		got, err := ParseBackoff([]byte(raw))
		if jerr != nil {
			if err == nil {
				t.Fatalf("ParseBackoff(%q) accepts what encoding/json refuses: %v", raw, jerr)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseBackoff(%q): %v; encoding/json reads %+v", raw, err, want)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("ParseBackoff(%q) (-encoding/json +ParseBackoff):\n%s", raw, diff)
		}
	})
}

// A record ekstoken writes reads back whole, through the cache store as
// the hit path reads it; another identity's record, or none, is no record.
func TestReadBackoffRoundTrip(t *testing.T) {
	s := cache.Store{Dir: tmpdir.New(t)}
	for _, bo := range []Backoff{
		{Format: BackoffFormat, Key: "key-a", Failures: 4, Since: time.Date(2026, 11, 29, 12, 0, 0, 5, time.UTC),
			Until: time.Date(2026, 11, 29, 12, 8, 0, 5, time.UTC), Message: "run \"aws sso login\"\n", NeedsPerson: true,
			WatchFile: "/tmp/é.json", WatchStamp: "1@2", Cluster: "c", Region: "r", Profile: "p"},
		{Format: BackoffFormat, Key: "key-b", Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
			Until: time.Date(2026, 1, 2, 3, 9, 5, 0, time.UTC)},
	} {
		if err := s.Write(BackoffName(bo.Key), bo); err != nil {
			t.Fatal(err)
		}
		got, ok := ReadBackoff(s, bo.Key)
		if !ok {
			t.Fatalf("ReadBackoff(%q) found nothing", bo.Key)
		}
		if diff := cmp.Diff(bo, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("(-written +read):\n%s", diff)
		}
		// The record of key-a copied under another identity's name is not
		// that identity's.
		other := "other-" + bo.Key
		raw, err := os.ReadFile(s.Path(BackoffName(bo.Key)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s.Path(BackoffName(other)), raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, ok := ReadBackoff(s, other); ok {
			t.Errorf("ReadBackoff(%q) read %q's record: %+v", other, bo.Key, got)
		}
	}
	if got, ok := ReadBackoff(s, "nobody"); ok {
		t.Errorf("ReadBackoff of a missing record: %+v", got)
	}
	if BackoffName("key-a") == TokenName("key-a") || BackoffName("key-a")[len("backoff-"):] != TokenName("key-a")[len("token-"):] {
		t.Errorf("BackoffName %q must share its hash with TokenName %q", BackoffName("key-a"), TokenName("key-a"))
	}
}

// The wait doubles from 30 s with every failure in a row and stops at
// 10 min, for any count, nonsense counts included.
func TestBackoffWait(t *testing.T) {
	prev := time.Duration(0)
	for n := -2; n <= 64; n++ {
		got := BackoffWait(n)
		want := backoffBase
		for i := 1; i < n; i++ {
			want *= 2
			if want >= backoffMax {
				want = backoffMax
				break
			}
		}
		if got != want {
			t.Errorf("BackoffWait(%d) = %v, want %v", n, got, want)
		}
		if got < prev {
			t.Errorf("BackoffWait(%d) = %v shrinks from %v", n, got, prev)
		}
		prev = got
	}
	for n, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 5: 8 * time.Minute, 6: 10 * time.Minute, 1 << 30: 10 * time.Minute} {
		if got := BackoffWait(n); got != want {
			t.Errorf("BackoffWait(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestBackoffInForce(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	dir := tmpdir.New(t)
	watch := filepath.Join(dir, "sso.json")
	if err := os.WriteFile(watch, []byte(`{"accessToken":"a"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	stamp := WatchStamp(watch)
	if stamp == "" {
		t.Fatal("WatchStamp of an existing file is empty")
	}
	missing := filepath.Join(dir, "not-yet.json")
	base := Backoff{Format: BackoffFormat, Key: "k", Failures: 1, Since: now.Add(-10 * time.Second), Until: now.Add(20 * time.Second)}
	for name, tc := range map[string]struct {
		edit  func(*Backoff)
		key   string
		at    time.Time
		touch func(t *testing.T)
		want  bool
	}{
		"in force":                 {want: true},
		"in force until the end":   {at: now.Add(20*time.Second - time.Nanosecond), want: true},
		"over at Until":            {at: now.Add(20 * time.Second)},
		"over after Until":         {at: now.Add(time.Hour)},
		"another identity":         {key: "k2"},
		"a key that only prefixes": {key: "k "},
		"another format":           {edit: func(b *Backoff) { b.Format = "ekstoken/backoff/v0" }},
		"no format":                {edit: func(b *Backoff) { b.Format = "" }},
		"written a minute ahead":   {edit: func(b *Backoff) { b.Since = now.Add(time.Minute) }, want: true},
		"clock set back since":     {edit: func(b *Backoff) { b.Since, b.Until = now.Add(time.Hour), now.Add(time.Hour+time.Minute) }},
		"clock set back a little":  {edit: func(b *Backoff) { b.Since = now.Add(time.Minute + time.Second) }},
		// No record ekstoken writes holds more than 15 min from its
		// failure: one whose Until says longer (a clock set forward while
		// it was written, a file edited or planted) holds only that long.
		"a token's life after":      {edit: func(b *Backoff) { b.Since, b.Until = now.Add(-time.Second), now.Add(14*time.Minute) }, want: true},
		"until far ahead, just now": {edit: func(b *Backoff) { b.Until = now.Add(100 * 365 * 24 * time.Hour) }, want: true},
		"until far ahead, 15m on":   {edit: func(b *Backoff) { b.Since, b.Until = now.Add(-15*time.Minute), now.Add(100*365*24*time.Hour) }},
		"until ahead, a day on":     {edit: func(b *Backoff) { b.Since, b.Until = now.Add(-24*time.Hour), now.Add(time.Hour) }},
		"until ahead, no since":     {edit: func(b *Backoff) { b.Since, b.Until = time.Time{}, now.Add(time.Hour) }},
		"watch file unchanged":      {edit: func(b *Backoff) { b.WatchFile, b.WatchStamp = watch, stamp }, want: true},
		"watch file still missing":  {edit: func(b *Backoff) { b.WatchFile, b.WatchStamp = missing, "" }, want: true},
		"watch stamp of another":    {edit: func(b *Backoff) { b.WatchFile, b.WatchStamp = watch, "1@1" }},
		"watch file created":        {edit: func(b *Backoff) { b.WatchFile, b.WatchStamp = missing, "" }, touch: create(missing)},
		"watch file removed":        {edit: func(b *Backoff) { b.WatchFile, b.WatchStamp = watch, stamp }, touch: remove(watch)},
		"watch file rewritten":      {edit: func(b *Backoff) { b.WatchFile, b.WatchStamp = watch, stamp }, touch: rewrite(watch, `{"accessToken":"b"}`, 0)},
		"watch file rewritten size": {edit: func(b *Backoff) { b.WatchFile, b.WatchStamp = watch, stamp }, touch: rewrite(watch, `{"accessToken":"longer"}`, -1)},
	} {
		t.Run(name, func(t *testing.T) {
			// Each case restores the files it changes.
			if err := os.WriteFile(watch, []byte(`{"accessToken":"a"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			mt := now.Add(-time.Hour)
			if err := os.Chtimes(watch, mt, mt); err != nil {
				t.Fatal(err)
			}
			_ = os.Remove(missing)
			b := base
			stamp = WatchStamp(watch)
			if tc.edit != nil {
				tc.edit(&b)
			}
			if tc.touch != nil {
				tc.touch(t)
			}
			key, at := "k", now
			if tc.key != "" {
				key = tc.key
			}
			if !tc.at.IsZero() {
				at = tc.at
			}
			if got := b.InForce(key, at); got != tc.want {
				t.Errorf("InForce(%q, %v) = %v, want %v (%+v)", key, at, got, tc.want, b)
			}
		})
	}
}

func create(path string) func(*testing.T) {
	return func(t *testing.T) {
		if err := os.WriteFile(path, []byte(`{}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func remove(path string) func(*testing.T) {
	return func(t *testing.T) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

// rewrite replaces path's content; with age 0 its time of change moves
// forward as `aws sso login` moves it, with a size kept the same; with
// age -1 its time is kept and only the size tells.
func rewrite(path, content string, age time.Duration) func(*testing.T) {
	return func(t *testing.T) {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := st.ModTime().Add(time.Second)
		if age < 0 {
			mt = st.ModTime()
		}
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWatchStamp(t *testing.T) {
	dir := tmpdir.New(t)
	p := filepath.Join(dir, "f")
	if got := WatchStamp(""); got != "" {
		t.Errorf(`WatchStamp("") = %q`, got)
	}
	if got := WatchStamp(p); got != "" {
		t.Errorf("WatchStamp of a missing file = %q", got)
	}
	if err := os.WriteFile(p, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := WatchStamp(p)
	if a == "" {
		t.Fatal("WatchStamp of an existing file is empty")
	}
	if WatchStamp(p) != a {
		t.Error("WatchStamp of an unchanged file changes")
	}
}

func TestRefreshDue(t *testing.T) {
	until := time.Date(2026, 11, 29, 12, 14, 0, 0, time.UTC)
	for _, tc := range []struct {
		now   time.Time
		ahead time.Duration
		want  bool
	}{
		{until.Add(-5*time.Minute - time.Nanosecond), 5 * time.Minute, false},
		{until.Add(-5 * time.Minute), 5 * time.Minute, true},
		{until.Add(-time.Second), 5 * time.Minute, true},
		{until, 5 * time.Minute, true},
		{until.Add(time.Hour), 5 * time.Minute, true},
		{until.Add(-10 * time.Minute), 10 * time.Minute, true},
		{until.Add(-10*time.Minute - time.Second), 10 * time.Minute, false},
		{until.Add(-time.Second), time.Second, true},
		{until.Add(-2 * time.Second), time.Second, false},
		// 0 turns it off, whatever the time; a negative window is off too.
		{until, 0, false},
		{until.Add(time.Hour), 0, false},
		{until, -time.Minute, false},
	} {
		if got := RefreshDue(until, tc.now, tc.ahead); got != tc.want {
			t.Errorf("RefreshDue(%v, %v, %v) = %v, want %v", until, tc.now, tc.ahead, got, tc.want)
		}
	}
}

func TestCheckRefresh(t *testing.T) {
	for _, tc := range []struct {
		margin, ahead time.Duration
		wantFlag      string // "" when the pair is fine
	}{
		{DefaultMargin, DefaultRefreshAhead, ""},
		{0, 0, ""},
		{MaxMargin - time.Nanosecond, MaxRefreshAhead, ""},
		{-time.Nanosecond, 0, "--refresh-margin"},
		{MaxMargin, 0, "--refresh-margin"},
		{time.Hour, 0, "--refresh-margin"},
		{0, -time.Nanosecond, "--refresh-ahead"},
		{0, MaxRefreshAhead + time.Nanosecond, "--refresh-ahead"},
		{time.Minute, time.Hour, "--refresh-ahead"},
	} {
		got := CheckRefresh(tc.margin, tc.ahead)
		switch {
		case tc.wantFlag == "" && got != "":
			t.Errorf("CheckRefresh(%v, %v) = %q, want none", tc.margin, tc.ahead, got)
		case tc.wantFlag != "" && (len(got) < len(tc.wantFlag) || got[:len(tc.wantFlag)] != tc.wantFlag):
			t.Errorf("CheckRefresh(%v, %v) = %q, want a message about %s", tc.margin, tc.ahead, got, tc.wantFlag)
		}
	}
}

// The window in force is the one asked for, but never more than half of a
// new token's served life: with a wide margin, a token just signed is not
// already due.
func TestEffectiveAhead(t *testing.T) {
	for margin := time.Duration(0); margin < MaxMargin; margin += 30 * time.Second {
		for ahead := time.Duration(0); ahead <= MaxRefreshAhead; ahead += 30 * time.Second {
			got := EffectiveAhead(margin, ahead)
			life := 15*time.Minute - margin
			if got > ahead || got > life/2 || (got != ahead && got != life/2) {
				t.Fatalf("EffectiveAhead(%v, %v) = %v (served life %v)", margin, ahead, got, life)
			}
			signed := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
			if ahead > 0 && RefreshDue(signed.Add(life), signed, got) {
				t.Fatalf("margin %v, ahead %v: a token is due for refresh as it is signed", margin, ahead)
			}
		}
	}
	if got := EffectiveAhead(DefaultMargin, DefaultRefreshAhead); got != DefaultRefreshAhead {
		t.Errorf("the defaults give %v, want %v", got, DefaultRefreshAhead)
	}
	if got := EffectiveAhead(11*time.Minute, 10*time.Minute); got != 2*time.Minute {
		t.Errorf("EffectiveAhead(11m, 10m) = %v, want 2m", got)
	}
}

func TestSSOLoginName(t *testing.T) {
	a, b := SSOLoginName("/h/.aws/sso/cache/a.json"), SSOLoginName("/h/.aws/sso/cache/b.json")
	if a == b || a != SSOLoginName("/h/.aws/sso/cache/a.json") {
		t.Errorf("SSOLoginName: %q, %q", a, b)
	}
	if !cache.IsEntryName(a) {
		t.Errorf("%q is not a name the cache store accepts", a)
	}
}

// Inert leaves printable text as it is, in any script, and shows
// everything a terminal would act on (escape sequences, C0 and C1 control
// characters, bytes that are not UTF-8) as Go quotes it.
func TestInert(t *testing.T) {
	hostile := []string{
		"\x1b[2J\x1b[Hclear screen",
		"\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07 clipboard",
		"\u009b31m C1 CSI",
		"carriage\rreturn",
		"bell\x07 and del\x7f",
		"tab\tnewline\n",
		"\xff\xfe\x9b not UTF-8",
	}
	for _, s := range hostile {
		got := Inert(s)
		if !utf8.ValidString(got) {
			t.Errorf("Inert(%q) = %q: not UTF-8", s, got)
		}
		for _, r := range got {
			if r < 0x20 || r >= 0x7f && r < 0xa0 {
				t.Errorf("Inert(%q) = %q: holds control character %U", s, got, r)
				break
			}
		}
	}
	for _, s := range []string{"", "aws sso login --profile 'dev team'", "café 日本語 ✓ \"quoted\" \\"} {
		if got := Inert(s); got != s {
			t.Errorf("Inert(%q) = %q, want it unchanged", s, got)
		}
	}
}
