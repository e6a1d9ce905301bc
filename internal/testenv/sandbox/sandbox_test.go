package sandbox

import (
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
)

// A request to any host other than 127.0.0.1, made the way every Go
// program of a sandbox makes it (the proxy from the environment), lands in
// the trap; one to 127.0.0.1 does not.
func TestTrapCatchesEgress(t *testing.T) {
	tr := New(t, Options{}).Trap
	proxy, err := url.Parse(tr.URL())
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	for _, host := range []string{"sts.amazonaws.com", "eks.eu-west-1.amazonaws.com", "169.254.169.254"} {
		resp, err := client.Get("http://" + host + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403 from the trap", host, resp.StatusCode)
		}
	}
	got := tr.Seen()
	if len(got) != 3 || !strings.Contains(got[0], "sts.amazonaws.com") {
		t.Errorf("trap saw %v, want the three requests", got)
	}
	// This test made those requests on purpose: forget them so that the
	// trap's own check at the end of the test passes.
	tr.mu.Lock()
	tr.got = nil
	tr.mu.Unlock()
}

func TestCheckEnv(t *testing.T) {
	sb := New(t, Options{CacheDir: t.TempDir()})
	if err := CheckEnv(sb.Env()); err != nil {
		t.Fatalf("the sandbox's own environment: %v", err)
	}
	tests := []struct {
		name string
		env  []string
		want string // in the error
	}{
		{"metadata on", sb.Env("AWS_EC2_METADATA_DISABLED=false"), "instance metadata"},
		{"metadata unset", Without(sb.Env(), "AWS_EC2_METADATA_DISABLED"), "instance metadata"},
		{"metadata endpoint remote", sb.Env("AWS_EC2_METADATA_SERVICE_ENDPOINT=http://169.254.169.254/"), "AWS_EC2_METADATA_SERVICE_ENDPOINT"},
		{"STS endpoint remote", sb.Env("AWS_ENDPOINT_URL_STS=https://sts.amazonaws.com"), "AWS_ENDPOINT_URL_STS"},
		{"any endpoint remote", sb.Env("AWS_ENDPOINT_URL=https://example.com"), "AWS_ENDPOINT_URL="},
		{"endpoint on localhost name", sb.Env("AWS_ENDPOINT_URL_EKS=http://localhost:1"), "AWS_ENDPOINT_URL_EKS"},
		{"container URI remote", sb.Env("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1"), "AWS_CONTAINER_CREDENTIALS_FULL_URI"},
		{"unknown AWS variable", sb.Env("AWS_USE_FIPS_ENDPOINT=true"), "AWS_USE_FIPS_ENDPOINT"},
		{"no HOME", Without(sb.Env(), "HOME"), "HOME"},
		{"the real HOME", sb.Env("HOME=" + os.Getenv("HOME")), "HOME"},
		{"no HTTPS proxy", Without(sb.Env(), "HTTPS_PROXY"), "HTTPS_PROXY"},
		{"lower-case proxy elsewhere", sb.Env("https_proxy=http://127.0.0.1:3128"), "https_proxy"},
		{"proxy off the machine", sb.Env("HTTP_PROXY=http://proxy.example.com" + trapMarker), "HTTP_PROXY"},
		{"NO_PROXY lets AWS past", sb.Env("NO_PROXY=127.0.0.1,.amazonaws.com"), ".amazonaws.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "the real HOME" && os.Getenv("HOME") == "" {
				t.Skip("HOME is not set here")
			}
			err := CheckEnv(tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckEnv = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	// Endpoints on 127.0.0.1 and the variables of every way to log in are
	// fine.
	ok := sb.Env("AWS_ENDPOINT_URL_STS=http://127.0.0.1:5000", "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:7/creds",
		"AWS_ROLE_ARN=arn:aws:iam::1:role/r", "AWS_WEB_IDENTITY_TOKEN_FILE=/x", "AWS_PAGER=", "AWS_REGION=eu-west-1")
	if err := CheckEnv(ok); err != nil {
		t.Errorf("CheckEnv(local endpoints) = %v", err)
	}
}

func TestEnvReplacesKeys(t *testing.T) {
	sb := New(t, Options{})
	env := sb.Env("AWS_REGION=a", "AWS_REGION=b", "AWS_PAGER=")
	if got := Value(env, "AWS_REGION"); got != "b" {
		t.Errorf("AWS_REGION = %q, want the later b", got)
	}
	n := 0
	for _, kv := range env {
		if strings.HasPrefix(kv, "AWS_REGION=") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d AWS_REGION entries, want 1", n)
	}
	if !strings.Contains(strings.Join(env, "\n"), "\nAWS_PAGER=\n") && !strings.HasSuffix(strings.Join(env, "\n"), "\nAWS_PAGER=") {
		t.Errorf("AWS_PAGER= (empty, which turns the aws CLI's pager off) is gone: %v", env)
	}
}

// Run hands the process exactly the environment and returns its streams
// and exit code.
func TestRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("runs /bin/sh")
	}
	sb := New(t, Options{})
	r := Proc{Env: sb.Env("FOO=bar")}.Run(t, "/bin/sh", "-c", "echo $FOO; echo err >&2; exit 3")
	if r.Stdout != "bar\n" || r.Stderr != "err\n" || r.Code() != 3 {
		t.Errorf("Run = %+v, code %d", r, r.Code())
	}
}

func TestParseCredential(t *testing.T) {
	const good = `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{},"status":{"expirationTimestamp":"2026-11-29T14:00:00Z","token":"k8s-aws-v1.abc"}}`
	c, err := ParseCredential(good + "\n")
	if err != nil || c.Status.Token != "k8s-aws-v1.abc" || c.APIVersion != APIVersions[1] {
		t.Fatalf("ParseCredential(good) = %+v, %v", c, err)
	}
	for name, stdout := range map[string]string{
		"empty":             "",
		"no newline":        good,
		"two lines":         good + "\n" + good + "\n",
		"log line first":    "refreshing\n" + good + "\n",
		"two values":        good + good + "\n",
		"unknown field":     strings.Replace(good, `"spec":{}`, `"spec":{},"extra":1`, 1) + "\n",
		"wrong kind":        strings.Replace(good, `"ExecCredential"`, `"Credential"`, 1) + "\n",
		"unknown version":   strings.Replace(good, "v1beta1", "v1alpha1", 1) + "\n",
		"not an EKS token":  strings.Replace(good, "k8s-aws-v1.abc", "abc", 1) + "\n",
		"no expiry":         strings.Replace(good, `"expirationTimestamp":"2026-11-29T14:00:00Z",`, "", 1) + "\n",
		"indented JSON":     "{\n" + good[1:] + "\n",
		"trailing garbage}": good[:len(good)-1] + `,"x":}` + "\n",
	} {
		if _, err := ParseCredential(stdout); err == nil {
			t.Errorf("%s: ParseCredential(%q) accepted it", name, stdout)
		}
	}
}
