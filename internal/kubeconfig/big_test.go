package kubeconfig

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
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

// The fast path of plainSafe says "plain" only where yaml.v3 would write
// the string plain too, for words of every shape kubeconfig args take.
func TestSimpleWordAgreesWithYAML(t *testing.T) {
	words := []string{"token", "--cluster-name", "eu-west-1", "c000123", "prod.v2", "a/b", "x_y",
		"y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "on", "On", "ON", "off", "Off", "true", "True",
		"TRUE", "false", "False", "null", "Null", "NULL", "nan", "NaN", "inf", "Inf", "e1", "E10", "x1e5",
		"a.b.c", "a..b", "a--", "a-", "a.", "a/", "abc/def-1.2_3", "--1", "---", "--", "--a", "--yes", "--.a", "-- a", "--a b", strings.Repeat("a", 300), "tilde~", "b:c"}
	for _, p := range []string{"1", "-1", ".5", "0x1f", "0o17", "1e3", ".inf", ".nan", "~", "-", "0755", "2006-01-02", "1:20"} {
		words = append(words, p, "a"+p)
	}
	for _, w := range words {
		out, err := yaml.Marshal(w)
		marshalPlain := err == nil && string(out) == w+"\n"
		if simpleWord(w) && !marshalPlain {
			t.Errorf("simpleWord(%q) is true, but yaml.v3 writes %q", w, out)
		}
	}
	for _, w := range []string{"token", "--cluster-name", "eu-west-1", "c000123"} {
		if !simpleWord(w) {
			t.Errorf("simpleWord(%q) is false: the fast path is not taken", w)
		}
	}
}

// Diff is right for any pair of texts: many repeated lines (where anchors
// are rare), unique ones, edits at the ends, and texts with nothing in
// common. Applying it to the old text gives the new one, every context
// and removed line matches, and it never marks more lines than it must
// when the two texts share a long unique stretch.
func TestDiffRandomEdits(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	line := func(alphabet int) string {
		if rnd.IntN(3) == 0 {
			return fmt.Sprintf("unique %d\n", rnd.Int())
		}
		return fmt.Sprintf("l%d\n", rnd.IntN(alphabet))
	}
	for round := range 500 {
		alphabet := 1 + round%7
		var a []string
		for range rnd.IntN(60) {
			a = append(a, line(alphabet))
		}
		b := slices.Clone(a)
		for range rnd.IntN(8) {
			switch i := rnd.IntN(len(b) + 1); rnd.IntN(3) {
			case 0:
				b = slices.Insert(b, i, line(alphabet))
			case 1:
				if i < len(b) {
					b = slices.Delete(b, i, i+1)
				}
			default:
				if i < len(b) {
					b[i] = line(alphabet)
				}
			}
		}
		old, new := strings.Join(a, ""), strings.Join(b, "")
		if rnd.IntN(4) == 0 && new != "" {
			new = strings.TrimSuffix(new, "\n") // no newline at the end
		}
		d := Diff("f", []byte(old), []byte(new))
		got, err := applyDiff(old, d)
		if err != nil || got != new {
			t.Fatalf("round %d: the diff does not apply (%v)\nold:\n%s\nnew:\n%s\ndiff:\n%s", round, err, old, new, d)
		}
	}
}

// In a big kubeconfig that setup rewrites, the diff marks only the lines
// that changed in each user (7: eight old args less the two kept, and the
// command), as for a small file: it does not fall back to replacing the
// whole users list.
func TestDiffBigKubeconfigHasSmallHunks(t *testing.T) {
	for _, n := range []int{50, 400} {
		src := bigKubeconfig(n)
		out, changes, err := Rewrite(src, RewriteOptions{Command: "ekstoken"})
		if err != nil || len(changes) != n {
			t.Fatalf("%d users: %d changes, %v", n, len(changes), err)
		}
		d := Diff("config", src, out)
		if removed := strings.Count(d, "\n-"); removed != 7*n {
			t.Errorf("%d users: %d removed lines, want %d", n, removed, 7*n)
		}
		if got, err := applyDiff(string(src), d); err != nil || got != string(out) {
			t.Errorf("%d users: the diff does not apply: %v", n, err)
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
