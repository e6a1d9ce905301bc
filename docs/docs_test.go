// Package docs holds the project's reference pages. Its test keeps every
// pointer into them valid: code comments cite pages and headings by
// anchor, and a renamed heading must not leave a comment pointing nowhere.
package docs

import (
	"bufio"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// slug is the anchor GitHub gives a heading: lower case, only letters,
// digits, spaces, dashes and underscores kept, spaces turned into dashes.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of a markdown page's headings, outside code
// blocks, numbered as GitHub numbers repeats ("x", "x-1", ...).
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]int{}
	out := map[string]bool{}
	fenced := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if !strings.HasPrefix(text, " ") {
			continue
		}
		s := slug(text)
		if n := seen[s]; n > 0 {
			s += "-" + strconv.Itoa(n)
		}
		seen[slug(text)]++
		out[s] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pages maps each markdown page of this folder to its anchors.
func pages(t *testing.T) map[string]map[string]bool {
	t.Helper()
	names, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no pages found; the test must run in the docs folder")
	}
	out := map[string]map[string]bool{}
	for _, n := range names {
		out[n] = anchors(t, n)
	}
	return out
}

// resolve reports what is wrong with a pointer to page#anchor, or "".
func resolve(all map[string]map[string]bool, page, anchor string) string {
	a, ok := all[page]
	switch {
	case !ok:
		return "no page " + page + " in docs/"
	case anchor != "" && !a[anchor]:
		return "no heading with anchor #" + anchor + " in " + page
	}
	return ""
}

// citation matches a repository-relative pointer into docs/, not a URL or
// another folder's docs/ ("https://x/docs/a.md"). The pattern is assembled
// so that this file holds no citation itself.
var citation = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])` + "docs" + `/([A-Za-z0-9_.-]+\.md)(?:#([A-Za-z0-9_-]+))?`)

// Every citation of a page under docs/ anywhere in the repository (Go code
// and comments, scripts, the README) names an existing page and heading.
func TestCitationsResolve(t *testing.T) {
	all := pages(t)
	root := ".."
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") && name != ".ci" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !isText(path) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range citation.FindAllStringSubmatch(line, -1) {
				checked++
				if why := resolve(all, m[1], m[2]); why != "" {
					t.Errorf("%s:%d: %s: %s", path, i+1, strings.TrimSpace(m[0]), why)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d citations checked", checked)
}

func isText(path string) bool {
	switch filepath.Ext(path) {
	case ".go", ".md", ".sh", ".yaml", ".yml", ".txt", ".json":
		return true
	case "":
		return filepath.Base(filepath.Dir(path)) == ".ci"
	}
	return false
}

var link = regexp.MustCompile(`\]\(([A-Za-z0-9_.-]+\.md)?(?:#([A-Za-z0-9_-]+))?\)`)

// Links between and within the pages resolve too.
func TestLinksResolve(t *testing.T) {
	all := pages(t)
	for _, page := range slices.Sorted(maps.Keys(all)) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range link.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if target == "" {
					target = page
				}
				if why := resolve(all, target, m[2]); why != "" {
					t.Errorf("%s:%d: %s: %s", page, i+1, m[0], why)
				}
			}
		}
	}
}

// Headings are anchors: two with the same text on one page would make
// the second one's anchor depend on the first's position.
func TestHeadingsAreUnique(t *testing.T) {
	for _, page := range slices.Sorted(maps.Keys(pages(t))) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		fenced := false
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "```") {
				fenced = !fenced
			}
			if fenced || !strings.HasPrefix(line, "#") {
				continue
			}
			s := slug(strings.TrimLeft(line, "#"))
			if prev, dup := seen[s]; dup {
				t.Errorf("%s:%d: heading anchor #%s repeats line %d", page, i+1, s, prev)
			}
			seen[s] = i + 1
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		" Check 1: size":                         "check-1-size",
		" X-Amz-Expires is required":             "x-amz-expires-is-required",
		" Only host and x-k8s-aws-id signed":     "only-host-and-x-k8s-aws-id-signed",
		" `apiVersion` and KUBERNETES_EXEC_INFO": "apiversion-and-kubernetes_exec_info",
		" No 401 guessing":                       "no-401-guessing",
		" Lock file beside the entry (.lock)":    "lock-file-beside-the-entry-lock",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// outside matches citations of reference files that are not part of the
// repository, and the section numbering they used.
var outside = regexp.MustCompile(`(token-spec|peers|demand|style-anchors)\.md|\.\./shared/|§|\b[Ss]pec \d|\bpitfall \d`)

// Whatever the code relies on is in docs/, in the project's own words: no
// file cites a reference that a reader of the repository cannot open.
func TestNoCitationsOutsideTheRepository(t *testing.T) {
	root := ".."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") && d.Name() != ".ci" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !isText(path) || path == filepath.Join(root, "docs", "docs_test.go") {
			return nil // this file names the pattern itself
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := outside.FindString(line); m != "" {
				t.Errorf("%s:%d: cites %q, which is not in the repository; cite docs/ instead", path, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
