//go:build unix

package logins

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
)

// credentialsEnd is when the one cached credential session of the sandbox
// ends, as ekstoken recorded it.
func (sb *sandbox) credentialsEnd(t *testing.T) time.Time {
	t.Helper()
	files := sb.cacheFiles(t, "credentials-")
	if len(files) != 1 {
		t.Fatalf("credential cache entries %v, want 1", files)
	}
	var e struct {
		Expires time.Time `json:"expires"`
	}
	readJSON(t, files[0], &e)
	if e.Expires.IsZero() {
		t.Fatalf("%s has no expiry", files[0])
	}
	return e.Expires
}

// refreshWindowed takes a cached token to where a hit starts a background
// refresh that must renew the credentials first: it signs a token (with
// the cached credentials, asking nobody) at end-20m, whose refresh is due
// from end-11m, and moves the clock to end-10m, when the credentials are
// no longer used (refresh margin 1m + refresh-ahead 5m + 5m before their
// end). It returns that token.
func refreshWindowed(t *testing.T, bin string, clk *fakeClock, env []string, end time.Time, args ...string) string {
	t.Helper()
	clk.set(t, end.Add(-20*time.Minute))
	stdout, stderr, code := runBin(t, bin, env, args...)
	if code != 0 {
		t.Fatalf("a token from the cached credentials at %v: exit %d: %s", clk.now, code, stderr)
	}
	tok := parseCredential(t, stdout).Status.Token
	clk.checkSignedAt(t, tok)
	clk.set(t, end.Add(-10*time.Minute))
	return tok
}

// checkHitServed requires a hit to have printed tok and exited 0.
func checkHitServed(t *testing.T, what, stdout, stderr string, code int, tok string) {
	t.Helper()
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", what, code, stderr)
	}
	if got := parseCredential(t, stdout).Status.Token; got != tok {
		t.Fatalf("%s printed another token than the cached one", what)
	}
}

// checkStatusBacksOff requires `ekstoken status` to show, on the token
// line of cluster, the backoff in force until until, for want of a person.
func checkStatusBacksOff(t *testing.T, bin string, env []string, cluster string, until time.Time) {
	t.Helper()
	stdout, stderr, code := runBin(t, bin, env, "status")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr)
	}
	var line string
	for l := range strings.SplitSeq(stdout, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "token" && f[1] == cluster {
			line = l
		}
	}
	// status shows local times; the binary's zone is the system's.
	wants := []string{
		"backing off until " + until.Local().Format(time.TimeOnly) + ": needs a person",
		"backing off until " + until.UTC().Format(time.TimeOnly) + ": needs a person",
	}
	if !strings.Contains(line, wants[0]) && !strings.Contains(line, wants[1]) {
		t.Errorf("status line of the token of %s is %q, want %q; status:\n%s", cluster, line, wants[0], stdout)
	}
}

// A background refresh that would need a person to renew the credentials
// behind a token (an MFA code, an SSO login) asks nobody: the hit that
// starts it prints the cached token and exits 0; the refresh prompts for
// nothing, runs no `aws sso login`, calls nothing it cannot use, and
// records a backoff that needs a person, which status shows; while it
// holds, further hits start no refresh.
func TestBackgroundNeverAsksAPerson(t *testing.T) {
	bin := fakeBin(t)
	t.Run("mfa", func(t *testing.T) { testBackgroundMFA(t, bin) })
	t.Run("sso", func(t *testing.T) { testBackgroundSSO(t, bin) })
}

func testBackgroundMFA(t *testing.T, bin string) {
	sts := startSTS(t)
	sb, env := mfaSandbox(t, sts)
	t0 := time.Now().UTC().Truncate(time.Second)
	clk := newFakeClock(t, sb, t0)
	env = harness.With(env, clk.env(), "KUBERNETES_EXEC_INFO="+batchInfo)
	args := tokenArgs("alpha")

	// A person types the code once; the role session is cached.
	stdout, _ := runBinOnTerminal(t, bin, harness.With(env, "KUBERNETES_EXEC_INFO="+interactiveInfo),
		"MFA code for "+mfaSerial+": ", "123456\n", args...)
	clk.checkSignedAt(t, parseCredential(t, stdout).Status.Token)
	role := onlyRole(t)
	tok := refreshWindowed(t, bin, clk, env, sb.credentialsEnd(t), args...)
	if got := sts.Actions(); len(got) != 1 {
		t.Fatalf("STS calls %v before the refresh window, want the one AssumeRole", got)
	}

	// The hit, with --debug: the refresh it starts logs to the cache's
	// background.log, where a prompt would show.
	tok = signsWithCachedThenFails(t, bin, sb, clk, env, tok, args...)
	checkSignedWith(t, tok, role.identity())
	if got := sts.Actions(); len(got) != 1 {
		t.Fatalf("STS calls %v, want the one AssumeRole: the refresh signs with the cached session", got)
	}

	log := readFileString(t, filepath.Join(sb.cacheDir, "background.log"))
	if !strings.Contains(log, "background refresh failed") {
		t.Fatalf("the background refresh did not run, or did not fail, by its log:\n%s", log)
	}
	if strings.Contains(log, "MFA code for") {
		t.Errorf("the background refresh prompted for an MFA code:\n%s", log)
	}
	if got := sts.Actions(); len(got) != 1 {
		t.Errorf("STS calls %v, want only the person's AssumeRole: without a code there is nothing to ask", got)
	}
	bo := sb.onlyBackoff(t)
	if !bo.NeedsPerson || bo.Failures != 1 || !bo.Since.Equal(clk.now) || !strings.Contains(bo.Message, "MFA") {
		t.Errorf("backoff record %+v, want 1 failure that needs a person, since %v, saying MFA", bo, clk.now)
	}
	checkStatusBacksOff(t, bin, env, "alpha", bo.Until)
	checkFurtherHits(t, bin, sb, clk, env, bo, tok, args...)
	if got := sts.Actions(); len(got) != 1 {
		t.Errorf("STS calls %v, want only the person's AssumeRole", got)
	}
}

// signsWithCachedThenFails starts, with a hit, the refresh of tok, due
// while renewing the credentials needs a person: the credentials still
// give a token the life they always gave, so the refresh signs with them,
// asking nobody and backing off nothing. It then moves the clock to 5
// minutes before the credentials end, where no token can be had without a
// person, and starts the next refresh with a hit, which must fail. It
// returns the token that hit printed.
func signsWithCachedThenFails(t *testing.T, bin string, sb *sandbox, clk *fakeClock, env []string, tok string, args ...string) string {
	t.Helper()
	stdout, stderr, code := runBin(t, bin, env, append(args, "--debug")...)
	checkHitServed(t, "the hit that starts the refresh", stdout, stderr, code, tok)
	sb.WaitBackground(t)
	if bs := sb.backoffs(t); len(bs) != 0 {
		t.Fatalf("backoff records %+v after a refresh that could sign with the cached credentials", bs)
	}
	stdout, stderr, code = runBin(t, bin, env, args...)
	if code != 0 {
		t.Fatalf("the hit after the refresh: exit %d: %s", code, stderr)
	}
	tok = parseCredential(t, stdout).Status.Token
	clk.checkSignedAt(t, tok)

	clk.set(t, sb.credentialsEnd(t).Add(-5*time.Minute))
	stdout, stderr, code = runBin(t, bin, env, append(args, "--debug")...)
	checkHitServed(t, "the hit that starts the second refresh", stdout, stderr, code, tok)
	sb.WaitBackground(t)
	return tok
}

// checkFurtherHits checks that hits while the backoff bo holds start no
// refresh, and that the first hit after it does, which fails again and
// backs off longer.
func checkFurtherHits(t *testing.T, bin string, sb *sandbox, clk *fakeClock, env []string, bo backoffRecord, tok string, args ...string) {
	t.Helper()
	clk.set(t, bo.Until.Add(-time.Second))
	stdout, code, started := sb.tracedHit(t, bin, env, args...)
	checkHitServed(t, "a hit in the backoff", stdout, "", code, tok)
	if started > 0 {
		t.Errorf("a hit in the backoff started %d background refreshes, want 0", started)
	}
	clk.set(t, bo.Until)
	stdout, code, started = sb.tracedHit(t, bin, env, args...)
	checkHitServed(t, "a hit after the backoff", stdout, "", code, tok)
	if started >= 0 && started != 1 {
		t.Errorf("the first hit after the backoff started %d background refreshes, want 1", started)
	}
	next := sb.onlyBackoff(t)
	if !next.NeedsPerson || next.Failures != 2 || !next.Until.After(bo.Until) {
		t.Errorf("after the second failed refresh the backoff is %+v, want 2 failures until after %v", next, bo.Until)
	}
}

func testBackgroundSSO(t *testing.T, bin string) {
	s := newSSO(t, false)
	// The SSO login ends in an hour: the role credentials end with it.
	s.writeToken(t, "fresh-access-token", time.Now().Add(time.Hour))
	awsRuns := s.fakeAWS(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	clk := newFakeClock(t, s.sb, t0)
	env := harness.With(s.env, clk.env(), "KUBERNETES_EXEC_INFO="+batchInfo)
	// --sso-login runs `aws sso login` when a person is there: the
	// background refresh must not run it anyway.
	args := tokenArgs("alpha", "--sso-login")
	portal := func() int { return len(s.portal.requests()) }

	stdout, stderr, code := runBin(t, bin, env, args...)
	if code != 0 {
		t.Fatalf("first token: exit %d: %s", code, stderr)
	}
	clk.checkSignedAt(t, parseCredential(t, stdout).Status.Token)
	tok := refreshWindowed(t, bin, clk, env, s.sb.credentialsEnd(t), args...)
	if n := portal(); n != 1 {
		t.Fatalf("the portal got %d requests before the refresh window, want 1", n)
	}

	// The SSO session has expired (the SDK reads the token file's
	// expiry against the real clock, so the file says so).
	s.writeToken(t, "fresh-access-token", time.Now().Add(-time.Minute))
	tok = signsWithCachedThenFails(t, bin, s.sb, clk, env, tok, args...)
	checkSignedWith(t, tok, s.creds.identity())

	if n := countLines(t, awsRuns); n != 0 {
		t.Errorf("the background refresh ran aws %d times, want never", n)
	}
	if n := portal(); n != 1 {
		t.Errorf("the portal got %d requests, want 1: an expired session has nothing to ask it", n)
	}
	bo := s.sb.onlyBackoff(t)
	if !bo.NeedsPerson || bo.Failures != 1 || !bo.Since.Equal(clk.now) || bo.WatchFile != s.tokenFile ||
		!strings.Contains(bo.Message, "aws sso login --profile "+ssoProfile) {
		t.Errorf("backoff record %+v, want 1 failure that needs a person, since %v, watching %s, saying aws sso login", bo, clk.now, s.tokenFile)
	}
	checkStatusBacksOff(t, bin, env, "alpha", bo.Until)
	checkFurtherHits(t, bin, s.sb, clk, env, bo, tok, args...)

	// The person logs in, within the backoff: the next hit starts the
	// refresh at once, which renews the credentials and signs.
	bo = s.sb.onlyBackoff(t)
	clk.set(t, bo.Since.Add(time.Second))
	s.writeToken(t, "fresh-access-token", time.Now().Add(2*time.Hour))
	stdout, code, started := s.sb.tracedHit(t, bin, env, args...)
	checkHitServed(t, "the hit after aws sso login", stdout, "", code, tok)
	if started >= 0 && started != 1 {
		t.Errorf("the hit after aws sso login started %d background refreshes, want 1", started)
	}
	if n := portal(); n != 2 {
		t.Errorf("the portal got %d requests, want 2: the refresh after the login renews the role credentials", n)
	}
	if bs := s.sb.backoffs(t); len(bs) != 0 {
		t.Errorf("backoff records after a successful refresh: %+v", bs)
	}
	stdout, stderr, code = runBin(t, bin, env, args...)
	if code != 0 {
		t.Fatalf("after the refresh: exit %d: %s", code, stderr)
	}
	renewed := parseCredential(t, stdout).Status.Token
	if renewed == tok {
		t.Fatal("after the refresh the hit still printed the old token")
	}
	clk.checkSignedAt(t, renewed)
	checkSignedWith(t, renewed, s.creds.identity())
	if n := countLines(t, awsRuns); n != 0 {
		t.Errorf("aws ran %d times, want never: no run had a person", n)
	}
}
