package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/gettoken"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// runTokenInput runs a token command line with the use case replaced and
// returns the Input it got.
func runTokenInput(t *testing.T, args ...string) (in gettoken.Input, reached bool, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), Env{
		Args: args, Getenv: func(string) string { return "" },
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Now: time.Now, Home: t.TempDir(), Version: "v1.2.3",
		GetToken: func(_ context.Context, _ gettoken.Env, got gettoken.Input) error { in, reached = got, true; return nil },
	})
	return in, reached, errb.String(), code
}

// --refresh-ahead takes 0 (off) to 10m; the use case gets the window in
// force, at most half a token's served life with the margin given.
func TestRefreshAheadFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, tokencache.DefaultRefreshAhead},
		{[]string{"--refresh-ahead", "0"}, 0},
		{[]string{"--refresh-ahead=0s"}, 0},
		{[]string{"--refresh-ahead", "90s"}, 90 * time.Second},
		{[]string{"--refresh-ahead", "7m"}, 7 * time.Minute},
		{[]string{"--refresh-ahead", "10m"}, 7 * time.Minute},
		{[]string{"--refresh-margin", "10m"}, 150 * time.Second},
		{[]string{"--refresh-margin", "0s", "--refresh-ahead", "10m"}, 7*time.Minute + 30*time.Second},
		{[]string{"--refresh-margin", "13m", "--refresh-ahead", "10m"}, time.Minute},
	} {
		for _, form := range [][]string{{"token"}, {"eks", "get-token"}} {
			args := append(append(append([]string{}, form...), "--cluster-name", "a"), tc.args...)
			in, reached, stderr, code := runTokenInput(t, args...)
			if !reached || code != 0 {
				t.Errorf("%q refused: exit %d, %s", args, code, stderr)
				continue
			}
			if in.RefreshAhead != tc.want {
				t.Errorf("%q: RefreshAhead %v, want %v", args, in.RefreshAhead, tc.want)
			}
			if in.Background {
				t.Errorf("%q: a request for a token ran as the background refresh", args)
			}
		}
	}
}

// The --refresh-ahead message states the bounds it enforces: every value
// it refuses lies outside them, every value inside is accepted.
func TestRefreshAheadBounds(t *testing.T) {
	for _, a := range []string{"-1ns", "-1s", "10m0.001s", "11m", "1h", "x", "5"} {
		_, reached, stderr, code := runTokenInput(t, "token", "--cluster-name", "a", "--refresh-ahead", a)
		if reached || code == 0 || !strings.Contains(stderr, "--help") {
			t.Errorf("--refresh-ahead %s: reached %v, exit %d, stderr %q", a, reached, code, stderr)
		}
		if d, err := time.ParseDuration(a); err == nil && !strings.Contains(stderr, "--refresh-ahead "+d.String()+": must be at least 0s (off) and at most 10m") {
			t.Errorf("--refresh-ahead %s: stderr %q does not state the bounds", a, stderr)
		}
	}
	for _, a := range []time.Duration{0, time.Nanosecond, time.Minute, tokencache.MaxRefreshAhead} {
		if _, reached, stderr, _ := runTokenInput(t, "token", "--cluster-name", "a", "--refresh-ahead", a.String()); !reached {
			t.Errorf("--refresh-ahead %v refused: %s", a, stderr)
		}
	}
}

// --background is the refresh a hit starts: hidden from help, passed to
// the use case, and, without a replacement, run by gettoken.Background,
// which answers nobody (nothing on stdout, even with a fresh token cached,
// where gettoken.Run would print it).
func TestBackgroundFlag(t *testing.T) {
	in, reached, stderr, code := runTokenInput(t, "token", "--cluster-name", "a", "--background")
	if !reached || code != 0 || !in.Background {
		t.Errorf("--background: reached %v, exit %d, Background %v, stderr %q", reached, code, in.Background, stderr)
	}
	for _, form := range [][]string{{"token", "--help"}, {"eks", "get-token", "--help"}} {
		out, _, _ := run(t, form...)
		if strings.Contains(out, "--background") {
			t.Errorf("%q shows the hidden flag:\n%s", form, out)
		}
		if !strings.Contains(out, "--refresh-ahead") {
			t.Errorf("%q does not show --refresh-ahead:\n%s", form, out)
		}
	}

	home, cacheDir := t.TempDir(), t.TempDir()
	signed := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	getenv := func(string) string { return "" }
	id := tokencache.NewIdentity(tokencache.Request{ClusterName: "prod", Region: "eu-west-1", SessionName: tokencache.DefaultSessionName}, getenv, home)
	e := tokencache.NewEntry(id.Key(), signedToken())
	e.Cluster, e.Region = "prod", "eu-west-1"
	if err := (cache.Store{Dir: cacheDir}).Write(id.Name(), e); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		extra     []string
		wantPrint bool
	}{{nil, true}, {[]string{"--background"}, false}} {
		var out, errb bytes.Buffer
		args := append([]string{"token", "--cluster-name", "prod", "--region", "eu-west-1", "--cache-dir", cacheDir}, tc.extra...)
		code := Run(context.Background(), Env{
			Args: args, Getenv: getenv, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Now: func() time.Time { return signed.Add(time.Minute) }, Home: home, Version: "v1.2.3",
		})
		if code != 0 || errb.Len() != 0 || (out.Len() > 0) != tc.wantPrint {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want printed %v", args, code, out.String(), errb.String(), tc.wantPrint)
		}
	}
}

// signedToken is a well-formed token signed 2026-11-27 09:00:00Z.
func signedToken() string {
	u := "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIDEXAMPLE%2F20261127%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261127T090000Z&X-Amz-Expires=60" +
		"&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=00"
	return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(u))
}
