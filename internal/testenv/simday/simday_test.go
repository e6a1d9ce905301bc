package simday

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ekstoken/ekstoken/internal/testenv"
)

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		var out []time.Duration
		for _, x := range xs {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	for _, tt := range []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(3, 1, 2), 50, 2 * time.Millisecond},
		{"median of even is the lower", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		// 1 slow call in 101 is above the 99th percentile's rank (100)...
		{"p99 misses 1 in 101", append(ms(hundred...), time.Second), 99, 100 * time.Millisecond},
		// ...and 2 in 100 are not.
		{"p99 sees 2 in 100", append(ms(hundred[2:]...), time.Second, time.Second), 99, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.ds, tt.p, got, tt.want)
			}
		})
	}
}

func TestClockRoundTrip(t *testing.T) {
	c := Clock{Path: filepath.Join(t.TempDir(), "now")}
	for _, want := range []time.Time{
		time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 29, 9, 0, 10, 123456789, time.UTC),
		time.Date(2030, 1, 1, 0, 0, 0, 1, time.FixedZone("CET", 3600)),
	} {
		if err := c.Set(want); err != nil {
			t.Fatal(err)
		}
		got, err := c.Now()
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Errorf("Now after Set(%v) = %v", want, got)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(c.Path), ".*tmp")); len(m) != 0 {
		t.Errorf("Set left temp files: %v", m)
	}
}

// The proxy rewrites an AssumeRole answer's expiry to the fake time plus
// the duration asked (or an hour), counts the sessions, and passes every
// other answer through untouched.
func TestSTSFollowsTheClock(t *testing.T) {
	const answer = `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAX</AccessKeyId>` +
		`<Expiration>2001-01-01T00:00:00.123456Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>`
	const other = `<GetCallerIdentityResponse><Expiration>untouched</Expiration></GetCallerIdentityResponse>`
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("Action") == "AssumeRole" {
			_, _ = w.Write([]byte(answer))
			return
		}
		_, _ = w.Write([]byte(other))
	}))
	defer upstream.Close()
	clock := Clock{Path: filepath.Join(t.TempDir(), "now")}
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := clock.Set(now); err != nil {
		t.Fatal(err)
	}
	sts, err := StartSTS(upstream.URL, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer sts.Close()

	post := func(form url.Values) string {
		t.Helper()
		resp, err := http.PostForm(sts.URL, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%v: %s: %s", form, resp.Status, b)
		}
		return string(b)
	}
	exp := func(d time.Duration) string {
		return "<Expiration>" + now.Add(d).Format(time.RFC3339) + "</Expiration>"
	}
	got := []string{
		post(url.Values{"Action": {"AssumeRole"}}),
		post(url.Values{"Action": {"AssumeRole"}, "DurationSeconds": {"900"}}),
		post(url.Values{"Action": {"GetCallerIdentity"}}),
	}
	want := []string{
		strings.Replace(answer, "<Expiration>2001-01-01T00:00:00.123456Z</Expiration>", exp(time.Hour), 1),
		strings.Replace(answer, "<Expiration>2001-01-01T00:00:00.123456Z</Expiration>", exp(15*time.Minute), 1),
		other,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if n := sts.AssumeRoleCalls(); n != 2 {
		t.Errorf("AssumeRoleCalls = %d, want 2", n)
	}
	if err := sts.Err(); err != nil {
		t.Error(err)
	}
}

// fakePlugin is a shell script standing in for ekstoken: it answers from
// the cache entry when there is one; its 3rd, 6th... run also starts a
// background refresh that holds the entry's lock (flock(1), handed from
// the script to its child as ekstoken hands it) while it takes a while,
// then writes a new token; its 5th run signs a new token in the
// foreground, a miss although the entry is there. It logs the fake time it
// sees.
const fakePlugin = `
set -eu
entry="$CACHE/token-0123456789abcdef.json"
n=$(( $(cat "$CACHE/../count" 2>/dev/null || echo 0) + 1 ))
echo $n > "$CACHE/../count"
cat "$EKSTOKEN_FAKE_NOW_FILE" >> "$CACHE/../seen"; echo >> "$CACHE/../seen"
write() { printf '{"token":"%s"}' "$1" > "$entry.tmp"; mv "$entry.tmp" "$entry"; }
if [ ! -f "$entry" ] || [ $n = 5 ]; then write "tok-$n"; fi
if [ $(( n % 3 )) = 0 ]; then
	exec 9> "$CACHE/token-0123456789abcdef.lock"
	flock 9
	( sleep 0.3; write "tok-$n-bg" ) &
fi
tok=$(sed 's/.*"token":"\([^"]*\)".*/\1/' "$entry")
printf '{"kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}\n' "$tok"
`

// Run tells hits from misses by the entry the call found, waits for a
// background refresh that holds the lock before it moves the clock, sees
// what it wrote, and moves the binary's clock step by step.
func TestRunTellsHitsMissesAndRenewals(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the fake plugin locks with flock(1), from util-linux")
	}
	testenv.RequireTool(t, "flock")
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "plugin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+fakePlugin), 0o700); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var ticks []time.Time
	res, err := Run(t.Context(), Options{
		Bin: bin, Env: []string{"PATH=" + os.Getenv("PATH"), "CACHE=" + cache, ClockEnv + "=/elsewhere"},
		CacheDir: cache, Clock: Clock{Path: filepath.Join(dir, "now")},
		Start: start, Step: 10 * time.Second, Duration: 65 * time.Second,
		Tick: func(now time.Time) error { ticks = append(ticks, now); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	for i := range 7 {
		at = append(at, start.Add(time.Duration(i)*10*time.Second))
	}
	type call struct {
		At           time.Time
		Hit, Renewed bool
	}
	var got []call
	for _, c := range res.Calls {
		got = append(got, call{c.At, c.Hit, c.Renewed})
	}
	want := []call{
		{at[0], false, false}, // no entry yet
		{at[1], true, false},
		{at[2], true, true}, // started a refresh
		{at[3], true, false},
		{at[4], false, false}, // signed anew in the foreground
		{at[5], true, true},
		{at[6], true, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(at, ticks); diff != "" {
		t.Errorf("Tick times (-want +got):\n%s", diff)
	}
	seen, err := os.ReadFile(filepath.Join(dir, "seen"))
	if err != nil {
		t.Fatal(err)
	}
	var wantSeen string
	for _, a := range at {
		wantSeen += a.Format(time.RFC3339Nano) + "\n"
	}
	if diff := cmp.Diff(wantSeen, string(seen)); diff != "" {
		t.Errorf("fake times the plugin read (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 4}, res.Misses()); diff != "" {
		t.Errorf("Misses (-want +got):\n%s", diff)
	}
	for _, i := range []int{2, 5} {
		if s := res.Calls[i].Settle; s < 200*time.Millisecond {
			t.Errorf("call %d settled in %v, before its background refresh could end", i, s)
		}
	}
	if s := res.Summary(); s.Calls != 7 || s.Misses != 2 || s.Renewals != 2 || s.P50 <= 0 || s.P99 < s.P50 || s.Max < s.P99 {
		t.Errorf("Summary = %+v", s)
	}
}

// A call that fails, or prints no ExecCredential, stops the run and says
// so; so does a background refresh that never lets go of its lock.
func TestRunStops(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the fakes are shell scripts and lock with flock(1)")
	}
	testenv.RequireTool(t, "flock")
	for _, tt := range []struct {
		name, script, want string
	}{
		{"exit 1", "echo 'ekstoken: no credentials' >&2; exit 1", "no credentials"},
		{"no credential", "echo hello", "no ExecCredential"},
		{"stuck refresh", `exec 9> "$CACHE/token-0123456789abcdef.lock"; flock 9; sleep 10 & echo $! > "$CACHE/stuck.pid"; ` +
			`printf '{"status":{"token":"t","expirationTimestamp":"2999-01-01T00:00:00Z"}}'`, "still locked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "plugin")
			if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+tt.script+"\n"), 0o700); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { killPidFile(t, filepath.Join(dir, "stuck.pid")) })
			res, err := Run(t.Context(), Options{
				Bin: bin, Env: []string{"PATH=" + os.Getenv("PATH"), "CACHE=" + dir}, CacheDir: dir,
				Clock: Clock{Path: filepath.Join(dir, "now")}, Start: time.Now(), Step: time.Second, Duration: time.Minute,
				Settle: 300 * time.Millisecond, CallTimeout: 5 * time.Second,
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error saying %q", err, tt.want)
			}
			if len(res.Calls) != 0 {
				t.Errorf("%d calls recorded before the first failed", len(res.Calls))
			}
		})
	}
}

// killPidFile ends the process whose pid the file holds, if there is one.
func killPidFile(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
		_, _ = p.Wait()
	}
}
