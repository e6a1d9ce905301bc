package execwrap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/execcache"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

var (
	pluginOnce sync.Once
	pluginPath string
	pluginErr  error
)

// fakePlugin builds ./fakeplugin once per test binary.
func fakePlugin(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ekstoken-fakeplugin-")
		if err != nil {
			pluginErr = err
			return
		}
		pluginPath, pluginErr = devbin.BuildFakePlugin(dir)
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginPath != "" {
		_ = os.RemoveAll(filepath.Dir(pluginPath))
	}
	os.Exit(code)
}

type rig struct {
	t      *testing.T
	vars   map[string]string
	now    time.Time
	store  *cache.Store
	runs   string
	wait   cache.Wait
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func newRig(t *testing.T, api string) *rig {
	dir := t.TempDir()
	r := &rig{t: t, now: time.Now(), store: &cache.Store{Dir: filepath.Join(dir, "cache")}, runs: filepath.Join(dir, "runs")}
	r.vars = map[string]string{"FAKE_RUNS": r.runs, "PATH": os.Getenv("PATH")}
	if api != "" {
		r.vars[execcred.EnvVar] = `{"kind":"ExecCredential","apiVersion":"` + api + `","spec":{"interactive":false}}`
	}
	return r
}

func (r *rig) run(req execcache.Request) error {
	r.stdout.Reset()
	r.stderr.Reset()
	var environ []string
	for k, v := range r.vars {
		environ = append(environ, k+"="+v)
	}
	if req.Command == "" {
		req.Command = fakePlugin(r.t)
	}
	if req.Margin == 0 {
		req.Margin = execcache.DefaultMargin
	}
	return Run(context.Background(), Env{
		Now: func() time.Time { return r.now }, Getenv: func(k string) string { return r.vars[k] }, Environ: environ,
		Stdin: strings.NewReader(""), Stdout: &r.stdout, Stderr: &r.stderr,
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store: r.store, LockWait: r.wait,
	}, req)
}

func (r *rig) count() int {
	b, err := os.ReadFile(r.runs)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func (r *rig) entries() []string {
	names, err := r.store.Names()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		r.t.Fatal(err)
	}
	return names
}

func TestCachesUntilExpiryLessMargin(t *testing.T) {
	for _, api := range []string{execcred.V1, execcred.V1beta1} {
		t.Run(api, func(t *testing.T) {
			r := newRig(t, api)
			r.vars["FAKE_EXPIRY"] = "10m"
			if err := r.run(execcache.Request{}); err != nil {
				t.Fatal(err)
			}
			first := r.stdout.String()
			st, err := Parse([]byte(first), execcred.ReadInfo(func(k string) string { return r.vars[k] }))
			if err != nil || !strings.Contains(st.Token, "run1") {
				t.Fatalf("first answer %q: %v", first, err)
			}
			for range 3 {
				if err := r.run(execcache.Request{}); err != nil {
					t.Fatal(err)
				}
				if r.stdout.String() != first || r.count() != 1 {
					t.Fatalf("hit ran the plugin (%d runs) or answered %q, want %q", r.count(), r.stdout.String(), first)
				}
			}
			r.now = r.now.Add(9*time.Minute + 30*time.Second) // inside the 1 min margin
			if err := r.run(execcache.Request{}); err != nil {
				t.Fatal(err)
			}
			if r.count() != 2 || !strings.Contains(r.stdout.String(), "run2") {
				t.Fatalf("within the margin: %d runs, answer %q", r.count(), r.stdout.String())
			}
		})
	}
}

func TestFailurePassesThroughAndCachesNothing(t *testing.T) {
	for _, code := range []int{1, 7, 42} {
		r := newRig(t, execcred.V1)
		r.vars["FAKE_FAIL"] = strconv.Itoa(code)
		err := r.run(execcache.Request{})
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != code {
			t.Fatalf("exit %d: err = %v, want ExitError with its code", code, err)
		}
		if r.stdout.Len() != 0 {
			t.Errorf("exit %d: stdout %q, want nothing", code, r.stdout.String())
		}
		if !strings.Contains(r.stderr.String(), "failing on demand") {
			t.Errorf("exit %d: the plugin's stderr %q was not passed through", code, r.stderr.String())
		}
		for _, n := range r.entries() {
			if strings.HasPrefix(n, "exec-") && !strings.HasSuffix(n, ".lock") {
				t.Errorf("exit %d: entry %s cached", code, n)
			}
		}
	}
}

func TestNoExpiryNotCachedUnlessTTL(t *testing.T) {
	r := newRig(t, execcred.V1)
	r.vars["FAKE_EXPIRY"] = "none"
	for i := 1; i <= 2; i++ {
		if err := r.run(execcache.Request{}); err != nil {
			t.Fatal(err)
		}
		if r.count() != i {
			t.Fatalf("run %d: %d plugin runs: a credential without expiry was cached", i, r.count())
		}
		if strings.Contains(r.stdout.String(), "expirationTimestamp") {
			t.Errorf("an expiry was invented: %s", r.stdout.String())
		}
	}
	ttl := execcache.Request{TTL: 5 * time.Minute}
	for range 2 {
		if err := r.run(ttl); err != nil {
			t.Fatal(err)
		}
	}
	if r.count() != 3 {
		t.Fatalf("--ttl: %d runs, want 3", r.count())
	}
	r.now = r.now.Add(5 * time.Minute)
	if err := r.run(ttl); err != nil || r.count() != 4 {
		t.Fatalf("past --ttl: %d runs (%v), want 4", r.count(), err)
	}
}

// Whatever is not an ExecCredential for the asked apiVersion is an error,
// printed and cached never.
func TestInvalidAnswersAreRefused(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"other apiVersion":    {"FAKE_API": execcred.V1beta1},
		"unknown apiVersion":  {"FAKE_API": "client.authentication.k8s.io/v2"},
		"not JSON":            {"FAKE_OUTPUT": "token: abc\n"},
		"empty":               {"FAKE_OUTPUT": ""},
		"two values":          {"FAKE_OUTPUT": `{"kind":"ExecCredential","apiVersion":"` + execcred.V1 + `","status":{"token":"a"}}{}`},
		"wrong kind":          {"FAKE_OUTPUT": `{"kind":"Secret","apiVersion":"` + execcred.V1 + `","status":{"token":"a"}}`},
		"no status":           {"FAKE_OUTPUT": `{"kind":"ExecCredential","apiVersion":"` + execcred.V1 + `"}`},
		"empty status":        {"FAKE_OUTPUT": `{"kind":"ExecCredential","apiVersion":"` + execcred.V1 + `","status":{}}`},
		"cert without key":    {"FAKE_OUTPUT": `{"kind":"ExecCredential","apiVersion":"` + execcred.V1 + `","status":{"clientCertificateData":"c"}}`},
		"bad expiry":          {"FAKE_OUTPUT": `{"kind":"ExecCredential","apiVersion":"` + execcred.V1 + `","status":{"token":"a","expirationTimestamp":"soon"}}`},
		"token and half cert": {"FAKE_OUTPUT": `{"kind":"ExecCredential","apiVersion":"` + execcred.V1 + `","status":{"token":"a","clientKeyData":"k"}}`},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, execcred.V1)
			for k, v := range vars {
				r.vars[k] = v
			}
			if err := r.run(execcache.Request{}); err == nil {
				t.Fatalf("accepted; printed %q", r.stdout.String())
			}
			if r.stdout.Len() != 0 {
				t.Errorf("printed %q", r.stdout.String())
			}
			for _, n := range r.entries() {
				if strings.HasPrefix(n, "exec-") {
					t.Errorf("entry %s cached", n)
				}
			}
		})
	}
}

// A client certificate and key are cached like a token: a private file.
func TestClientCertCachedPrivately(t *testing.T) {
	r := newRig(t, execcred.V1beta1)
	r.vars["FAKE_CERT"] = "1"
	for range 2 {
		if err := r.run(execcache.Request{}); err != nil {
			t.Fatal(err)
		}
	}
	if r.count() != 1 || !strings.Contains(r.stdout.String(), "clientKeyData") {
		t.Fatalf("%d runs, answer %q", r.count(), r.stdout.String())
	}
	names := r.entries()
	if len(names) != 1 {
		t.Fatalf("entries %v", names)
	}
	st, err := os.Stat(r.store.Path(names[0]))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("entry mode %v, want 0600", st.Mode().Perm())
	}
}

func TestIdentitiesGetTheirOwnEntries(t *testing.T) {
	r := newRig(t, execcred.V1)
	answers := map[string]string{}
	for _, id := range []string{"alice", "bob", "alice", "bob"} {
		r.vars["FAKE_IDENTITY"] = id
		if err := r.run(execcache.Request{KeyEnv: []string{"FAKE_IDENTITY"}}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.stdout.String(), "-"+id+`"`) {
			t.Errorf("%s got %s", id, r.stdout.String())
		}
		if prev, ok := answers[id]; ok && prev != r.stdout.String() {
			t.Errorf("%s: second answer differs: not served from its entry", id)
		}
		answers[id] = r.stdout.String()
	}
	if r.count() != 2 {
		t.Errorf("%d plugin runs, want 2 (one per identity)", r.count())
	}
}

// While an interactive plugin holds the lock (a browser login), another
// run of the same identity waits the long wait for it instead of starting
// a second login; a non-interactive holder gets only the short one.
func TestInteractivePluginMarksItsLock(t *testing.T) {
	for _, interactive := range []bool{true, false} {
		t.Run(strconv.FormatBool(interactive), func(t *testing.T) {
			holder := newRig(t, execcred.V1)
			holder.vars[execcred.EnvVar] = `{"apiVersion":"` + execcred.V1 + `","spec":{"interactive":` + strconv.FormatBool(interactive) + `}}`
			holder.vars["FAKE_SLEEP"] = "1s"
			waiter := newRig(t, execcred.V1)
			waiter.store, waiter.runs = holder.store, holder.runs
			waiter.wait = cache.Wait{Short: 200 * time.Millisecond, Long: 20 * time.Second}
			for k, v := range holder.vars {
				waiter.vars[k] = v
			}
			done := make(chan error, 1)
			go func() { done <- holder.run(execcache.Request{}) }()
			// Let the holder take the lock and start its plugin.
			deadline := time.Now().Add(10 * time.Second)
			for holder.count() == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if err := waiter.run(execcache.Request{}); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			want := 1
			if !interactive {
				want = 2 // the waiter gave up after Short and ran its own
			}
			if got := holder.count(); got != want {
				t.Errorf("%d plugin runs, want %d", got, want)
			}
		})
	}
}

func (r *rig) background(req execcache.Request) error {
	r.stdout.Reset()
	r.stderr.Reset()
	var environ []string
	for k, v := range r.vars {
		environ = append(environ, k+"="+v)
	}
	req.Command = fakePlugin(r.t)
	if req.Margin == 0 {
		req.Margin = execcache.DefaultMargin
	}
	return Background(context.Background(), Env{
		Now: func() time.Time { return r.now }, Getenv: func(k string) string { return r.vars[k] }, Environ: environ,
		Stdout: &r.stdout, Stderr: &r.stderr,
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store: r.store,
	}, req)
}

// The background refresh runs the plugin only when the entry is due,
// without a terminal and non-interactive, replaces the entry, and backs
// off after a failure.
func TestBackgroundRefresh(t *testing.T) {
	r := newRig(t, execcred.V1)
	r.vars[execcred.EnvVar] = `{"apiVersion":"` + execcred.V1 + `","spec":{"interactive":true}}`
	r.vars["FAKE_EXPIRY"] = "1h"
	if err := r.run(execcache.Request{}); err != nil {
		t.Fatal(err)
	}
	if err := r.background(execcache.Request{}); err != nil || r.count() != 1 {
		t.Fatalf("not due: %d runs (%v), want 1", r.count(), err)
	}
	// The plugin's expiry is on the real clock: an hour ahead of r.now.
	r.now = r.now.Add(56 * time.Minute) // within the 5 min before served-until (1h - 1m)
	if err := r.background(execcache.Request{}); err != nil || r.count() != 2 {
		t.Fatalf("due: %d runs (%v), want 2", r.count(), err)
	}
	if r.stdout.Len() != 0 {
		t.Errorf("the background refresh printed %q", r.stdout.String())
	}
	// The new entry is served by the next run, not the plugin.
	if err := r.run(execcache.Request{}); err != nil || r.count() != 2 || !strings.Contains(r.stdout.String(), "run2") {
		t.Fatalf("after the refresh: %d runs, answer %q (%v)", r.count(), r.stdout.String(), err)
	}

	// A failing refresh writes a backoff record; the next one, in force,
	// does not run the plugin; once over, it does, and success clears it.
	r.now = r.now.Add(56 * time.Minute)
	r.vars["FAKE_FAIL"] = "5"
	if err := r.background(execcache.Request{}); err != nil || r.count() != 3 {
		t.Fatalf("failing: %d runs (%v), want 3", r.count(), err)
	}
	backoffs := func() int {
		n := 0
		for _, name := range r.entries() {
			if strings.HasPrefix(name, "backoff-") {
				n++
			}
		}
		return n
	}
	if backoffs() != 1 {
		t.Fatalf("no backoff record after a failure: %v", r.entries())
	}
	if err := r.background(execcache.Request{}); err != nil || r.count() != 3 {
		t.Fatalf("backing off: %d runs (%v), want 3", r.count(), err)
	}
	delete(r.vars, "FAKE_FAIL")
	r.now = r.now.Add(tokencache.BackoffWait(1))
	// The plugin's clock is the real one: an hour past the test's now.
	r.vars["FAKE_EXPIRY"] = (time.Until(r.now) + time.Hour).String()
	if err := r.background(execcache.Request{}); err != nil || r.count() != 4 {
		t.Fatalf("after the backoff: %d runs (%v), want 4", r.count(), err)
	}
	if backoffs() != 0 {
		t.Errorf("backoff record kept after a success: %v", r.entries())
	}
}

func TestNonInteractive(t *testing.T) {
	vars := map[string]string{execcred.EnvVar: `{"apiVersion":"` + execcred.V1 + `","spec":{"interactive":true,"cluster":{"server":"https://x"}}}`, "A": "b"}
	environ := []string{"A=b", execcred.EnvVar + "=" + vars[execcred.EnvVar]}
	getenv, out := nonInteractive(func(k string) string { return vars[k] }, environ)
	info := execcred.ReadInfo(getenv)
	if info.Interactive || info.APIVersion != execcred.V1 {
		t.Errorf("info %+v", info)
	}
	if len(out) != 2 || out[0] != "A=b" || out[1] != execcred.EnvVar+"="+getenv(execcred.EnvVar) {
		t.Errorf("environ %q", out)
	}
	if !strings.Contains(getenv(execcred.EnvVar), `"server":"https://x"`) {
		t.Errorf("cluster info lost: %s", getenv(execcred.EnvVar))
	}
}

// A credential too large for an entry the hit could read back is served,
// not cached (it would be rewritten by every call).
func TestOversizedCredentialNotCached(t *testing.T) {
	for _, size := range []int{40 << 10, 1 << 19} {
		r := newRig(t, execcred.V1)
		r.vars["FAKE_TOKEN_SIZE"] = strconv.Itoa(size)
		for i := 1; i <= 2; i++ {
			if err := r.run(execcache.Request{}); err != nil {
				t.Fatal(err)
			}
			if r.stdout.Len() < size || r.count() != i {
				t.Fatalf("%d bytes: call %d: %d runs, answer of %d bytes", size, i, r.count(), r.stdout.Len())
			}
		}
		for _, n := range r.entries() {
			if strings.HasPrefix(n, "exec-") {
				t.Errorf("%d bytes: entry %s written", size, n)
			}
		}
	}
}
