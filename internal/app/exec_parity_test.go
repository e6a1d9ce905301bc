package app

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/execcache"
	"github.com/ekstoken/ekstoken/internal/execwrap"
	"github.com/ekstoken/ekstoken/internal/fastpath"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/pflag"
)

func parseExecWithCobra(t *testing.T, args []string) (fastpath.ExecRequest, bool) {
	t.Helper()
	var got fastpath.ExecRequest
	called := false
	code := Run(context.Background(), Env{
		Args: args, Getenv: func(string) string { return "" },
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Now: time.Now, Home: "/home/test",
		Exec: func(_ context.Context, e execwrap.Env, r execcache.Request) error {
			got.Request, called = r, true
			if e.Store != nil {
				got.CacheDir = e.Store.Dir
			}
			return nil
		},
	})
	return got, code == 0 && called
}

// The fast path must read an exec line exactly as cobra does, or it would
// serve another plugin's, or another identity's, entry.
func checkExecParity(t *testing.T, args []string) {
	t.Helper()
	fast, ok := fastpath.ParseExec(args)
	if !ok {
		return
	}
	want, cobraOK := parseExecWithCobra(t, args)
	if !cobraOK {
		t.Errorf("%q: the fast path accepts what cobra rejects", args)
		return
	}
	if fast.CacheDir == "" {
		fast.CacheDir = "/home/test/.kube/cache/ekstoken"
	}
	if diff := cmp.Diff(want, fast, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%q (-cobra +fastpath):\n%s", args, diff)
	}
}

func TestFastPathParsesExecLikeCobra(t *testing.T) {
	for _, line := range []string{
		"exec -- gke-gcloud-auth-plugin",
		"exec gke-gcloud-auth-plugin",
		"exec -- kubelogin get-token --server-id x --login azurecli",
		"exec kubelogin get-token --server-id x -- y",
		"exec --ttl 10m --key-env A --key-env=B --refresh-margin=2m --cache-dir /tmp/c -- plug --ttl 5m",
		"exec --key-env A plug --key-env B",
		"exec -- --ttl",
		// To decline.
		"exec",
		"exec --",
		"exec --ttl 5m",
		"exec --ttl -5m -- plug",
		"exec --ttl 5m --ttl 6m -- plug",
		"exec --debug -- plug",
		"exec --no-cache -- plug",
		"exec --help -- plug",
		"exec -h plug",
		"exec --region x -- plug",
		"exec --key-env= -- plug",
		"exec --key-env A=B -- plug",
		"exec --unknown -- plug",
		"--cache-dir /c exec -- plug",
	} {
		checkExecParity(t, strings.Fields(line))
	}
}

var execWords = func() []string {
	w := []string{"exec", "--", "-", "-h", "--help", "plug", "kubelogin", "get-token", "5m", "0s", "-1s", "x", "A", "A=B", "",
		"--ttl=5m", "--key-env=A", "--refresh-margin=0s", "--cache-dir=/tmp/c", "--debug", "--no-cache", "--region", "--Ttl", "---ttl"}
	for _, f := range fastpath.ExecFlags() {
		w = append(w, "--"+f)
	}
	slices.Sort(w)
	return w
}()

func FuzzFastPathParsesExecLikeCobra(f *testing.F) {
	for _, line := range []string{
		"exec -- plug get-token",
		"exec --ttl 5m --key-env A -- kubelogin get-token",
		"exec --cache-dir x plug --ttl 5m",
	} {
		var seed []byte
		for _, w := range strings.Fields(line) {
			seed = append(seed, byte(slices.Index(execWords, w)))
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, picks []byte) {
		if len(picks) > 12 {
			t.Skip()
		}
		args := []string{"exec"}
		for _, p := range picks {
			args = append(args, execWords[int(p)%len(execWords)])
		}
		checkExecParity(t, args)
	})
}

// Every flag of exec is known to the fast path, or declined on purpose.
func TestFastPathKnowsEveryExecFlag(t *testing.T) {
	root := newRoot(&Env{Getenv: func(string) string { return "" }})
	c, _, err := root.Find([]string{"exec"})
	if err != nil {
		t.Fatal(err)
	}
	// Declined on purpose: they need the full program.
	declined := []string{"no-cache", "background"}
	var cobraFlags []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !slices.Contains(declined, f.Name) {
			cobraFlags = append(cobraFlags, f.Name)
		}
	})
	cobraFlags = append(cobraFlags, "cache-dir")
	known := fastpath.ExecFlags()
	slices.Sort(cobraFlags)
	slices.Sort(known)
	if diff := cmp.Diff(cobraFlags, known); diff != "" {
		t.Errorf("flags (-cobra +fastpath):\n%s", diff)
	}
}
