package gettoken

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/token"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// harness wires Run to a fake clock, a temp cache and a counting resolver.
type harness struct {
	t        *testing.T
	clock    *clock
	env      map[string]string
	store    *cache.Store
	resolves atomic.Int32
	creds    aws.Credentials
	region   string
	home     string
}

func newHarness(t *testing.T) *harness {
	h := &harness{
		t: t, clock: &clock{now: t0},
		env:    map[string]string{},
		store:  &cache.Store{Dir: filepath.Join(t.TempDir(), "cache")},
		creds:  aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", Source: "test"},
		region: "eu-west-1",
		home:   t.TempDir(),
	}
	return h
}

func (h *harness) resolve(_ context.Context, o awsauth.Options) (awsauth.Result, error) {
	h.resolves.Add(1)
	region := o.Region
	if region == "" {
		region = h.region
	}
	return awsauth.Result{Config: aws.Config{Region: region}, Credentials: h.creds}, nil
}

func (h *harness) run(in Input) (execcred.Credential, string, error) {
	h.t.Helper()
	return h.runTo(io.Discard, in)
}

// runTo is run with stderr, debug log excluded, copied to stderr.
func (h *harness) runTo(stderr io.Writer, in Input) (execcred.Credential, string, error) {
	h.t.Helper()
	var out, errb, logb bytes.Buffer
	if in.Margin == 0 {
		in.Margin = time.Minute
	}
	if in.ClusterName == "" && in.ClusterID == "" {
		in.ClusterName = "prod"
	}
	err := Run(context.Background(), Env{
		Now:    h.clock.Now,
		Getenv: func(k string) string { return h.env[k] },
		Home:   h.home,
		Stdout: &out, Stderr: io.MultiWriter(&errb, stderr),
		Log:         slog.New(slog.NewTextHandler(&logb, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Store:       h.store,
		Resolve:     h.resolve,
		LockTimeout: 5 * time.Second,
	}, in)
	if err != nil {
		if out.Len() != 0 {
			h.t.Errorf("stdout not empty on error: %q", out.String())
		}
		return execcred.Credential{}, "", err
	}
	var ec struct {
		Kind, APIVersion string
		Status           struct {
			ExpirationTimestamp time.Time
			Token               string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &ec); err != nil {
		h.t.Fatalf("stdout is not an ExecCredential: %v\n%s", err, out.String())
	}
	if ec.Kind != "ExecCredential" {
		h.t.Fatalf("kind = %q", ec.Kind)
	}
	return execcred.Credential{Token: ec.Status.Token, Expiration: ec.Status.ExpirationTimestamp}, ec.APIVersion, nil
}

func TestHitResolvesNothing(t *testing.T) {
	h := newHarness(t)
	first, _, err := h.run(Input{})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Set(t0.Add(10 * time.Minute))
	second, _, err := h.run(Input{})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.resolves.Load(); got != 1 {
		t.Errorf("credentials resolved %d times, want 1", got)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("hit differs from the miss that cached it (-miss +hit):\n%s", diff)
	}
	c, err := token.Parse(second.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !c.SignedAt.Equal(t0) {
		t.Errorf("signed at %v, want %v", c.SignedAt, t0)
	}
}

func TestExpiryArithmetic(t *testing.T) {
	tests := []struct {
		name        string
		credsExpire time.Time // zero: long-term keys
		margin      time.Duration
		wantExp     time.Time // reported expirationTimestamp
		lastHit     time.Time // still served from cache
	}{
		{"long-term keys: CLI parity, signing time + 14m", time.Time{}, time.Minute, t0.Add(14 * time.Minute), t0.Add(14*time.Minute - time.Second)},
		{"margin 5m", time.Time{}, 5 * time.Minute, t0.Add(10 * time.Minute), t0.Add(10*time.Minute - time.Second)},
		{"credentials end first and cap the token", t0.Add(6 * time.Minute), time.Minute, t0.Add(5 * time.Minute), t0.Add(5*time.Minute - time.Second)},
		{"credentials outlive the token", t0.Add(time.Hour), time.Minute, t0.Add(14 * time.Minute), t0.Add(14*time.Minute - time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if !tt.credsExpire.IsZero() {
				h.creds.CanExpire, h.creds.Expires = true, tt.credsExpire
			}
			got, _, err := h.run(Input{Margin: tt.margin})
			if err != nil {
				t.Fatal(err)
			}
			if !got.Expiration.Equal(tt.wantExp) {
				t.Errorf("expirationTimestamp = %v, want %v", got.Expiration, tt.wantExp)
			}
			h.clock.Set(tt.lastHit)
			if _, _, err := h.run(Input{Margin: tt.margin}); err != nil {
				t.Fatal(err)
			}
			if n := h.resolves.Load(); n != 1 {
				t.Errorf("at %v: resolved %d times, want a hit", tt.lastHit.Sub(t0), n)
			}
			h.clock.Set(tt.wantExp)
			if _, _, err := h.run(Input{Margin: tt.margin}); err != nil {
				t.Fatal(err)
			}
			if n := h.resolves.Load(); n != 2 {
				t.Errorf("at %v: resolved %d times, want a refresh", tt.wantExp.Sub(t0), n)
			}
		})
	}
}

func TestCredentialsExpiringWithinMarginAreNotCached(t *testing.T) {
	h := newHarness(t)
	h.creds.CanExpire, h.creds.Expires = true, t0.Add(30*time.Second)
	got, _, err := h.run(Input{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Expiration.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("expirationTimestamp = %v, want the credentials' real end", got.Expiration)
	}
	if names, _ := h.store.Names(); len(names) != 0 {
		t.Errorf("cached %v; a token that is stale on arrival must not be cached", names)
	}
}

func TestClockMovedBackIsAMiss(t *testing.T) {
	h := newHarness(t)
	if _, _, err := h.run(Input{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(t0.Add(-30 * time.Second)) // small step back: within tolerance
	if _, _, err := h.run(Input{}); err != nil {
		t.Fatal(err)
	}
	if n := h.resolves.Load(); n != 1 {
		t.Fatalf("30s back: resolved %d times, want a hit", n)
	}
	h.clock.Set(t0.Add(-10 * time.Minute))
	got, _, err := h.run(Input{})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.resolves.Load(); n != 2 {
		t.Errorf("10m back: resolved %d times, want a new token", n)
	}
	if c, _ := token.Parse(got.Token); !c.SignedAt.Equal(t0.Add(-10 * time.Minute)) {
		t.Errorf("new token signed at %v", c.SignedAt)
	}
}

func TestAPIVersionIsRebuiltNotReplayed(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ info, want string }{
		{`{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}`, execcred.V1},
		{`{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{}}`, execcred.V1beta1},
		{"", execcred.V1beta1},
		{"{not json", execcred.V1beta1},
	} {
		h.env[execcred.EnvVar] = tt.info
		_, got, err := h.run(Input{})
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("KUBERNETES_EXEC_INFO %q: apiVersion %q, want %q", tt.info, got, tt.want)
		}
	}
	if n := h.resolves.Load(); n != 1 {
		t.Errorf("resolved %d times; one cached token should serve every apiVersion", n)
	}
}

func TestEveryIdentityInputSplitsTheCache(t *testing.T) {
	h := newHarness(t)
	base := Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}}
	if _, _, err := h.run(base); err != nil {
		t.Fatal(err)
	}
	variants := []struct {
		name  string
		in    Input
		env   map[string]string
		touch string // a file to create, changing its stamp
	}{
		{"cluster", Input{Request: tokencache.Request{ClusterName: "staging", Region: "eu-west-1"}}, nil, ""},
		{"cluster id", Input{Request: tokencache.Request{ClusterID: "prod", Region: "eu-west-1"}}, nil, ""},
		{"region flag", Input{Request: tokencache.Request{ClusterName: "prod", Region: "us-east-1"}}, nil, ""},
		{"AWS_REGION", Input{Request: tokencache.Request{ClusterName: "prod"}}, map[string]string{"AWS_REGION": "ap-east-1"}, ""},
		{"profile flag", Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1", Profile: "dev"}}, nil, ""},
		{"AWS_PROFILE", base, map[string]string{"AWS_PROFILE": "ops"}, ""},
		{"role", Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1", RoleARN: "arn:aws:iam::1:role/r"}}, nil, ""},
		{"env key ID", base, map[string]string{"AWS_ACCESS_KEY_ID": "AKIDOTHER"}, ""},
		{"STS endpoint", base, map[string]string{"AWS_ENDPOINT_URL_STS": "https://127.0.0.1:1"}, ""},
		{"config file path", base, map[string]string{"AWS_CONFIG_FILE": "/elsewhere/config"}, ""},
		{"credentials file content", base, map[string]string{"AWS_SHARED_CREDENTIALS_FILE": "creds"}, "creds"},
	}
	for i, v := range variants {
		h.env = map[string]string{}
		for k, val := range v.env {
			h.env[k] = val
		}
		if v.touch != "" {
			p := filepath.Join(t.TempDir(), v.touch)
			h.env["AWS_SHARED_CREDENTIALS_FILE"] = p
			// First run with the file absent, then with content: two entries.
			if _, _, err := h.run(v.in); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("[default]\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			i++
		}
		if _, _, err := h.run(v.in); err != nil {
			t.Fatal(err)
		}
		if n := int(h.resolves.Load()); n != i+2 {
			t.Errorf("%s: resolved %d times, want %d: it shared another identity's entry", v.name, n, i+2)
			h.resolves.Store(int32(i + 2))
		}
	}
	// The same inputs again are hits.
	h.env = map[string]string{}
	before := h.resolves.Load()
	if _, _, err := h.run(base); err != nil {
		t.Fatal(err)
	}
	if h.resolves.Load() != before {
		t.Error("identical inputs missed the cache")
	}
}

func TestBrokenEntriesAreMisses(t *testing.T) {
	for name, content := range map[string]string{
		"corrupt":   "{not json",
		"truncated": `{"format":"ekstoken/token/v1","token":"k8s-aws-v1.aHR0cHM6Ly9zdHMu`,
		"foreign":   `{"kind":"ExecCredential","status":{"token":"k8s-aws-v1.x","expirationTimestamp":"2099-01-01T00:00:00Z"}}`,
		"empty":     "",
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			if _, _, err := h.run(Input{}); err != nil {
				t.Fatal(err)
			}
			names, _ := h.store.Names()
			if len(names) != 1 {
				t.Fatalf("entries: %v", names)
			}
			if err := os.WriteFile(h.store.Path(names[0]), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.run(Input{}); err != nil {
				t.Fatalf("a broken entry must not fail the run: %v", err)
			}
			if n := h.resolves.Load(); n != 2 {
				t.Errorf("resolved %d times, want a fresh token", n)
			}
			var e tokencache.Entry
			if err := h.store.Read(names[0], &e); err != nil || e.Token == "" {
				t.Errorf("entry not repaired: %v %+v", err, e)
			}
		})
	}
}

func TestUnwritableCacheStillPrintsTheToken(t *testing.T) {
	h := newHarness(t)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.store = &cache.Store{Dir: filepath.Join(blocker, "cache")} // parent is a file
	var stderr bytes.Buffer
	got, _, err := h.runTo(&stderr, Input{})
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}
	if _, err := token.Parse(got.Token); err != nil {
		t.Errorf("no usable token: %v", err)
	}
	// Every call is a miss until the cache can be written: the user is
	// told, with what to pass, rather than left with a slow kubectl.
	if !strings.Contains(stderr.String(), "not caching") || !strings.Contains(stderr.String(), "--no-cache") {
		t.Errorf("stderr %q does not say the cache is off and what to do", stderr.String())
	}
}

func TestForceRefreshAndNoCache(t *testing.T) {
	h := newHarness(t)
	if _, _, err := h.run(Input{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(t0.Add(time.Minute))
	got, _, err := h.run(Input{ForceRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.resolves.Load(); n != 2 {
		t.Fatalf("--force-refresh: resolved %d times, want 2", n)
	}
	// The forced token replaced the cached one.
	h.clock.Set(t0.Add(2 * time.Minute))
	again, _, _ := h.run(Input{})
	if again.Token != got.Token || h.resolves.Load() != 2 {
		t.Error("the forced token was not cached")
	}

	h2 := newHarness(t)
	h2.store = nil
	for range 2 {
		if _, _, err := h2.run(Input{NoCache: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n := h2.resolves.Load(); n != 2 {
		t.Errorf("--no-cache: resolved %d times, want 2", n)
	}
}

func TestResolveErrorPrintsNothing(t *testing.T) {
	h := newHarness(t)
	err := Run(context.Background(), Env{
		Now: h.clock.Now, Getenv: func(string) string { return "" }, Home: t.TempDir(),
		Stdout: failWriter{t}, Stderr: io.Discard, Log: slog.New(slog.DiscardHandler), Store: h.store,
		Resolve: func(context.Context, awsauth.Options) (awsauth.Result, error) {
			return awsauth.Result{}, errors.New("no credentials")
		},
		LockTimeout: time.Second,
	}, Input{Request: tokencache.Request{ClusterName: "c"}, Margin: time.Minute})
	if err == nil {
		t.Fatal("want an error")
	}
}

type failWriter struct{ t *testing.T }

func (f failWriter) Write(p []byte) (int, error) {
	f.t.Errorf("wrote to stdout: %q", p)
	return len(p), nil
}

// Parallel cold kubectl runs resolve credentials once: the lock and the
// second look-up make the others wait and reuse the first one's token.
func TestParallelColdRunsResolveOnce(t *testing.T) {
	h := newHarness(t)
	slow := h.resolve
	resolve := func(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
		time.Sleep(50 * time.Millisecond) // an SSO or STS round trip
		return slow(ctx, o)
	}
	var wg sync.WaitGroup
	tokens := make([]string, 16)
	for i := range tokens {
		wg.Go(func() {
			var out bytes.Buffer
			err := Run(context.Background(), Env{
				Now: h.clock.Now, Getenv: func(string) string { return "" }, Home: "/nonexistent",
				Stdout: &out, Stderr: io.Discard, Log: slog.New(slog.DiscardHandler),
				Store: h.store, Resolve: resolve, LockTimeout: 10 * time.Second,
			}, Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}, Margin: time.Minute})
			if err != nil {
				t.Error(err)
				return
			}
			var ec struct{ Status struct{ Token string } }
			if err := json.Unmarshal(out.Bytes(), &ec); err != nil {
				t.Error(err)
			}
			tokens[i] = ec.Status.Token
		})
	}
	wg.Wait()
	if n := h.resolves.Load(); n != 1 {
		t.Errorf("16 parallel cold runs resolved credentials %d times, want 1", n)
	}
	for _, tok := range tokens {
		if tok != tokens[0] {
			t.Fatal("parallel runs printed different tokens")
		}
	}
}

// --refresh-margin 0s serves a token until the very end STS gives it, and
// reports that end.
func TestZeroMargin(t *testing.T) {
	h := newHarness(t)
	run := func(at time.Time) execcred.Credential {
		t.Helper()
		h.clock.Set(at)
		var out bytes.Buffer
		err := Run(context.Background(), Env{
			Now: h.clock.Now, Getenv: func(string) string { return "" }, Home: h.home,
			Stdout: &out, Stderr: io.Discard, Log: slog.New(slog.DiscardHandler),
			Store: h.store, Resolve: h.resolve, LockTimeout: time.Second,
		}, Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}, Margin: 0})
		if err != nil {
			t.Fatal(err)
		}
		var ec struct {
			Status struct{ ExpirationTimestamp time.Time }
		}
		if err := json.Unmarshal(out.Bytes(), &ec); err != nil {
			t.Fatal(err)
		}
		return execcred.Credential{Expiration: ec.Status.ExpirationTimestamp}
	}
	if got := run(t0); !got.Expiration.Equal(t0.Add(15 * time.Minute)) {
		t.Errorf("expirationTimestamp = %v, want signing time + 15m", got.Expiration)
	}
	run(t0.Add(15*time.Minute - time.Second))
	if n := h.resolves.Load(); n != 1 {
		t.Errorf("one second before the end: resolved %d times, want a hit", n)
	}
	run(t0.Add(15 * time.Minute))
	if n := h.resolves.Load(); n != 2 {
		t.Errorf("at the end: resolved %d times, want a refresh", n)
	}
}
