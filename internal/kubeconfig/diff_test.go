package kubeconfig

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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

// Applying the diff of every Rewrite and Upsert golden to its input gives
// the golden back, and GNU patch agrees when it is installed.
func TestDiffApplies(t *testing.T) {
	patch, _ := exec.LookPath("patch")
	for _, in := range inputs(t) {
		for _, g := range []string{"rewrite", "upsert"} {
			old := read(t, in)
			new := read(t, filepath.Join("testdata", g, filepath.Base(in)+".golden"))
			d := Diff("config", old, new)
			if got, err := applyDiff(string(old), d); err != nil || got != string(new) {
				t.Errorf("%s %s: applying the diff: %v\n%s", g, in, err, d)
			}
			if patch == "" || d == "" {
				continue
			}
			dir := t.TempDir()
			f := filepath.Join(dir, "config")
			if err := os.WriteFile(f, old, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(patch, "--quiet", "--no-backup-if-mismatch", f)
			cmd.Stdin = strings.NewReader(d)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s %s: patch: %v\n%s", g, in, err, out)
			} else if got := mustRead(t, f); string(got) != string(new) {
				t.Errorf("%s %s: patch gave something else", g, in)
			}
		}
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
