// Command bench measures ekstoken against the aws CLI and a floor program,
// alone and as kubectl end to end against a local EKS-like API server
// (internal/fakeeks). It drives hyperfine and prints a Markdown table with
// ratios; bench/run.sh installs hyperfine and runs it.
//
// Everything runs on 127.0.0.1 with dummy keys, in a temporary HOME, with
// AWS_EC2_METADATA_DISABLED=true: nothing reaches AWS.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/moto"
)

const (
	cluster = "bench-cluster"
	region  = "us-west-2"
	akid    = "AKIDBENCHEXAMPLE0001"
	secret  = "bench/secret/key/EXAMPLEKEYEXAMPLEKEY00"
)

type result struct {
	Command string    `json:"command"`
	Mean    float64   `json:"mean"`
	Stddev  float64   `json:"stddev"`
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Times   []float64 `json:"times"`
}

type bench struct {
	dir     string
	env     []string
	results map[string]result
	rss     map[string]int64 // KiB
	runs    int
}

func main() {
	runs := flag.Int("runs", 300, "hyperfine runs for fast commands (slow ones use fewer)")
	withCABundle := flag.Bool("ca-bundle", false, "also measure a miss with AWS_CA_BUNDLE set to the system bundle")
	flag.Parse()
	if err := run(*runs, *withCABundle); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(runs int, withCABundle bool) error {
	for _, tool := range []string{"hyperfine", "kubectl", "aws", "/usr/bin/time"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed: %w (bench/run.sh installs hyperfine)", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "ekstoken-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{dir: dir, results: map[string]result{}, rss: map[string]int64{}, runs: runs}

	// Built as a release would be: stripped, without local paths.
	ekstoken, err := devbin.Build(dir, "-trimpath", "-ldflags=-s -w")
	if err != nil {
		return err
	}
	floor := filepath.Join(dir, "floor")
	if o, err := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", floor, "./bench/floor").CombinedOutput(); err != nil {
		return fmt.Errorf("build ./bench/floor: %w\n%s", err, o)
	}
	srv, err := fakeeks.Start(fakeeks.Options{ClusterID: cluster, Identities: []fakeeks.Identity{
		{AccessKeyID: akid, SecretAccessKey: secret, ARN: "arn:aws:iam::111122223333:user/bench"},
	}})
	if err != nil {
		return err
	}
	defer srv.Close()

	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	// A workstation's environment: keys, no config files, no CA bundle.
	b.env = []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=" + akid, "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
	}
	// A profile that assumes a role, for the issue 3 rows.
	roleARN := "arn:aws:iam::111122223333:role/bench-admin"
	if err := os.WriteFile(filepath.Join(home, "config"), []byte("[profile admin]\nrole_arn = "+roleARN+
		"\nsource_profile = base\n\n[profile base]\naws_access_key_id = "+akid+"\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
		return err
	}
	tokenArgs := []string{"token", "--cluster-name", cluster, "--region", region}
	awsArgs := []string{"--region", region, "eks", "get-token", "--cluster-name", cluster, "--output", "json"}

	// Warm the cache and find the entry the floor program will read.
	tok, err := b.output(nil, ekstoken, tokenArgs...)
	if err != nil {
		return err
	}
	if _, err := srv.Verify(jsonToken(tok)); err != nil {
		return fmt.Errorf("the server rejects ekstoken's token: %w", err)
	}
	entries, _ := filepath.Glob(filepath.Join(home, ".kube", "cache", "ekstoken", "token-*.json"))
	if len(entries) != 1 {
		return fmt.Errorf("want one cache entry, found %v", entries)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, srv.Kubeconfig(
		fakeeks.User{Name: "static", Token: jsonToken(tok)},
		fakeeks.User{Name: "ekstoken", Command: ekstoken, Args: tokenArgs},
		fakeeks.User{Name: "aws", Command: "aws", Args: awsArgs},
	), 0o600); err != nil {
		return err
	}
	kubectl := func(ctx string) string {
		return "kubectl --kubeconfig " + kubeconfig + " --context " + ctx + " get namespaces"
	}
	join := func(cmd string, args []string) string { return cmd + " " + strings.Join(args, " ") }

	steps := []step{
		{"floor", floor + " " + entries[0], runs, nil},
		{"ekstoken hit", join(ekstoken, tokenArgs), runs, nil},
		{"ekstoken miss", join(ekstoken, append(tokenArgs, "--force-refresh")), runs / 3, nil},
		{"aws eks get-token", join("aws", awsArgs), 15, nil},
		{"kubectl static token", kubectl("static"), 40, nil},
		{"kubectl ekstoken hit", kubectl("ekstoken"), 40, nil},
		{"kubectl aws eks get-token", kubectl("aws"), 10, nil},
	}
	// Assumed roles (issue 3): STS is moto_server on 127.0.0.1. ekstoken
	// assumes the profile's role once per role session; the aws CLI's
	// --role-arn assumes it on every call.
	motoSrv, err := moto.Start()
	if err != nil {
		return fmt.Errorf("moto_server: %w", err)
	}
	defer motoSrv.Close()
	onMoto := []string{"AWS_ENDPOINT_URL_STS=" + motoSrv.URL}
	roleArgs := []string{"token", "--cluster-name", cluster, "--region", region, "--profile", "admin"}
	if _, err := b.output(onMoto, ekstoken, roleArgs...); err != nil {
		return err
	}
	steps = append(steps, []step{
		{"role: ekstoken hit", join(ekstoken, roleArgs), runs, onMoto},
		{"role: ekstoken miss, credentials cached", join(ekstoken, append(roleArgs, "--force-refresh")), runs / 3, onMoto},
		{"role: ekstoken miss, AssumeRole on moto", join(ekstoken, append(roleArgs, "--force-refresh", "--no-credential-cache")), 30, onMoto},
		{"role: aws eks get-token --role-arn on moto", join("aws", append(awsArgs, "--role-arn", roleARN)), 10, onMoto},
	}...)
	if withCABundle {
		steps = append(steps, step{"ekstoken miss, AWS_CA_BUNDLE=system", join(ekstoken, append(tokenArgs, "--force-refresh")), runs / 3,
			[]string{"AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"}})
	}
	for _, s := range steps {
		if err := b.hyperfine(s); err != nil {
			return err
		}
	}
	for name, args := range map[string][]string{"ekstoken hit": tokenArgs, "ekstoken miss": append(tokenArgs, "--force-refresh")} {
		if b.rss[name], err = b.peakRSS(ekstoken, args...); err != nil {
			return err
		}
	}
	if st := srv.Stats(); st.Rejected != 0 {
		return fmt.Errorf("the server rejected %d requests: %s", st.Rejected, st.LastRejectReason)
	}
	b.report(os.Stdout)
	return nil
}

// step is one hyperfine measurement; env is added to the bench's own.
type step struct {
	name, cmd string
	runs      int
	env       []string
}

func (b *bench) output(env []string, cmd string, args ...string) (string, error) {
	c := exec.Command(cmd, args...)
	c.Env = append(append([]string{}, b.env...), env...)
	c.Stderr = os.Stderr
	out, err := c.Output()
	if err != nil {
		return "", fmt.Errorf("%s %v: %w", cmd, args, err)
	}
	return string(out), nil
}

func (b *bench) hyperfine(s step) error {
	name := s.name
	out := filepath.Join(b.dir, "hf.json")
	c := exec.Command("hyperfine", "-N", "--warmup", "3", "--runs", fmt.Sprint(s.runs), "--export-json", out, "--command-name", name, s.cmd)
	c.Env = append(append([]string{}, b.env...), s.env...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("hyperfine %s: %w", name, err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	var doc struct{ Results []result }
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("hyperfine output %s: %w", out, err)
	}
	if len(doc.Results) != 1 {
		return fmt.Errorf("hyperfine output %s: %d results, want 1", out, len(doc.Results))
	}
	b.results[name] = doc.Results[0]
	return nil
}

// peakRSS is the largest resident set over 20 runs, as GNU time reports
// it. (Go's ProcessState.SysUsage is no good here: Linux folds every
// earlier child into ru_maxrss.)
func (b *bench) peakRSS(cmd string, args ...string) (int64, error) {
	var peak int64
	for range 20 {
		c := exec.Command("/usr/bin/time", append([]string{"-f", "%M", cmd}, args...)...)
		c.Env = b.env
		var stderr strings.Builder
		c.Stderr = &stderr
		if err := c.Run(); err != nil {
			return 0, fmt.Errorf("time %s: %w: %s", cmd, err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("time output %q: %w", stderr.String(), err)
		}
		peak = max(peak, kib)
	}
	return peak, nil
}

func (b *bench) ratio(a, c string) float64 { return b.results[a].Mean / b.results[c].Mean }

func (b *bench) report(w *os.File) {
	fmt.Fprintln(w, "| what | mean | ± σ | runs |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	names := make([]string, 0, len(b.results))
	for n := range b.results {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return b.results[names[i]].Mean < b.results[names[j]].Mean })
	for _, n := range names {
		r := b.results[n]
		fmt.Fprintf(w, "| %s | %s | %s | %d |\n", n, ms(r.Mean), ms(r.Stddev), len(r.Times))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | goal |")
	fmt.Fprintln(w, "|---|---:|---|")
	fmt.Fprintf(w, "| cache hit / floor program | %.2f× | ≤ 2.5× |\n", b.ratio("ekstoken hit", "floor"))
	fmt.Fprintf(w, "| aws eks get-token / ekstoken miss (plain keys) | %.0f× faster | ≥ 50× |\n", b.ratio("aws eks get-token", "ekstoken miss"))
	fmt.Fprintf(w, "| kubectl with ekstoken (hit) / kubectl with a static token | %.3f× | ≤ 1.10× |\n", b.ratio("kubectl ekstoken hit", "kubectl static token"))
	fmt.Fprintf(w, "| kubectl with aws eks get-token / kubectl with ekstoken (hit) | %.1f× slower | |\n", b.ratio("kubectl aws eks get-token", "kubectl ekstoken hit"))
	fmt.Fprintf(w, "| peak RSS, hit / miss | %.1f / %.1f MiB | ≤ 30 MiB |\n", float64(b.rss["ekstoken hit"])/1024, float64(b.rss["ekstoken miss"])/1024)
	fmt.Fprintf(w, "| aws eks get-token --role-arn / ekstoken miss with AssumeRole (both on moto) | %.1f× faster | |\n",
		b.ratio("role: aws eks get-token --role-arn on moto", "role: ekstoken miss, AssumeRole on moto"))
	fmt.Fprintf(w, "| aws eks get-token --role-arn / ekstoken hit, assumed-role profile | %.0f× faster | |\n",
		b.ratio("role: aws eks get-token --role-arn on moto", "role: ekstoken hit"))
	if _, ok := b.results["ekstoken miss, AWS_CA_BUNDLE=system"]; ok {
		fmt.Fprintf(w, "| aws eks get-token / ekstoken miss with AWS_CA_BUNDLE=system bundle | %.0f× faster | |\n", b.ratio("aws eks get-token", "ekstoken miss, AWS_CA_BUNDLE=system"))
	}
}

func ms(s float64) string {
	v := s * 1000
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", math.Round(v))
	}
	return fmt.Sprintf("%.2f ms", v)
}

func jsonToken(execCredential string) string {
	var ec struct{ Status struct{ Token string } }
	_ = json.Unmarshal([]byte(execCredential), &ec)
	return ec.Status.Token
}
