package setup

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// regionKnown: a region is found at run time from AWS_REGION,
// AWS_DEFAULT_REGION, or the profile's region (the profile named, else
// AWS_PROFILE, else default), and from nothing else.
func TestRegionKnown(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aws", "config"), []byte("[profile withregion]\nregion = eu-west-1\n[profile bare]\noutput = json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env     map[string]string
		profile string
		want    bool
	}{
		{nil, "", false},
		{nil, "bare", false},
		{nil, "withregion", true},
		{map[string]string{"AWS_REGION": "us-east-2"}, "bare", true},
		{map[string]string{"AWS_DEFAULT_REGION": "us-east-2"}, "", true},
		{map[string]string{"AWS_PROFILE": "withregion"}, "", true},
		{map[string]string{"AWS_PROFILE": "withregion"}, "bare", false},
	} {
		env := Env{Home: home, Getenv: func(k string) string { return tc.env[k] }}
		if got := regionKnown(context.Background(), env, tc.profile); got != tc.want {
			t.Errorf("env %v, profile %q: regionKnown = %v, want %v", tc.env, tc.profile, got, tc.want)
		}
	}
}

// KUBECONFIG naming only files that do not exist: kubectl finds no
// kubeconfig, and setup says so instead of exiting 0 having done nothing.
func TestSetupWithNoKubeconfigAtAll(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "a") + string(os.PathListSeparator) + filepath.Join(dir, "b")
	var stderr strings.Builder
	env := Env{Home: dir, Getenv: func(k string) string {
		if k == "KUBECONFIG" {
			return list
		}
		return ""
	}, Stdout: io.Discard, Stderr: &stderr, Now: time.Now}
	err := Run(context.Background(), env, Input{Command: "ekstoken"})
	if err == nil || !strings.Contains(err.Error(), "none of the KUBECONFIG files exists") {
		t.Errorf("err = %v, want one that says no kubeconfig exists", err)
	}
}
