package yamledit

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"one line", "a\nb\nc\n", "a\nB\nc\n", "--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{"insert at start", "a\n", "x\na\n", "--- f\n+++ f\n@@ -1 +1,2 @@\n+x\n a\n"},
		{"from empty", "", "x\n", "--- f\n+++ f\n@@ -0,0 +1 @@\n+x\n"},
		{"to empty", "x\n", "", "--- f\n+++ f\n@@ -1 +0,0 @@\n-x\n"},
		{"no final newline", "a\nb", "a\nb\n", "--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"},
		{"two hunks",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\nY\n12\n",
			"--- f\n+++ f\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+Y\n 12\n"},
		{"one hunk when close",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\nX\n3\n4\n5\n6\n7\nY\n9\n",
			"--- f\n+++ f\n@@ -1,9 +1,9 @@\n 1\n-2\n+X\n 3\n 4\n 5\n 6\n 7\n-8\n+Y\n 9\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff("f", []byte(tc.old), []byte(tc.new)); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// applyDiff applies a unified diff made by Diff.
func applyDiff(old, d string) (string, error) {
	if d == "" {
		return old, nil
	}
	src := splitLines(old)
	var out []string
	pos := 0
	lines := splitLines(d)[2:]
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, "@@ -") {
			return "", fmt.Errorf("expected a hunk header, got %q", l)
		}
		start, _ := strconv.Atoi(strings.Split(strings.Fields(l)[1][1:], ",")[0])
		if !strings.Contains(strings.Fields(l)[1], ",0") {
			start--
		}
		out = append(out, src[pos:start]...)
		pos = start
		for i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "@@ ") {
			i++
			kind, body := lines[i][0], lines[i][1:]
			if i+1 < len(lines) && lines[i+1] == "\\ No newline at end of file\n" {
				body = strings.TrimSuffix(body, "\n")
				i++
			}
			if kind != '+' && (pos >= len(src) || src[pos] != body) {
				return "", fmt.Errorf("hunk line %q does not match line %d of the old text", lines[i], pos+1)
			}
			switch kind {
			case ' ':
				out = append(out, body)
				pos++
			case '-':
				pos++
			case '+':
				out = append(out, body)
			}
		}
	}
	out = append(out, src[pos:]...)
	return strings.Join(out, ""), nil
}

// Diff is right for any pair of texts: many repeated lines (where anchors
// are rare), unique ones, edits at the ends, and texts with nothing in
// common. Applying it to the old text gives the new one, every context
// and removed line matches, and it never marks more lines than it must
// when the two texts share a long unique stretch.
func TestDiffRandomEdits(t *testing.T) {
	patch, _ := exec.LookPath("patch")
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
		if patch != "" && d != "" && round%10 == 0 {
			checkPatch(t, patch, old, new, d)
		}
	}
}

// checkPatch checks that GNU patch, given d, makes new of old.
func checkPatch(t *testing.T, patch, old, new, d string) {
	t.Helper()
	f := filepath.Join(tmpdir.New(t), "config")
	if err := os.WriteFile(f, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(patch, "--quiet", "--no-backup-if-mismatch", f)
	cmd.Stdin = strings.NewReader(d)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch: %v\n%s\ndiff:\n%s", err, out, d)
	}
	if got, err := os.ReadFile(f); err != nil || string(got) != new {
		t.Fatalf("patch gave something else (%v):\n%s\ndiff:\n%s", err, got, d)
	}
}

// In a long text of entries that each say who they are, with a few lines
// changed in every entry (what setup does to each user), the diff marks
// only the changed lines, however many entries there are: it does not
// fall back to replacing everything.
func TestDiffManyEntriesHasSmallHunks(t *testing.T) {
	for _, n := range []int{50, 400} {
		var old, new strings.Builder
		for i := range n {
			fmt.Fprintf(&old, "- name: user%d\n  args:\n  - --region\n  - r\n  - eks\n  - get-token\n  - --cluster-name\n  - c%d\n  command: aws\n", i, i)
			fmt.Fprintf(&new, "- name: user%d\n  args:\n  - token\n  - --cluster-name\n  - c%d\n  - --region\n  - r\n  command: ekstoken\n", i, i)
		}
		d := Diff("f", []byte(old.String()), []byte(new.String()))
		body := strings.SplitN(d, "\n", 3)[2] // after the --- and +++ lines
		if removed, added := strings.Count("\n"+body, "\n-"), strings.Count("\n"+body, "\n+"); removed != 5*n || added != 4*n {
			t.Errorf("%d entries: %d removed and %d added lines, want %d and %d", n, removed, added, 5*n, 4*n)
		}
		if got, err := applyDiff(old.String(), d); err != nil || got != new.String() {
			t.Errorf("%d entries: the diff does not apply: %v", n, err)
		}
	}
}
