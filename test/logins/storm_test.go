//go:build unix

package logins

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
)

// stormCalls is how many kubectl runs each storm makes at once, and then
// again one after another.
const stormCalls = 500

// callResult is one run of a storm and how long it took.
type callResult struct {
	harness.Result
	took time.Duration
}

// storm runs the token command n times with env, all at once when
// parallel, else one after another. Half the runs say, as kubectl does,
// that they have no terminal (KUBERNETES_EXEC_INFO with interactive
// false); the other half say nothing and have /dev/null on stdin, as a
// script or an IDE's plugin call would.
func storm(t *testing.T, bin string, env []string, n int, parallel bool, args ...string) []callResult {
	t.Helper()
	runs := [2]func() harness.Result{
		harness.Proc{Env: harness.With(env, "KUBERNETES_EXEC_INFO="+batchInfo)}.Prepare(t, bin, args...),
		harness.Proc{Env: harness.Without(env, "KUBERNETES_EXEC_INFO")}.Prepare(t, bin, args...),
	}
	out := make([]callResult, n)
	one := func(i int) {
		start := time.Now()
		r := runs[i%2]()
		out[i] = callResult{r, time.Since(start)}
	}
	if !parallel {
		for i := range n {
			one(i)
		}
		return out
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { one(i) })
	}
	wg.Wait()
	return out
}

// checkFailFast requires every run to have exited non-zero, printed
// nothing on stdout (kubectl's), and said on stderr what the person must
// type; it returns the slowest run's time.
func checkFailFast(t *testing.T, what string, results []callResult, want string) time.Duration {
	t.Helper()
	var slowest time.Duration
	var bad []string
	for i, r := range results {
		slowest = max(slowest, r.took)
		var why string
		switch {
		case r.Code() <= 0:
			why = fmt.Sprintf("exit %d (%v)", r.Code(), r.Err)
		case r.Stdout != "":
			why = fmt.Sprintf("stdout %q", r.Stdout)
		case !strings.Contains(r.Stderr, want):
			why = "stderr lacks " + want
		default:
			continue
		}
		bad = append(bad, fmt.Sprintf("run %d: %s; stderr: %s", i, why, r.Stderr))
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d of %d runs did not fail fast with the message; the first: %s", what, len(bad), len(results), bad[0])
	}
	return slowest
}

// An SSO session the portal no longer accepts, and kubectl without a
// terminal calling in a storm (a night of idle k9s, an IDE polling): every
// call fails at once with the command that fixes it, but the portal is
// asked at most once per backoff window, the windows grow, and `aws sso
// login` ends the backoff at once.
//
// The portal's requests are counted here, outside ekstoken: each is one
// attempt to resolve credentials. The binary reads a fake clock, so the
// windows pass without sleeping through them.
func TestSSOStormBacksOff(t *testing.T) {
	bin := fakeBin(t)
	s := newSSO(t, false)
	// The local token file says the session is valid; the portal refuses
	// it (it expired there, or was revoked): every resolution is a request.
	s.writeToken(t, "revoked-access-token", time.Now().Add(8*time.Hour))
	// A portal a network away: while the first run waits for its answer,
	// the others pile up on the identity's lock.
	s.delay.Store(int64(300 * time.Millisecond))
	t0 := time.Now().UTC().Truncate(time.Second)
	clk := newFakeClock(t, s.sb, t0)
	env := harness.With(s.env, clk.env())
	args := tokenArgs("alpha")
	want := "aws sso login --profile " + ssoProfile
	attempts := func() int { return len(s.portal.requests()) }

	start := time.Now()
	slowest := checkFailFast(t, "parallel storm", storm(t, bin, env, stormCalls, true, args...), want)
	t.Logf("%d runs at once: %v in all, the slowest %v", stormCalls, time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond))
	if n := attempts(); n != 1 {
		t.Fatalf("%d runs at once asked the SSO portal %d times, want 1 (one resolution, then the backoff)", stormCalls, n)
	}
	bo := s.sb.onlyBackoff(t)
	if !bo.NeedsPerson || bo.Failures != 1 || !bo.Since.Equal(t0) || !strings.Contains(bo.Message, want) {
		t.Errorf("backoff record %+v, want needsPerson, 1 failure since %v, the message", bo, t0)
	}
	window := bo.Until.Sub(bo.Since)
	if window <= 0 {
		t.Fatalf("backoff window %v", window)
	}

	start = time.Now()
	slowest = checkFailFast(t, "burst", storm(t, bin, env, stormCalls, false, args...), want)
	t.Logf("%d runs one after another: %v in all, the slowest %v", stormCalls, time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond))
	if n := attempts(); n != 1 {
		t.Fatalf("after a burst of %d runs the SSO portal was asked %d times, want still 1", stormCalls, n)
	}
	if slowest > 5*time.Second {
		t.Errorf("a run in the backoff took %v: it must fail at once", slowest)
	}

	// Window after window: up to its last second, nothing is tried; when
	// it ends, one run tries again, and the next window is longer.
	const few = 20
	end := t0
	for i := 2; i <= 3; i++ {
		end = end.Add(window)
		clk.set(t, end.Add(-time.Second))
		checkFailFast(t, fmt.Sprintf("window %d, last second", i-1), storm(t, bin, env, few, true, args...), want)
		if n := attempts(); n != i-1 {
			t.Fatalf("in the last second of backoff window %d (%v) the portal was asked %d times in all, want %d", i-1, window, n, i-1)
		}
		clk.set(t, end)
		checkFailFast(t, fmt.Sprintf("window %d over", i-1), storm(t, bin, env, few, true, args...), want)
		if n := attempts(); n != i {
			t.Fatalf("once backoff window %d (%v) was over, %d runs asked the portal %d times in all, want %d (exactly one more)", i-1, window, few, n, i)
		}
		next := s.sb.onlyBackoff(t)
		if next.Failures != i || next.Until.Sub(next.Since) <= window {
			t.Errorf("after failure %d the backoff is %+v, want %d failures and a window longer than %v", i, next, i, window)
		}
		window = next.Until.Sub(next.Since)
	}

	// `aws sso login` rewrites the token file: the next run tries at once,
	// within the window, and succeeds.
	clk.set(t, end.Add(time.Second))
	s.writeToken(t, "fresh-access-token", time.Now().Add(8*time.Hour))
	stdout, stderr, code := runBin(t, bin, harness.With(env, "KUBERNETES_EXEC_INFO="+batchInfo), args...)
	if code != 0 {
		t.Fatalf("after aws sso login, within the backoff window: exit %d: %s", code, stderr)
	}
	c := parseCredential(t, stdout)
	checkSigned(t, "alpha", c.Status.Token, s.creds.identity())
	clk.checkSignedAt(t, c.Status.Token)
	if n := attempts(); n != 4 {
		t.Errorf("after aws sso login the portal was asked %d times in all, want 4 (one more)", n)
	}
	if bs := s.sb.backoffs(t); len(bs) != 0 {
		t.Errorf("backoff records after a success: %+v, want none", bs)
	}
	// And the storm is over: the token is served from the cache.
	for _, r := range storm(t, bin, env, few, true, args...) {
		if r.Code() != 0 {
			t.Fatalf("after the login, a run got exit %d: %s", r.Code(), r.Stderr)
		}
		if got := parseCredential(t, r.Stdout); got.Status.Token != c.Status.Token {
			t.Fatal("after the login, a run got another token than the cached one")
		}
	}
	if n := attempts(); n != 4 {
		t.Errorf("cache hits asked the portal: %d requests in all, want 4", n)
	}
}

// Many kubectl runs with a terminal and --sso-login find the SSO session
// expired at once, for three clusters of the same profile: one `aws sso
// login` runs, the others wait for it, and every run gets its token.
func TestSSOLoginOncePerSession(t *testing.T) {
	for _, kind := range ssoKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := newSSO(t, kind.legacy)
			s.writeToken(t, "stale-access-token", time.Now().Add(-time.Hour))
			// A login takes a person a while: the fake sleeps, then
			// writes the token file whole, as `aws sso login` leaves it.
			log := filepath.Join(s.sb.home, "aws-calls")
			s.sb.script(t, "aws", "echo \"$*\" >> '"+log+"'\nsleep 1\nmkdir -p '"+filepath.Dir(s.tokenFile)+"'\ncat > '"+s.tokenFile+".tmp' <<'EOF'\n"+
				ssoTokenJSON(t, "fresh-access-token", time.Now().Add(8*time.Hour))+"\nEOF\nmv '"+s.tokenFile+".tmp' '"+s.tokenFile+"'\n")
			env := harness.With(s.env, "KUBERNETES_EXEC_INFO="+interactiveInfo)

			const n = 9
			clusters := []string{"alpha", "beta", "gamma"}
			var runs [3]func() harness.Result
			for i, c := range clusters {
				runs[i] = harness.Proc{Env: env}.Prepare(t, suite.Bin, tokenArgs(c, "--sso-login")...)
			}
			results := make([]harness.Result, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { results[i] = runs[i%len(runs)]() })
			}
			wg.Wait()

			for i, r := range results {
				if r.Code() != 0 {
					t.Errorf("run %d (%s): exit %d: %s", i, clusters[i%len(runs)], r.Code(), r.Stderr)
					continue
				}
				c := parseCredential(t, r.Stdout)
				checkSigned(t, clusters[i%len(runs)], c.Status.Token, s.creds.identity())
			}
			if got := readFileString(t, log); got != "sso login --profile "+ssoProfile+"\n" {
				t.Errorf("aws ran %d times (%q) for %d runs at once, want `aws sso login --profile %s` once", countLines(t, log), got, n, ssoProfile)
			}
			if m := len(s.portal.requests()); m != 1 {
				t.Errorf("the SSO portal got %d requests, want 1: every cluster of the profile shares the role credentials", m)
			}
		})
	}
}
