package discover

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/eksapi"
	"github.com/ekstoken/ekstoken/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

func fc(profile, region, account, name string) found {
	return found{id: identity{profile: profile, label: profile}, region: region, account: account,
		cluster: eksapi.Cluster{Name: name, ARN: "arn:aws:eks:" + region + ":" + account + ":cluster/" + name}}
}

// Names come from the template; where two collide the region is added,
// then the account, and a cluster reached twice under one name is written
// once and reported, whatever the template.
func TestNameAll(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl string
		in         []found
		want       []string
		skipped    int
	}{
		{"distinct", DefaultTemplate, []found{fc("a", "eu-west-1", "1", "x"), fc("b", "eu-west-1", "2", "x")}, []string{"a/x", "b/x"}, 0},
		{"same name in two regions", DefaultTemplate,
			[]found{fc("a", "eu-west-1", "1", "x"), fc("a", "us-east-1", "1", "x"), fc("a", "us-east-1", "1", "y")},
			[]string{"a/x@eu-west-1", "a/x@us-east-1", "a/y"}, 0},
		{"same name, region and template without profile", "{cluster}",
			[]found{fc("a", "eu-west-1", "1", "x"), fc("b", "eu-west-1", "2", "x")}, []string{"x@eu-west-1@1", "x@eu-west-1@2"}, 0},
		{"one cluster through two profiles", "{arn}",
			[]found{fc("a", "eu-west-1", "1", "x"), fc("b", "eu-west-1", "1", "x")}, []string{"arn:aws:eks:eu-west-1:1:cluster/x"}, 1},
		{"custom", "{account}-{region}-{cluster}", []found{fc("a", "eu-west-1", "1", "x")}, []string{"1-eu-west-1-x"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, skipped := nameAll(tc.in, tc.tmpl)
			var got []string
			for _, f := range kept {
				got = append(got, f.name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || len(skipped) != tc.skipped {
				t.Errorf("names (-want +got):\n%s\nskipped %v, want %d", diff, skipped, tc.skipped)
			}
		})
	}
	for _, bad := range []string{"{profile}", "{profile}/{clustr}", "{cluster", "static"} {
		if err := checkTemplate(bad); err == nil {
			t.Errorf("checkTemplate(%q) accepted it", bad)
		}
	}
}

// fakeAPI is an EKS API with a cluster per region (named after it) that
// throttles the first throttle calls, hangs in region slow, and counts
// the calls in flight.
type fakeAPI struct {
	throttle       atomic.Int32
	slow           string
	inFlight, peak atomic.Int32
	ca             string
}

func (f *fakeAPI) start(t *testing.T) string {
	pem, _ := testenv.CACert(t)
	f.ca = base64.StdEncoding.EncodeToString(pem)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
		region := m[2]
		if region == f.slow {
			<-r.Context().Done()
			return
		}
		if f.throttle.Add(-1) >= 0 {
			w.Header().Set("X-Amzn-Errortype", "ThrottlingException")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"Rate exceeded"}`)
			return
		}
		name := "c-" + region
		if r.URL.Path == "/clusters" {
			_ = json.NewEncoder(w).Encode(map[string]any{"clusters": []string{name}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"cluster": map[string]any{"name": name, "status": "ACTIVE",
			"arn": "arn:aws:eks:" + region + ":111122223333:cluster/" + name, "endpoint": "https://" + name + ".example",
			"certificateAuthority": map[string]any{"data": f.ca}}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func runFake(t *testing.T, url string, in Input, sleep func(context.Context, time.Duration) error) (string, string, error) {
	t.Helper()
	home := t.TempDir()
	in.Endpoint, in.Command, in.Kubeconfig = url, "ekstoken", filepath.Join(home, "config")
	var out, errb bytes.Buffer
	err := Run(t.Context(), Env{
		Getenv: func(string) string { return "" }, Home: home, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Now: time.Now, Sleep: sleep,
		Resolve: func(_ context.Context, o awsauth.Options) (awsauth.Result, error) {
			return awsauth.Result{Config: aws.Config{Region: o.Region,
				Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}}, nil
		},
	}, in)
	if err == nil && !in.DryRun {
		b, _ := os.ReadFile(in.Kubeconfig)
		return string(b), errb.String(), nil
	}
	return out.String(), errb.String(), err
}

func regions(n int) []string {
	var r []string
	for i := range n {
		r = append(r, fmt.Sprintf("xx-test-%d", i+1))
	}
	return r
}

// The pool bounds the calls in flight, whatever the number of regions.
func TestDiscoverPoolBound(t *testing.T) {
	for _, p := range []int{1, 3, 8} {
		f := &fakeAPI{}
		url := f.start(t)
		kc, errOut, err := runFake(t, url, Input{Regions: regions(12), Parallel: p}, nil)
		if err != nil || strings.Count(kc, "- context:") != 12 {
			t.Fatalf("parallel %d: %v\n%s\n%s", p, err, errOut, kc)
		}
		if got := f.peak.Load(); got > int32(p) || p > 1 && got < 2 {
			t.Errorf("parallel %d: %d calls in flight at most", p, got)
		}
	}
}

// Throttled calls are tried again after a growing pause; a region that
// does not answer is given up after the per-call timeout and reported,
// and the other regions are written.
func TestDiscoverThrottleAndTimeout(t *testing.T) {
	f := &fakeAPI{slow: "xx-test-2"}
	f.throttle.Store(3)
	url := f.start(t)
	var mu sync.Mutex
	var waits []time.Duration
	sleep := func(_ context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}
	start := time.Now()
	kc, errOut, err := runFake(t, url, Input{Regions: regions(3), Parallel: 1, Timeout: 300 * time.Millisecond}, sleep)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v: the hanging region was waited on", took)
	}
	if !strings.Contains(kc, "c-xx-test-1") || !strings.Contains(kc, "c-xx-test-3") || strings.Contains(kc, "c-xx-test-2") {
		t.Errorf("kubeconfig:\n%s", kc)
	}
	if !strings.Contains(errOut, "xx-test-2: no complete answer") {
		t.Errorf("the hanging region is not reported:\n%s", errOut)
	}
	if diff := cmp.Diff([]time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}, waits); diff != "" {
		t.Errorf("retry pauses (-want +got):\n%s", diff)
	}
}

// `ekstoken setup --undo` reverts a discovery as a whole while the file is
// as discovery left it; once the file has changed since, it restores
// nothing, keeps the record and says where the original is.
func TestDiscoverUndo(t *testing.T) {
	f := &fakeAPI{}
	url := f.start(t)
	home := t.TempDir()
	kc := filepath.Join(home, "config")
	orig := "apiVersion: v1\nkind: Config\n# mine\ncontexts: []\nclusters: []\nusers: []\ncurrent-context: \"\"\n"
	if err := os.WriteFile(kc, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() {
		var errb bytes.Buffer
		err := Run(t.Context(), Env{
			Getenv: func(string) string { return "" }, Home: home, Stdin: strings.NewReader(""), Stdout: &errb, Stderr: &errb, Now: time.Now,
			Resolve: func(_ context.Context, o awsauth.Options) (awsauth.Result, error) {
				return awsauth.Result{Config: aws.Config{Region: o.Region, Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}}, nil
			},
		}, Input{Regions: regions(2), Endpoint: url, Command: "ekstoken", Kubeconfig: kc})
		if err != nil {
			t.Fatalf("%v\n%s", err, errb.String())
		}
	}
	run()
	log := undoLog(Env{Home: home})
	if _, err := log.Undo(kc); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(kc); string(got) != orig {
		t.Fatalf("undo left:\n%s", got)
	}
	run()
	changed, _ := os.ReadFile(kc)
	changed = bytes.Replace(changed, []byte("# mine"), []byte("# mine, edited"), 1)
	if err := os.WriteFile(kc, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := log.Undo(kc)
	recs, _ := log.Records(kc)
	if got, _ := os.ReadFile(kc); err == nil || string(got) != string(changed) || len(recs) != 1 || !strings.Contains(err.Error(), "cp ") {
		t.Errorf("undo after an edit: %v, records %v, file changed %v", err, recs, string(got) != string(changed))
	}
}

// A cluster found again under another name (a new --name-template) is not
// gone: --prune keeps the contexts the earlier names gave it.
func TestDiscoverPruneKeepsRenamed(t *testing.T) {
	f := &fakeAPI{}
	url := f.start(t)
	home := t.TempDir()
	kc := filepath.Join(home, "config")
	run := func(tmpl string) string {
		var errb bytes.Buffer
		err := Run(t.Context(), Env{
			Getenv: func(string) string { return "" }, Home: home, Stdin: strings.NewReader(""), Stdout: &errb, Stderr: &errb, Now: time.Now,
			Resolve: func(_ context.Context, o awsauth.Options) (awsauth.Result, error) {
				return awsauth.Result{Config: aws.Config{Region: o.Region, Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}}, nil
			},
		}, Input{Regions: regions(2), Endpoint: url, Command: "ekstoken", Kubeconfig: kc, NameTemplate: tmpl, Prune: true})
		if err != nil {
			t.Fatalf("%v\n%s", err, errb.String())
		}
		return errb.String()
	}
	run("")
	errOut := run("{cluster}")
	got := contextsOf(readKC(t, kc))
	for _, want := range []string{"default/c-xx-test-1", "default/c-xx-test-2", "c-xx-test-1", "c-xx-test-2"} {
		if _, ok := got[want]; !ok {
			t.Errorf("context %s missing; have %v\n%s", want, got, errOut)
		}
	}
}

// On a terminal, progress is one line rewritten in place, cleared before
// the report; elsewhere (a pipe, a log) there is none.
func TestDiscoverProgress(t *testing.T) {
	for _, progress := range []bool{true, false} {
		f := &fakeAPI{}
		url := f.start(t)
		home := t.TempDir()
		var errb bytes.Buffer
		err := Run(t.Context(), Env{
			Getenv: func(string) string { return "" }, Home: home, Stdin: strings.NewReader(""), Stdout: &errb, Stderr: &errb, Now: time.Now,
			Progress: progress,
			Resolve: func(_ context.Context, o awsauth.Options) (awsauth.Result, error) {
				return awsauth.Result{Config: aws.Config{Region: o.Region, Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}}, nil
			},
		}, Input{Regions: regions(3), Endpoint: url, Command: "ekstoken", Kubeconfig: filepath.Join(home, "config")})
		if err != nil {
			t.Fatal(err)
		}
		out := errb.String()
		shown := strings.Contains(out, "\r\033[Klooked in 3 of 3 places, 3 clusters found")
		cleared := strings.Contains(out, "\r\033[KAdded context")
		if shown != progress || cleared != progress || !progress && strings.Contains(out, "\r") {
			t.Errorf("progress %v: stderr %q", progress, out)
		}
	}
}

// A region named twice is looked in once; a region that is not a name is
// refused before any call.
func TestDiscoverRegionFlags(t *testing.T) {
	f := &fakeAPI{}
	url := f.start(t)
	kc, errOut, err := runFake(t, url, Input{Regions: []string{"xx-test-1", "xx-test-1"}}, nil)
	if err != nil || strings.Count(kc, "- context:") != 1 || strings.Contains(errOut, "skipped") {
		t.Errorf("%v\n%s\n%s", err, errOut, kc)
	}
	for _, bad := range []string{"", "eu-west-1.evil.example", "EU-WEST-1", "eu west"} {
		if _, _, err := runFake(t, url, Input{Regions: []string{bad}}, nil); err == nil || !strings.Contains(err.Error(), "not a region") {
			t.Errorf("--region %q: %v", bad, err)
		}
	}
}

// A context or user that discover did not write is never taken over, even
// when the template gives a cluster its name: that cluster is reported and
// skipped, the others are written, and the person's entries stay as they
// were.
func TestDiscoverLeavesOthersNames(t *testing.T) {
	for _, tc := range []struct{ name, existing string }{
		{"context", "contexts:\n- name: default/c-xx-test-1\n  context: {cluster: mine, user: me}\nusers:\n- name: me\n  user: {token: t}\n"},
		{"user", "users:\n- name: default/c-xx-test-1\n  user: {token: t}\n"},
		{"exec user", "users:\n- name: default/c-xx-test-1\n  user:\n    exec: {command: aws, args: [eks, get-token], apiVersion: client.authentication.k8s.io/v1beta1}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{}
			url := f.start(t)
			home := t.TempDir()
			kc := filepath.Join(home, "config")
			if err := os.WriteFile(kc, []byte(tc.existing), 0o600); err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			err := Run(t.Context(), Env{
				Getenv: func(string) string { return "" }, Home: home, Stdin: strings.NewReader(""), Stdout: &errb, Stderr: &errb, Now: time.Now,
				Resolve: func(_ context.Context, o awsauth.Options) (awsauth.Result, error) {
					return awsauth.Result{Config: aws.Config{Region: o.Region, Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}}, nil
				},
			}, Input{Regions: regions(2), Endpoint: url, Command: "ekstoken", Kubeconfig: kc, Prune: true})
			got, _ := os.ReadFile(kc)
			for line := range strings.Lines(tc.existing) {
				if err != nil || !strings.Contains(string(got), line) {
					t.Errorf("%v; the person's line %q is gone:\n%s", err, line, got)
				}
			}
			if !strings.Contains(string(got), "default/c-xx-test-2") || strings.Count(string(got), "name: default/c-xx-test-1") != 1 ||
				!strings.Contains(errb.String(), "skipped default/c-xx-test-1: a context or user of that name") {
				t.Errorf("kubeconfig:\n%s\nstderr:\n%s", got, errb.String())
			}
		})
	}
}
