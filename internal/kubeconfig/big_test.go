package kubeconfig

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// bigKubeconfig is a kubeconfig of n EKS clusters, each with the cluster,
// context and user that `aws eks update-kubeconfig` writes (in its layout:
// every list sorted by name, block style), with a comment here and there.
func bigKubeconfig(n int) []byte { return bigKubeconfigCA(n, 40) }

// bigKubeconfigCA is bigKubeconfig with certificates of caUnits*36 bytes.
func bigKubeconfigCA(n, caUnits int) []byte {
	var clusters, contexts, users strings.Builder
	ca := strings.Repeat("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t", caUnits)
	for i := range n {
		arn := fmt.Sprintf("arn:aws:eks:eu-west-1:111122223333:cluster/c%06d", i)
		fmt.Fprintf(&clusters, "- cluster:\n    certificate-authority-data: %s\n    server: https://%032X.gr7.eu-west-1.eks.amazonaws.com\n  name: %s\n", ca, i, arn)
		fmt.Fprintf(&contexts, "- context:\n    cluster: %s\n    user: %s\n  name: %s\n", arn, arn, arn)
		if i%7 == 0 {
			users.WriteString("# team " + fmt.Sprint(i) + "\n")
		}
		fmt.Fprintf(&users, "- name: %s\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n      - --region\n      - eu-west-1\n      - eks\n      - get-token\n      - --cluster-name\n      - c%06d\n      - --output\n      - json\n      command: aws\n", arn, i)
	}
	return []byte("apiVersion: v1\nclusters:\n" + clusters.String() + "contexts:\n" + contexts.String() +
		"current-context: arn:aws:eks:eu-west-1:111122223333:cluster/c000000\nkind: Config\npreferences: {}\nusers:\n" + users.String())
}

func BenchmarkRewriteBig(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		src := bigKubeconfig(n)
		opts := RewriteOptions{Command: "ekstoken"}
		out, _, err := Rewrite(src, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("setup/users=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := Rewrite(src, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("rerun/users=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := Rewrite(out, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("diff/users=%d", n), func(b *testing.B) {
			for b.Loop() {
				Diff("config", src, out)
			}
		})
	}
}

// In a big kubeconfig that setup rewrites, the diff marks only the lines
// that changed in each user (7: eight old args less the two kept, and the
// command; 5 added: three new args, the command and interactiveMode),
// as for a small file: it does not fall back to replacing the
// whole users list. (That the diff applies is internal/yamledit's test.)
func TestDiffBigKubeconfigHasSmallHunks(t *testing.T) {
	for _, n := range []int{50, 400} {
		src := bigKubeconfig(n)
		out, changes, err := Rewrite(src, RewriteOptions{Command: "ekstoken"})
		if err != nil || len(changes) != n {
			t.Fatalf("%d users: %d changes, %v", n, len(changes), err)
		}
		d := Diff("config", src, out)
		body := strings.SplitN(d, "\n", 3)[2] // after the --- and +++ lines
		if removed, added := strings.Count("\n"+body, "\n-"), strings.Count("\n"+body, "\n+"); removed != 7*n || added != 5*n {
			t.Errorf("%d users: %d removed and %d added lines, want %d and %d", n, removed, added, 7*n, 5*n)
		}
	}
}

// setup, a rerun, a dry run, Names and Upsert (update-kubeconfig) stay
// linear in the number of users.
// The guard is the allocation count, which a busy machine does not change:
// four times the users may allocate at most five times as often (linear
// is four, quadratic sixteen). Time is a second, coarse guard for work
// that does not allocate: eight times the users may take at most 48 times
// as long (linear is eight, quadratic 64; caches and a loaded machine
// make small inputs look cheap, hence the margin), checked only where the
// small run is long enough to time. Each size is timed a few times after
// a GC and the fastest run counts.
func TestBigKubeconfigIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("times thousands of users")
	}
	n := 300
	if raceEnabled {
		n = 100 // allocation counts grow the same way at any size
	}
	small, big := bigKubeconfigCA(n, 1), bigKubeconfigCA(4*n, 1)
	huge := big
	if !raceEnabled {
		huge = bigKubeconfigCA(8*n, 1)
	}
	opts := RewriteOptions{Command: "ekstoken"}
	rewritten := func(src []byte) []byte {
		out, _, err := Rewrite(src, opts)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	smallOut, bigOut := rewritten(small), rewritten(big)
	hugeOut := bigOut
	if !raceEnabled {
		hugeOut = rewritten(huge)
	}
	entry := Entry{ClusterName: "new", Server: "https://new.example", Exec: Exec{Command: "ekstoken", Args: []string{"token", "--cluster-name", "new"}}, SetCurrent: true}
	upsert := func(src []byte) {
		if _, err := Upsert(src, entry); err != nil {
			t.Fatal(err)
		}
	}
	fastest := func(f func()) time.Duration {
		best := time.Duration(1 << 62)
		for range 3 {
			runtime.GC()
			start := time.Now()
			f()
			best = min(best, time.Since(start))
		}
		return best
	}
	for _, tc := range []struct {
		name             string
		small, big, huge func()
	}{
		{"setup", func() { rewritten(small) }, func() { rewritten(big) }, func() { rewritten(huge) }},
		{"rerun", func() { rewritten(smallOut) }, func() { rewritten(bigOut) }, func() { rewritten(hugeOut) }},
		{"dry run diff", func() { Diff("c", small, smallOut) }, func() { Diff("c", big, bigOut) }, func() { Diff("c", huge, hugeOut) }},
		{"names", func() { _, _, _ = Names(small) }, func() { _, _, _ = Names(big) }, func() { _, _, _ = Names(huge) }},
		{"upsert", func() { upsert(small) }, func() { upsert(big) }, func() { upsert(huge) }},
	} {
		as, ab := testing.AllocsPerRun(1, tc.small), testing.AllocsPerRun(1, tc.big)
		if ab > 5*as {
			t.Errorf("%s: %d users allocate %.0f times, %d users %.0f: %.1f times as often, want about 4", tc.name, n, as, 4*n, ab, ab/as)
		}
		if raceEnabled {
			continue
		}
		ts, th := fastest(tc.small), fastest(tc.huge)
		t.Logf("%s: %d users %v, %.0f allocations; %d users %.0f allocations; %d users %v", tc.name, n, ts, as, 4*n, ab, 8*n, th)
		if ts >= 10*time.Millisecond && th > 48*ts {
			t.Errorf("%s: %d users took %v, %d users %v: %.1f times as long, want about 8", tc.name, n, ts, 8*n, th, float64(th)/float64(ts))
		}
	}
}
