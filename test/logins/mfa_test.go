//go:build unix

package logins

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
)

const mfaSerial = "arn:aws:iam::" + account + ":mfa/alice"

func mfaSandbox(t *testing.T, sts *stsServer) (*sandbox, []string) {
	sb := newSandbox(t)
	sb.writeBaseCredentials(t)
	sb.writeConfig(t, "[profile mfa]\nrole_arn = "+roleARN("mfa-admin")+"\nsource_profile = base\nmfa_serial = "+mfaSerial+
		"\nregion = "+region+"\n")
	return sb, sb.env("AWS_PROFILE=mfa", "AWS_ENDPOINT_URL_STS="+sts.URL)
}

// Without a terminal an MFA profile cannot prompt: ekstoken fails at once,
// says how to give it one, and asks STS nothing.
func TestMFANonInteractive(t *testing.T) {
	sts := startSTS(t)
	for _, info := range []string{batchInfo, ""} {
		// A sandbox each: the first failure's backoff would answer the
		// second run with the first one's message.
		_, env := mfaSandbox(t, sts)
		if info != "" {
			env = append(env, "KUBERNETES_EXEC_INFO="+info)
		}
		start := time.Now()
		stderr := mustFail(t, env, tokenArgs("alpha")...) // stdin is /dev/null: no terminal
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("failing took %v; it must not wait for input", d)
		}
		// What happened, and the one command that logs in, with this
		// run's arguments (the region comes from the profile here).
		why := "kubectl had no terminal to lend"
		if info == "" {
			why = "stdin is not a terminal"
		}
		for _, want := range []string{"MFA", why, "in a terminal", "ekstoken token --cluster-name alpha --profile mfa"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q: %s", want, stderr)
			}
		}
		if strings.Contains(stderr, "AssumeRoleTokenProvider") || strings.Contains(stderr, "operation error") {
			t.Errorf("stderr holds SDK jargon: %s", stderr)
		}
		if strings.Contains(stderr, "MFA code for") {
			t.Errorf("prompted without a terminal: %s", stderr)
		}
	}
	if got := sts.Actions(); len(got) != 0 {
		t.Errorf("STS calls %v, want none", got)
	}
}

// With a terminal (kubectl's interactiveMode: IfAvailable) ekstoken asks
// for the code on the terminal, never on stdout, assumes the role with it,
// and keeps the session: the next cluster asks nothing.
func TestMFAPrompt(t *testing.T) {
	sts := startSTS(t)
	_, env := mfaSandbox(t, sts)
	env = append(env, "KUBERNETES_EXEC_INFO="+interactiveInfo)

	stdout, screen := runOnTerminal(t, env, "MFA code for "+mfaSerial+": ", "123456\n", tokenArgs("alpha")...)
	c := parseCredential(t, stdout) // all of stdout: the prompt is not there
	role := onlyRole(t)
	checkSigned(t, "alpha", c.Status.Token, role.identity())
	if strings.Count(screen, "MFA code for") != 1 {
		t.Errorf("terminal shows %q, want one prompt", screen)
	}
	calls := sts.Calls("AssumeRole")
	if len(calls) != 1 || calls[0].Get("SerialNumber") != mfaSerial || calls[0].Get("TokenCode") != "123456" {
		t.Fatalf("STS calls %v, want one AssumeRole with SerialNumber %s and TokenCode 123456", calls, mfaSerial)
	}

	// Another cluster, stdin closed: the cached role session signs.
	stdout2, stderr2, code := run(t, env, tokenArgs("beta")...)
	if code != 0 {
		t.Fatalf("second cluster: exit %d: %s", code, stderr2)
	}
	if strings.Contains(stderr2, "MFA") {
		t.Errorf("second cluster prompted again: %q", stderr2)
	}
	checkSigned(t, "beta", parseCredential(t, stdout2).Status.Token, role.identity())
	if n := len(motoRoles(t)); n != 1 {
		t.Errorf("%d AssumeRole calls for two clusters, want 1", n)
	}
}

// The role session a person started by typing the code in a terminal
// serves the runs that have no terminal (kubectl with interactiveMode
// Never, an IDE, a background refresh) until it ends, as the MFA error
// message promises: only a new session needs a code.
func TestMFASessionServesRunsWithoutTerminal(t *testing.T) {
	sts := startSTS(t)
	_, env := mfaSandbox(t, sts)
	stdout, _ := runOnTerminal(t, append(slices.Clone(env), "KUBERNETES_EXEC_INFO="+interactiveInfo),
		"MFA code for "+mfaSerial+": ", "123456\n", tokenArgs("alpha")...)
	role := onlyRole(t)
	checkSigned(t, "alpha", parseCredential(t, stdout).Status.Token, role.identity())

	for _, c := range []struct{ cluster, info string }{{"beta", batchInfo}, {"gamma", ""}} {
		env := slices.Clone(env)
		if c.info != "" {
			env = append(env, "KUBERNETES_EXEC_INFO="+c.info)
		}
		stdout, stderr, code := run(t, env, tokenArgs(c.cluster)...) // stdin is /dev/null
		if code != 0 {
			t.Fatalf("%s without a terminal, with the role session cached: exit %d: %s", c.cluster, code, stderr)
		}
		checkSigned(t, c.cluster, parseCredential(t, stdout).Status.Token, role.identity())
	}
	if got := sts.Actions(); len(got) != 1 {
		t.Errorf("STS calls %v, want the one AssumeRole the person typed the code for", got)
	}
}

// runOnTerminal runs ekstoken with stdin and stderr on a pseudo-terminal
// and stdout on a pipe, as kubectl does in interactive mode; it types
// input once prompt shows, and returns stdout and all the terminal showed.
func runOnTerminal(t *testing.T, env []string, prompt, input string, args ...string) (stdout, screen string) {
	t.Helper()
	return runBinOnTerminal(t, suite.Bin, env, prompt, input, args...)
}

// runBinOnTerminal is runOnTerminal with the binary bin.
func runBinOnTerminal(t *testing.T, bin string, env []string, prompt, input string, args ...string) (stdout, screen string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd, cancel := command(t, bin, env, args...)
	defer cancel()
	var out lockedBuffer // written by exec's copier while we watch it
	cmd.Stdin, cmd.Stderr, cmd.Stdout = tty, tty, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true} // the terminal is its controlling one
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child has it now

	var term lockedBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&term, ptmx) // ends with EIO when the child exits
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(term.String(), prompt) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no prompt %q on the terminal; it shows %q, stdout %q", prompt, term.String(), out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out.String() != "" {
		t.Errorf("stdout has %q before the code was typed", out.String())
	}
	if _, err := ptmx.Write([]byte(input)); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	if err != nil {
		t.Fatalf("ekstoken on a terminal: %v\nterminal: %s", err, term.String())
	}
	return out.String(), term.String()
}

// lockedBuffer is a bytes.Buffer for one writer and one reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// command prepares bin (ekstoken) to run with exactly env, which the harness's
// guard must accept.
func command(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, context.CancelFunc) {
	t.Helper()
	if err := harness.CheckEnv(env); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), harness.Timeout)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = slices.Clone(env)
	cmd.WaitDelay = time.Second
	return cmd, cancel
}
