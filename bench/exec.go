package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ekstoken/ekstoken/internal/devbin"
)

// runExec measures `ekstoken exec` around a plugin that takes 300 ms (the
// order of gke-gcloud-auth-plugin or kubelogin with a warm cache): the
// wrapped hit against the plugin alone, and against an ekstoken token hit,
// which takes the same fast path.
func runExec(rounds int, out io.Writer) error {
	b, err := newBench("ekstoken-bench-exec-")
	if err != nil {
		return err
	}
	defer b.close()
	dir := b.dir
	ekstoken, err := devbin.Build(dir, "-trimpath", "-ldflags=-s -w")
	if err != nil {
		return err
	}
	plugin, err := devbin.BuildFakePlugin(dir)
	if err != nil {
		return err
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	b.env = []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=" + akid, "AWS_SECRET_ACCESS_KEY=" + secret,
		`KUBERNETES_EXEC_INFO={"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}`,
		"FAKE_SLEEP=300ms", "FAKE_EXPIRY=1h",
	}
	wrapped := []string{ekstoken, "exec", "--", plugin, "get-token"}
	tokenArgs := []string{"token", "--cluster-name", cluster, "--region", region}
	for _, warm := range [][]string{wrapped, append([]string{ekstoken}, tokenArgs...)} {
		if _, err := b.output(nil, warm[0], warm[1:]...); err != nil {
			return err
		}
	}
	if err := b.interleave(rounds, []command{
		{name: "ekstoken exec hit (300 ms plugin wrapped)", argv: wrapped},
		{name: "ekstoken token hit", argv: append([]string{ekstoken}, tokenArgs...)},
	}); err != nil {
		return err
	}
	if err := b.interleave(max(rounds/20, 5), []command{
		{name: "300 ms plugin alone", argv: []string{plugin, "get-token"}},
		{name: "ekstoken exec miss (--no-cache)", argv: []string{ekstoken, "exec", "--no-cache", "--", plugin, "get-token"}},
	}); err != nil {
		return err
	}
	fmt.Fprintln(out, "| what | median | runs |")
	fmt.Fprintln(out, "|---|---:|---:|")
	for _, n := range []string{"ekstoken exec hit (300 ms plugin wrapped)", "ekstoken token hit", "300 ms plugin alone", "ekstoken exec miss (--no-cache)"} {
		fmt.Fprintf(out, "| %s | %s | %d |\n", n, ms(median(b.samples[n])), len(b.samples[n]))
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "| ratio | measured |\n|---|---:|\n")
	fmt.Fprintf(out, "| exec hit / token hit (median of per-round ratios) | %.2f× |\n", b.ratio("ekstoken exec hit (300 ms plugin wrapped)", "ekstoken token hit"))
	fmt.Fprintf(out, "| plugin alone / exec hit | %.0f× slower |\n", median(b.samples["300 ms plugin alone"])/median(b.samples["ekstoken exec hit (300 ms plugin wrapped)"]))
	fmt.Fprintf(out, "| exec miss - plugin alone (wrapper overhead on a miss) | %s |\n", ms(median(b.samples["ekstoken exec miss (--no-cache)"])-median(b.samples["300 ms plugin alone"])))
	return nil
}
