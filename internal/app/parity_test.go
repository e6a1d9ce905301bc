package app

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/fastpath"
	"github.com/ekstoken/ekstoken/internal/gettoken"
	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// parseWithCobra runs the real command tree and captures what it would have
// asked of the token use case.
func parseWithCobra(t *testing.T, args []string) (gettoken.Input, string, bool) {
	t.Helper()
	var got gettoken.Input
	var cacheDir string
	called := false
	code := Run(context.Background(), Env{
		Args: args, Getenv: func(string) string { return "" },
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Now: time.Now, Home: "/home/test",
		GetToken: func(_ context.Context, e gettoken.Env, in gettoken.Input) error {
			got, called = in, true
			if e.Store != nil {
				cacheDir = e.Store.Dir
			}
			return nil
		},
	})
	return got, cacheDir, code == 0 && called
}

// The fast path parses command lines on its own, before cobra exists. Where
// it answers, it must have understood exactly what cobra understands, or it
// would serve another identity's entry.
func TestFastPathParsesLikeCobra(t *testing.T) {
	lines := []string{
		"token --cluster-name prod",
		"token --cluster-name prod --region eu-west-1 --profile dev",
		"token --cluster-name=prod --region=eu-west-1",
		"token --cluster-id 0123-abcd --region us-west-2",
		"--region eu-west-1 eks get-token --cluster-name prod --output json",
		"--region eu-west-1 --profile p eks get-token --cluster-name prod --role arn:aws:iam::1:role/r",
		"eks get-token --cluster-name prod --region eu-west-1 --role-arn arn:aws:iam::1:role/r --session-name s --external-id x",
		"token --cluster-name prod --refresh-margin 5m --cache-dir /tmp/c --debug",
		"token --cluster-name prod --no-cache",
		"token --force-refresh --cluster-name prod",
		"token --cluster-name prod --refresh-margin 0s",
		// Lines the fast path must decline (cobra may accept or reject them).
		"token --cluster-name prod --cluster-id x",
		"token",
		"token --cluster-name prod extra",
		"token --cluster-name prod --output yaml",
		"token --cluster-name prod --refresh-margin 20m",
		"token --cluster-name prod --region a --region b",
		"token --cluster-name prod --role-arn a --role b",
		"token --cluster-name prod -h",
		"token --cluster-name prod --help",
		"token --cluster-name prod --unknown",
		"eks --cluster-name prod",
		"version",
		"status --cluster-name prod",
		// A command's own flags before its words are cobra errors.
		"--sso-login token --cluster-name prod --region eu-west-1",
		"--no-credential-cache eks get-token --cluster-name prod --region eu-west-1",
		"eks --sso-login get-token --cluster-name prod --region eu-west-1",
		"--cluster-name prod token --region eu-west-1",
		"--region eu-west-1 eks --profile p get-token --cluster-name prod --debug",
	}
	for _, line := range lines {
		checkParity(t, strings.Fields(line))
	}
}

// checkParity fails when the fast path answers a command line that cobra
// rejects or reads differently.
func checkParity(t *testing.T, args []string) {
	t.Helper()
	fast, ok := fastpath.Parse(args)
	if !ok {
		return
	}
	in, cacheDir, cobraOK := parseWithCobra(t, args)
	if !cobraOK {
		t.Errorf("%q: the fast path accepts what cobra rejects", args)
		return
	}
	want := fastpath.Request{Request: in.Request, Margin: in.Margin, RefreshAhead: in.RefreshAhead, NoCache: in.NoCache, ForceRefresh: in.ForceRefresh}
	fast.Debug = false
	if fast.CacheDir == "" {
		fast.CacheDir = "/home/test/.kube/cache/ekstoken"
	}
	if in.NoCache {
		cacheDir = fast.CacheDir // cobra opens no store with --no-cache
	}
	want.CacheDir = cacheDir
	if diff := cmp.Diff(want, fast); diff != "" {
		t.Errorf("%q (-cobra +fastpath):\n%s", args, diff)
	}
}

// words are what command lines are made of in FuzzFastPathParsesLikeCobra:
// every command word and flag, in both --flag value and --flag=value
// forms, values that look like flags, and the odd spellings a parser can
// get wrong.
var words = func() []string {
	w := []string{"token", "eks", "get-token", "version", "status", "setup", "--", "-", "-h", "--help", "-v",
		"prod", "eu-west-1", "us-west-2", "5m", "0s", "14m", "-1s", "json", "yaml", "arn:aws:iam::1:role/r", "/tmp/c", "",
		"--cluster-name=prod", "--region=eu-west-1", "--refresh-margin=0s", "--output=json", "--debug=false", "--no-cache=true",
		"eks get-token", "--Region", "---region", "--region=", "=x", "-region"}
	for _, f := range fastpath.Flags() {
		w = append(w, "--"+f)
	}
	slices.Sort(w)
	return w
}()

// FuzzFastPathParsesLikeCobra builds command lines from words, one word a
// byte, and checks that the fast path never answers one that cobra reads
// otherwise.
func FuzzFastPathParsesLikeCobra(f *testing.F) {
	for _, line := range []string{
		"token --cluster-name prod --region eu-west-1",
		"--region eu-west-1 eks get-token --cluster-name prod --output json",
		"token --cluster-name prod --role-arn arn:aws:iam::1:role/r --session-name prod --external-id prod",
		"token --cluster-id prod --refresh-margin 5m --cache-dir /tmp/c --no-credential-cache --sso-login",
	} {
		var seed []byte
		for _, w := range strings.Fields(line) {
			seed = append(seed, byte(slices.Index(words, w)))
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, picks []byte) {
		if len(picks) > 16 {
			t.Skip()
		}
		args := make([]string, len(picks))
		for i, p := range picks {
			args[i] = words[int(p)%len(words)]
		}
		checkParity(t, args)
	})
}

// Every flag of the token commands must be known to the fast path, which
// otherwise declines lines that use it, or worse, a new flag that changes
// the identity would be ignored by it.
func TestFastPathKnowsEveryTokenFlag(t *testing.T) {
	root := newRoot(&Env{Getenv: func(string) string { return "" }})
	var cobraFlags []string
	add := func(f *pflag.Flag) {
		if f.Name != "help" && !slices.Contains(cobraFlags, f.Name) {
			cobraFlags = append(cobraFlags, f.Name)
		}
	}
	root.PersistentFlags().VisitAll(add)
	for _, path := range [][]string{{"token"}, {"eks", "get-token"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		c.Flags().VisitAll(add)
	}
	known := fastpath.Flags()
	slices.Sort(cobraFlags)
	slices.Sort(known)
	if diff := cmp.Diff(cobraFlags, known); diff != "" {
		t.Errorf("flags (-cobra +fastpath):\n%s", diff)
	}
}
