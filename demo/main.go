// Command demo shows ekstoken at work without an AWS account: it starts a
// local EKS-like API server (internal/fakeeks) on 127.0.0.1, writes a
// temporary kubeconfig whose user runs ekstoken with dummy keys, and runs
// the real kubectl through it, cold and then warm, beside `aws eks
// get-token` when the aws CLI is installed.
//
// It touches no real kubeconfig, cache or AWS configuration, and leaves
// nothing running: everything lives in a temporary directory removed at
// the end.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/fakeeks"
)

const (
	cluster = "demo-cluster"
	region  = "us-west-2"
	akid    = "AKIDDEMOEXAMPLE00001"
	secret  = "demo/secret/EXAMPLEKEYEXAMPLEKEY0001"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return fmt.Errorf("the demo runs the real kubectl: install it first (%w)", err)
	}
	dir, err := os.MkdirTemp("", "ekstoken-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	step("building ekstoken")
	bin, err := devbin.Build(dir)
	if err != nil {
		return err
	}
	srv, err := fakeeks.Start(fakeeks.Options{ClusterID: cluster, Identities: []fakeeks.Identity{
		{AccessKeyID: akid, SecretAccessKey: secret, ARN: "arn:aws:iam::111122223333:user/demo"},
	}})
	if err != nil {
		return err
	}
	defer srv.Close()
	step("local EKS-like API server on " + srv.URL + " (checks tokens the way EKS and STS do)")

	// Dummy keys and a private cache, passed through the kubeconfig's env:
	// the person's own AWS files, keys and cache are never read or written.
	env := map[string]string{
		"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret,
		"AWS_CONFIG_FILE": filepath.Join(dir, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED": "true",
		"EKSTOKEN_CACHE_DIR":        filepath.Join(dir, "cache"),
	}
	users := []fakeeks.User{{Name: "ekstoken", Command: bin, Args: []string{"token", "--cluster-name", cluster, "--region", region}, Env: env}}
	_, awsErr := exec.LookPath("aws")
	if awsErr == nil {
		users = append(users, fakeeks.User{Name: "aws-cli", Command: "aws", Env: env,
			Args: []string{"--region", region, "eks", "get-token", "--cluster-name", cluster, "--output", "json"}})
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, srv.Kubeconfig(users...), 0o600); err != nil {
		return err
	}
	step("kubeconfig " + kubeconfig + ": its user runs\n    " + bin + " " + strings.Join(users[0].Args, " "))

	k := func(context string, args ...string) (string, time.Duration, error) {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig, "--context", context}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECONFIG=", "HOME="+dir) // kubectl's discovery cache too
		start := time.Now()
		out, err := cmd.CombinedOutput()
		return string(out), time.Since(start), err
	}
	out, _, err := k("ekstoken", "get", "namespaces")
	if err != nil {
		return fmt.Errorf("kubectl get namespaces: %w\n%s", err, out)
	}
	step("kubectl get namespaces (cold: ekstoken signs a token and caches it)")
	fmt.Print(indent(out))
	out, _, err = k("ekstoken", "auth", "whoami")
	if err != nil {
		return fmt.Errorf("kubectl auth whoami: %w\n%s", err, out)
	}
	step("kubectl auth whoami (the server mapped the signed identity)")
	fmt.Print(indent(out))

	// Cold: an empty token cache (kubectl's discovery cache is warm by now,
	// so the difference is ekstoken's).
	clear := exec.Command(bin, "clear")
	clear.Env = append(os.Environ(), "EKSTOKEN_CACHE_DIR="+env["EKSTOKEN_CACHE_DIR"])
	if out, err := clear.CombinedOutput(); err != nil {
		return fmt.Errorf("ekstoken clear: %w\n%s", err, out)
	}
	_, cold, err := k("ekstoken", "get", "namespaces")
	if err != nil {
		return err
	}
	warm, err := best(5, func() (time.Duration, error) { _, d, err := k("ekstoken", "get", "namespaces"); return d, err })
	if err != nil {
		return err
	}
	step("timings of kubectl get namespaces")
	row := func(what string, d time.Duration, note string) {
		fmt.Printf("    %-34s %6.0f ms  %s\n", what, ms(d), note)
	}
	row("ekstoken, cold cache", cold, "(signs and caches a token)")
	row("ekstoken, warm cache (best of 5)", warm, "(reads one file)")
	if awsErr == nil {
		awsTime, err := best(3, func() (time.Duration, error) { _, d, err := k("aws-cli", "get", "namespaces"); return d, err })
		if err != nil {
			return fmt.Errorf("kubectl with aws eks get-token: %w", err)
		}
		row("aws eks get-token (best of 3)", awsTime, fmt.Sprintf("(%.0f× the warm ekstoken run)", ms(awsTime)/ms(warm)))
	} else {
		fmt.Println("    (install the aws CLI to see `aws eks get-token` beside it)")
	}

	status := exec.Command(bin, "status")
	status.Env = append(os.Environ(), "EKSTOKEN_CACHE_DIR="+env["EKSTOKEN_CACHE_DIR"])
	out2, err := status.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ekstoken status: %w\n%s", err, out2)
	}
	step("ekstoken status")
	fmt.Print(indent(string(out2)))
	step(fmt.Sprintf("done: the server authenticated %d requests; the temporary directory is removed", srv.Stats().Authenticated))
	return nil
}

func best(n int, f func() (time.Duration, error)) (time.Duration, error) {
	var min time.Duration
	for i := 0; i < n; i++ {
		d, err := f()
		if err != nil {
			return 0, err
		}
		if i == 0 || d < min {
			min = d
		}
	}
	return min, nil
}

func step(s string) { fmt.Println("==> " + s) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
