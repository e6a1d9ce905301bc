package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const parallelRuns = 20

// slowProfile writes an AWS config whose profile "slow" gets alice's keys
// from a credential_process that takes 0.3 s and counts its runs; it returns
// the file the runs are counted in, one line each.
func slowProfile(t *testing.T, sb *sandbox) (counter string) {
	t.Helper()
	counter = filepath.Join(sb.home, "credential-process-runs")
	creds := fmt.Sprintf(`{"Version":1,"AccessKeyId":%q,"SecretAccessKey":%q,"Expiration":%q}`,
		accessKeyID, secretKey, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	script := filepath.Join(sb.home, "credential-process.sh")
	writeFile(t, script, fmt.Sprintf("echo run >> '%s'\nsleep 0.3\necho '%s'\n", counter, creds))
	writeFile(t, filepath.Join(sb.home, ".aws", "config"), "[profile slow]\ncredential_process = /bin/sh "+script+"\n")
	return counter
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// countRuns is how many times the credential process ran.
func countRuns(t *testing.T, counter string) int {
	t.Helper()
	b, err := os.ReadFile(counter)
	if err != nil {
		t.Fatalf("the credential process never ran: %v", err)
	}
	return strings.Count(string(b), "\n")
}

// Many processes that start together on a cold cache resolve credentials
// once: one signs while the others wait for its entry.
func TestParallelColdCache(t *testing.T) {
	t.Parallel()
	args := slices.Concat(tokenArgs, []string{"--profile", "slow"})

	// The token lock alone must do it, without the credential cache too.
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"ekstoken", nil},
		{"ekstoken without the credential cache", []string{"--no-credential-cache"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := slices.Concat(args, tc.extra)
			s := startEKS(t, nil)
			sb := newSandbox(t)
			counter := slowProfile(t, sb)
			var tokens []string
			for i, r := range runParallel(t, parallelRuns, sb.with(), ekstokenBin, args...) {
				if r.err != nil {
					t.Fatalf("run %d: %v\n%s", i, r.err, r.stderr)
				}
				tokens = append(tokens, parseCredential(t, r.stdout, v1beta1).Status.Token)
			}
			for _, tok := range tokens {
				mustVerify(t, s, tok)
			}
			if st := s.Stats(); st.Authenticated != parallelRuns || st.DistinctTokens != 1 {
				t.Errorf("fakeeks saw %d valid tokens, %d distinct; want %d, 1 distinct", st.Authenticated, st.DistinctTokens, parallelRuns)
			}
			if n := countRuns(t, counter); n != 1 {
				t.Errorf("credentials were resolved %d times, want 1", n)
			}
			onlyEntry(t, sb.cacheDir)
		})
	}

	t.Run("kubectl", func(t *testing.T) {
		s := startEKS(t, nil)
		sb := newSandbox(t)
		counter := slowProfile(t, sb)
		kc := writeKubeconfig(t, s, execUser("slow", v1beta1, args...))
		results := runParallel(t, parallelRuns, sb.with(), kubectlPath(t), "--kubeconfig", kc, "--context", "slow", "get", "ns")
		for i, r := range results {
			if r.err != nil {
				t.Errorf("kubectl run %d: %v\n%s", i, r.err, r.stderr)
			}
		}
		if n := countRuns(t, counter); n != 1 {
			t.Errorf("credentials were resolved %d times, want 1", n)
		}
		onlyEntry(t, sb.cacheDir)
		checkStats(t, s, 0, 1)
	})
}
