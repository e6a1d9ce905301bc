//go:build unix

package logins

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
	"github.com/ekstoken/ekstoken/internal/testenv/simday"
)

// fakeBin is the binary with the fake-clock seam.
func fakeBin(t *testing.T) string {
	t.Helper()
	bin, err := fakeClockBin()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// fakeClock is the time every process of a sandbox reads (the binary from
// fakeBin, and the background refreshes it starts, which inherit its
// environment).
type fakeClock struct {
	path string
	now  time.Time
}

func newFakeClock(t *testing.T, sb *sandbox, start time.Time) *fakeClock {
	t.Helper()
	c := &fakeClock{path: filepath.Join(sb.home, "fake-now")}
	c.set(t, start)
	return c
}

// env is the variable that points a process at the clock.
func (c *fakeClock) env() string { return simday.ClockEnv + "=" + c.path }

// set moves the clock to now, replacing the file whole: a process that
// read it half-written would silently fall back to the real time.
func (c *fakeClock) set(t *testing.T, now time.Time) {
	t.Helper()
	if err := (simday.Clock{Path: c.path}).Set(now); err != nil {
		t.Fatal(err)
	}
	c.now = now.UTC()
}

// checkSignedAt requires tok to be signed at the fake time: the binary
// reads the fake clock, not the real one.
func (c *fakeClock) checkSignedAt(t *testing.T, tok string) {
	t.Helper()
	if got := decodeToken(t, tok).SignedAt; !got.Equal(c.now.Truncate(time.Second)) {
		t.Fatalf("token signed at %v, want the fake clock's %v: the binary does not read the fake clock", got, c.now)
	}
}

// checkSignedWith requires tok to be signed with the credentials of id. A
// token signed at a fake time in the future cannot be verified as STS
// would (checkSigned): its date is not current yet.
func checkSignedWith(t *testing.T, tok string, id fakeeks.Identity) {
	t.Helper()
	ti := decodeToken(t, tok)
	if ti.AccessKeyID != id.AccessKeyID || ti.Query.Get("X-Amz-Security-Token") != id.SessionToken {
		t.Errorf("token signed with key %s and session token %.20q..., want %s and %.20q...",
			ti.AccessKeyID, ti.Query.Get("X-Amz-Security-Token"), id.AccessKeyID, id.SessionToken)
	}
}

// runBin runs bin as run runs ekstoken: stdin on /dev/null.
func runBin(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	r := harness.Proc{Env: env}.MustExit(t, bin, args...)
	return r.Stdout, r.Stderr, r.Code()
}

// tracedHit runs bin under strace, following every process it starts, and
// returns its stdout, its exit code and how many background refreshes it
// started (execve of the token command with --background): a count that
// does not rely on anything ekstoken records. strace returns only once
// every traced process, the detached refresh included, has exited.
// Without strace (it is Linux's) started is -1: unknown.
func (sb *sandbox) tracedHit(t *testing.T, bin string, env []string, args ...string) (stdout string, code, started int) {
	t.Helper()
	if runtime.GOOS != "linux" {
		stdout, _, code = runBin(t, bin, env, args...)
		sb.WaitBackground(t)
		return stdout, code, -1
	}
	strace := testenv.RequireStrace(t)
	trace := filepath.Join(t.TempDir(), "trace")
	r := harness.Proc{Env: env}.MustExit(t, strace, append([]string{"-f", "-qq", "-e", "trace=execve", "-o", trace, bin}, args...)...)
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	execs := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, "execve(") && !strings.Contains(line, "= -1") {
			execs++
			if strings.Contains(line, `"--background"`) {
				started++
			}
		}
	}
	if execs == 0 {
		t.Fatalf("strace saw no execve at all: %s", b)
	}
	return r.Stdout, r.Code(), started
}

// backoffRecord is what ekstoken writes next to a token entry when a run
// without a person failed.
type backoffRecord struct {
	Failures    int       `json:"failures"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	Message     string    `json:"message"`
	NeedsPerson bool      `json:"needsPerson"`
	WatchFile   string    `json:"watchFile"`
}

// backoffs reads the sandbox's backoff records.
func (sb *sandbox) backoffs(t *testing.T) []backoffRecord {
	t.Helper()
	var out []backoffRecord
	for _, p := range sb.cacheFiles(t, "backoff-") {
		var r backoffRecord
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, r)
	}
	return out
}

// onlyBackoff requires exactly one backoff record and returns it.
func (sb *sandbox) onlyBackoff(t *testing.T) backoffRecord {
	t.Helper()
	bs := sb.backoffs(t)
	if len(bs) != 1 {
		t.Fatalf("%d backoff records in the cache, want 1: %+v", len(bs), bs)
	}
	return bs[0]
}
