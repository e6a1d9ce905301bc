package refresh

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/gettoken"
	"github.com/ekstoken/ekstoken/internal/testenv"
	"github.com/ekstoken/ekstoken/internal/testenv/sandbox"
	"github.com/ekstoken/ekstoken/internal/testenv/simday"
	"github.com/ekstoken/ekstoken/internal/token"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

const (
	region  = "eu-west-1"
	cluster = "prod"
	// step is how often kubectl (k9s, a watch) asks for a token.
	step = 10 * time.Second
	// workday is the simulated stretch with refresh-ahead on.
	workday = 8 * time.Hour
	// session is how long a role session lasts (AssumeRole's default, the
	// aws CLI's) and how long the credential_process's credentials do.
	session = time.Hour
	// slow is what one AssumeRole or credential_process run takes: granted,
	// aws-vault and 1Password take one to three seconds. A call that waits
	// for one takes at least this long.
	slow = time.Second
)

// servedLife is how long a token is served by default: its 15 minutes
// less the refresh margin.
const servedLife = token.Lifetime - tokencache.DefaultMargin

// login is one way of getting credentials, set up in a sandbox.
type login struct {
	name string
	// setup writes the profile and returns the environment of the calls,
	// the Tick the fakes follow the clock with (or nil), and the count of
	// credential resolutions (AssumeRole calls, process runs) so far.
	setup func(t *testing.T, sb *sandbox.Sandbox, clock simday.Clock) (env []string, tick func(time.Time) error, resolutions func() int)
}

var logins = []login{
	{name: "assumed role", setup: assumedRole},
	{name: "credential_process", setup: credentialProcess},
}

// assumedRole is a role_arn profile whose source_profile has static keys;
// STS is moto_server behind simday's proxy, which makes each AssumeRole
// take `slow` and end `session` after the fake time.
func assumedRole(t *testing.T, sb *sandbox.Sandbox, clock simday.Clock) ([]string, func(time.Time) error, func() int) {
	t.Helper()
	if suite.MotoURL == "" {
		testenv.RequireTool(t, "moto_server")
		t.Fatal("moto_server is on PATH but did not start")
	}
	sts, err := simday.StartSTS(suite.MotoURL, clock)
	if err != nil {
		t.Fatal(err)
	}
	sts.Delay = slow
	t.Cleanup(func() {
		sts.Close()
		if err := sts.Err(); err != nil {
			t.Errorf("STS proxy: %v", err)
		}
	})
	sb.WriteFile(t, ".aws/credentials", "[base]\naws_access_key_id = AKIAIOSFODNN7BASEKEY\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYBASEKEY\n", 0o600)
	sb.WriteFile(t, ".aws/config", "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/eks-admin\nsource_profile = base\nregion = "+region+"\n", 0o600)
	return sb.Env("AWS_PROFILE=admin", "AWS_ENDPOINT_URL_STS="+sts.URL), nil, sts.AssumeRoleCalls
}

// credentialProcess is a profile whose credential_process takes `slow` and
// gives credentials that end `session` after the fake time.
func credentialProcess(t *testing.T, sb *sandbox.Sandbox, _ simday.Clock) ([]string, func(time.Time) error, func() int) {
	t.Helper()
	p, err := simday.WriteProcess(sb.Bin, slow, session)
	if err != nil {
		t.Fatal(err)
	}
	sb.WriteFile(t, ".aws/config", "[profile proc]\ncredential_process = "+p.Command+"\nregion = "+region+"\n", 0o600)
	runs := func() int {
		n, err := p.Runs()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return sb.Env("AWS_PROFILE=proc"), p.Tick, runs
}

// simulate runs `ekstoken token` every step for d of simulated time,
// starting now, with extra flags, and returns what each call did with the
// count of credential resolutions.
func simulate(t *testing.T, l login, d time.Duration, flags ...string) (simday.Result, int) {
	t.Helper()
	sb := sandbox.New(t, sandbox.Options{})
	clock := simday.Clock{Path: filepath.Join(sb.Home, "fake-now")}
	// The simulated day starts now, so that it never runs behind the real
	// clock, which the AWS SDK still reads for its own checks.
	start := time.Now().UTC().Truncate(time.Second)
	if err := clock.Set(start); err != nil {
		t.Fatal(err)
	}
	env, tick, resolutions := l.setup(t, sb, clock)
	if err := sandbox.CheckEnv(env); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res, err := simday.Run(t.Context(), simday.Options{
		Bin: suite.Bin, Args: append([]string{"token", "--cluster-name", cluster, "--region", region}, flags...),
		Env: env, CacheDir: sb.CacheDir, Clock: clock,
		Start: start, Step: step, Duration: d, Tick: tick,
	})
	if err != nil {
		t.Fatalf("after %d calls: %v", len(res.Calls), err)
	}
	s := res.Summary()
	t.Logf("%s of calls every %v %v in %v: %d calls, %d foreground misses, %d background renewals, %d resolutions, p50 %v, p99 %v, max %v",
		d, step, flags, time.Since(began).Round(time.Millisecond), s.Calls, s.Misses, s.Renewals, resolutions(), s.P50, s.P99, s.Max)
	if exp := res.Expired(); len(exp) > 0 {
		t.Errorf("%d calls printed a token already expired at their simulated time, first at %s: %s",
			len(exp), res.Calls[exp[0]].At.Format(time.RFC3339), describe(res, exp))
	}
	return res, resolutions()
}

// describe names calls by their simulated offset from the first.
func describe(res simday.Result, idx []int) string {
	var parts []string
	for _, i := range idx[:min(len(idx), 12)] {
		c := res.Calls[i]
		parts = append(parts, fmt.Sprintf("#%d at +%v (%v)", i, c.At.Sub(res.Calls[0].At), c.Latency.Round(time.Millisecond)))
	}
	if len(idx) > 12 {
		parts = append(parts, fmt.Sprintf("and %d more", len(idx)-12))
	}
	return strings.Join(parts, ", ")
}

// sessionsBounds is how many credential resolutions d of steady use may
// take with refresh-ahead ahead: at least one per session (fewer would
// have signed with ended credentials), and at most one per the shortest
// stretch a session serves, which ends when cached credentials stop being
// used (gettoken.CredentialsServedUntil, which counts the refresh-ahead
// window in).
func sessionsBounds(d, ahead time.Duration) (lo, hi int) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	shortest := gettoken.CredentialsServedUntil(issued.Add(session), tokencache.DefaultMargin, ahead).Sub(issued)
	return ceilDiv(d, session), ceilDiv(d, shortest)
}

func ceilDiv(a, b time.Duration) int { return int((a + b - 1) / b) }

// A working day of kubectl calls every 10 s with refresh-ahead at its
// default (the flag not given, as in most kubeconfigs): only the first
// call waits for credentials and a token; every later one is served from
// the cache, because background refreshes renew the token, and the
// credentials that sign it, before they are due. The credentials are
// resolved about once per session, not once per token.
func TestSimulatedDay(t *testing.T) {
	testenv.SkipIfShort(t, "simulates 8 hours of calls against the built binary")
	t.Parallel() // most of its time is spent waiting for the slow fakes
	for _, l := range logins {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			res, resolutions := simulate(t, l, workday)
			if misses := res.Misses(); !slices.Equal(misses, []int{0}) {
				t.Errorf("foreground misses at calls %s; want only the first", describe(res, misses))
			}
			// No latency bound: a call that printed the cached token
			// resolved nothing, whatever the machine's load made it take;
			// the latencies are the bench's (bench/simday.go).
			if lo, hi := sessionsBounds(workday, tokencache.DefaultRefreshAhead); resolutions < lo || resolutions > hi {
				t.Errorf("credentials resolved %d times in %v of %v sessions, want %d to %d", resolutions, workday, session, lo, hi)
			}
		})
	}
}

// slowCalls are the indexes, from index from on, of calls that took `slow`
// or more.
func slowCalls(res simday.Result, from int) []int {
	var out []int
	for i := from; i < len(res.Calls); i++ {
		if res.Calls[i].Latency >= slow {
			out = append(out, i)
		}
	}
	return out
}

// The same harness with refresh-ahead off sees what refresh-ahead removes:
// a foreground miss every time a token's served life ends, and a call that
// waits for the credentials when their session ends. Without this, a
// harness that saw no misses at all would pass TestSimulatedDay.
func TestWithoutRefreshAheadCallsWait(t *testing.T) {
	testenv.SkipIfShort(t, "simulates an hour of calls against the built binary")
	t.Parallel()
	// One session and a step: the credentials are renewed once, in the
	// foreground.
	stretch := session + step
	for _, l := range logins {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			res, resolutions := simulate(t, l, stretch, "--refresh-ahead", "0")
			misses := res.Misses()
			if want := ceilDiv(stretch, servedLife); len(misses) < want {
				t.Errorf("%d foreground misses in %v (%s), want at least %d: one per %v of served token life",
					len(misses), stretch, describe(res, misses), want, servedLife)
			}
			if res.Renewals() != 0 {
				t.Errorf("%d background renewals with --refresh-ahead 0", res.Renewals())
			}
			if waited := slowCalls(res, 1); len(waited) == 0 {
				t.Errorf("no call after the first waited %v for new credentials, though their session ended after %v", slow, session)
			}
			if resolutions != 2 {
				t.Errorf("credentials resolved %d times in %v, want 2 (the session's end renews them)", resolutions, stretch)
			}
		})
	}
}
