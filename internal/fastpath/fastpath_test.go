package fastpath

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/debugenv"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

var signedAt = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// fakeToken is a well-formed token signed at signedAt; its signature is
// never checked here.
func fakeToken() string {
	u := "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIDEXAMPLE%2F20261127%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261127T090000Z&X-Amz-Expires=60" +
		"&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=00"
	return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(u))
}

type world struct {
	t        *testing.T
	home     string
	env      map[string]string
	now      time.Time
	out, err bytes.Buffer
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, home: t.TempDir(), env: map[string]string{}, now: signedAt.Add(5 * time.Minute)}
	// Cache a fresh token for `token --cluster-name prod --region eu-west-1`.
	id := tokencache.NewIdentity(tokencache.Request{ClusterName: "prod", Region: "eu-west-1", SessionName: tokencache.DefaultSessionName},
		w.getenv, w.home)
	store := cache.Store{Dir: filepath.Join(w.home, ".kube", "cache", "ekstoken")}
	if err := store.Write(id.Name(), entryFor(id)); err != nil {
		t.Fatal(err)
	}
	return w
}

func entryFor(id tokencache.Identity) tokencache.Entry {
	e := tokencache.NewEntry(id.Key(), fakeToken())
	e.Cluster, e.Region = id.Cluster, "eu-west-1"
	return e
}

func (w *world) getenv(k string) string { return w.env[k] }

func (w *world) serve(line string) bool {
	w.t.Helper()
	w.out.Reset()
	w.err.Reset()
	served, err := Serve(Env{
		Args: strings.Fields(line), Getenv: w.getenv,
		Stdout: &w.out, Stderr: &w.err,
		Now: func() time.Time { return w.now }, Home: w.home,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	if !served && (w.out.Len() != 0 || w.err.Len() != 0) {
		w.t.Errorf("%q declined but printed: %q %q", line, w.out.String(), w.err.String())
	}
	return served
}

func TestServeHit(t *testing.T) {
	w := newWorld(t)
	w.env[execcred.EnvVar] = `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}`
	if !w.serve("token --cluster-name prod --region eu-west-1") {
		t.Fatal("a fresh entry was not served")
	}
	want := `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{},"status":{"expirationTimestamp":"2026-11-27T09:14:00Z","token":"` + fakeToken() + "\"}}\n"
	if w.out.String() != want {
		t.Errorf("stdout:\n got %s\nwant %s", w.out.String(), want)
	}
	if w.err.Len() != 0 {
		t.Errorf("stderr without debug: %q", w.err.String())
	}
	if !w.serve("--region eu-west-1 eks get-token --cluster-name prod --output json") {
		t.Error("the drop-in form of the same request was not served")
	}
}

func TestServeDeclines(t *testing.T) {
	for name, tt := range map[string]struct {
		line  string
		setup func(*world)
	}{
		"other cluster":         {line: "token --cluster-name staging --region eu-west-1"},
		"other region":          {line: "token --cluster-name prod --region us-east-1"},
		"other profile":         {line: "token --cluster-name prod --region eu-west-1", setup: func(w *world) { w.env["AWS_PROFILE"] = "dev" }},
		"expired":               {line: "token --cluster-name prod --region eu-west-1", setup: func(w *world) { w.now = signedAt.Add(14 * time.Minute) }},
		"inside a wider margin": {line: "token --cluster-name prod --region eu-west-1 --refresh-margin 11m"},
		"force refresh":         {line: "token --cluster-name prod --region eu-west-1 --force-refresh"},
		"--debug":               {line: "token --cluster-name prod --region eu-west-1 --debug"},
		"EKS_TOKEN_DEBUG":       {line: "token --cluster-name prod --region eu-west-1", setup: func(w *world) { w.env["EKS_TOKEN_DEBUG"] = "1" }},
		"EKSTOKEN_DEBUG":        {line: "token --cluster-name prod --region eu-west-1", setup: func(w *world) { w.env["EKSTOKEN_DEBUG"] = "1" }},
		"no cache":              {line: "token --cluster-name prod --region eu-west-1 --no-cache"},
		"help":                  {line: "token --cluster-name prod --region eu-west-1 --help"},
		"other cache dir":       {line: "token --cluster-name prod --region eu-west-1 --cache-dir /nonexistent"},
		"KUBECACHEDIR":          {line: "token --cluster-name prod --region eu-west-1", setup: func(w *world) { w.env["KUBECACHEDIR"] = "/nonexistent" }},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			if w.serve(tt.line) {
				t.Errorf("served: %s", w.out.String())
			}
		})
	}
}

func TestParseDeclinesTheUnusual(t *testing.T) {
	for _, line := range []string{
		"", "token", "version", "eks", "eks get-token", "token --cluster-name",
		"token --cluster-name a --cluster-id b", "token --cluster-name a b",
		"token -v --cluster-name a", "token --cluster-name a --cluster-name b",
		"token --cluster-name a --bogus", "token --cluster-name a --output yaml",
		"token --cluster-name a --refresh-margin x", "token --cluster-name a --refresh-margin -1s",
		"token --cluster-name a --debug=false", "token --cluster-name a --", "get-token --cluster-name a",
		"token --cluster-name a --external-id x", "token --cluster-name a --session-name me",
	} {
		if r, ok := Parse(strings.Fields(line)); ok {
			t.Errorf("Parse(%q) = %+v, want a decline", line, r)
		}
	}
}

// The hit path's imports decide when Go initializes it: anything that
// sorts late in import-path order (net/url, path/filepath, flock) lets the
// AWS SDK's packages initialize first. TestHitSkipsSDKInit in cmd/ekstoken
// measures the effect; this names the cause.
func TestImportsStayLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	// What waits on package unicode (strings, bytes, fmt, encoding/json,
	// reflect), crypto, the network, regular expressions or logging would
	// put the hit behind them in Go's initialization order.
	heavy := regexp.MustCompile(`^(unicode|strings|bytes|fmt|reflect|encoding/(json|hex|xml)|crypto|net|regexp|log|flag|path/filepath|bufio|context)(/|$)`)
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case heavy.MatchString(pkg) && pkg != "unicode/utf8" && pkg != "unicode/utf16",
			strings.HasPrefix(pkg, "github.com/") && !strings.HasPrefix(pkg, "github.com/ekstoken/"),
			strings.HasPrefix(pkg, "golang.org/x/"):
			t.Errorf("the hit path imports %s", pkg)
		}
	}
}

// TestServesOnlyItsOwnEntry: an entry copied under another identity's file
// name is not served, whatever differs: cluster, region, profile, keys,
// role, a container token.
func TestServesOnlyItsOwnEntry(t *testing.T) {
	for _, tc := range []struct {
		line string
		env  map[string]string
	}{
		{"token --cluster-name other --region eu-west-1", nil},
		{"token --cluster-id prod --region eu-west-1", nil},
		{"token --cluster-name prod --region us-east-1", nil},
		{"token --cluster-name prod", map[string]string{"AWS_REGION": "eu-west-1", "AWS_PROFILE": "dev"}},
		{"token --cluster-name prod --region eu-west-1", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDOTHER", "AWS_SECRET_ACCESS_KEY": "s"}},
		{"token --cluster-name prod --region eu-west-1 --role-arn arn:aws:iam::1:role/r", nil},
		{"token --cluster-name prod --region eu-west-1", map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN": "pod-b"}},
	} {
		t.Run(tc.line+fmt.Sprint(tc.env), func(t *testing.T) {
			w := newWorld(t)
			src := tokencache.NewIdentity(tokencache.Request{ClusterName: "prod", Region: "eu-west-1", SessionName: tokencache.DefaultSessionName}, w.getenv, w.home)
			for k, v := range tc.env {
				w.env[k] = v
			}
			r, ok := Parse(strings.Fields(tc.line))
			if !ok {
				t.Fatalf("Parse(%q) declined", tc.line)
			}
			dst := tokencache.NewIdentity(r.Request, w.getenv, w.home)
			if dst.Name() == src.Name() {
				t.Fatal("setup: the two identities share a name")
			}
			dir := filepath.Join(w.home, ".kube", "cache", "ekstoken")
			b, err := os.ReadFile(filepath.Join(dir, src.Name()+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, dst.Name()+".json"), b, 0o600); err != nil {
				t.Fatal(err)
			}
			if w.serve(tc.line) {
				t.Errorf("served another identity's entry: %s", w.out.String())
			}
		})
	}
}

// Every spelling of "on" that the full program's debug logger accepts makes
// the hit path decline, so the full program runs and logs; "off" spellings
// still serve the hit.
func TestServeDeclinesEveryDebugSpelling(t *testing.T) {
	for _, k := range debugenv.Vars {
		for _, v := range []string{"1", "true", "TRUE", "yes", "on", "0", "false", "no", ""} {
			w := newWorld(t)
			w.env[k] = v
			served := w.serve("token --cluster-name prod --region eu-west-1")
			if on := debugenv.Enabled(func(n string) string { return w.env[n] }); served == on {
				t.Errorf("%s=%q: served %v, want %v (debug %v)", k, v, served, !on, on)
			}
			if v == "true" && served {
				t.Errorf("%s=true served the hit without the debug log", k)
			}
		}
	}
}

// A token signed with SSO role credentials is served on the hit path only
// while the SSO login's token file exists: `aws sso logout` removes it, and
// the full program then resolves (and says to log in).
func TestServeEndsWithSSOLogin(t *testing.T) {
	for _, loggedIn := range []bool{true, false} {
		w := newWorld(t)
		sso := filepath.Join(w.home, ".aws", "sso", "cache", "5f2a.json")
		if loggedIn {
			if err := os.MkdirAll(filepath.Dir(sso), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(sso, []byte(`{}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		id := tokencache.NewIdentity(tokencache.Request{ClusterName: "prod", Region: "eu-west-1", SessionName: tokencache.DefaultSessionName}, w.getenv, w.home)
		e := entryFor(id)
		e.CredentialSource, e.SSOTokenFile = "SSOProvider", sso
		if err := (cache.Store{Dir: filepath.Join(w.home, ".kube", "cache", "ekstoken")}).Write(id.Name(), e); err != nil {
			t.Fatal(err)
		}
		if served := w.serve("token --cluster-name prod --region eu-west-1"); served != loggedIn {
			t.Errorf("SSO login in place %v: served %v", loggedIn, served)
		}
	}
}
