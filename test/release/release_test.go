// Package release builds a snapshot release of this checkout with
// release/snapshot.sh (GoReleaser, syft) and checks what a user would
// download: an archive per platform holding the binary, LICENSE and
// README.md; a binary that says which version and commit it is;
// checksums.txt; an SBOM per archive that lists what the binary links; and
// the krew, Homebrew and Scoop manifests, which must point at those
// archives with those checksums. krew itself then installs the plugin
// from the manifest and archive, and the installed file runs.
//
// The release tools are pinned and built by release/tools.sh (.ci/run
// builds them); a test never builds them itself. A tool that is not built
// fails the test, or skips it under EKSTOKEN_TEST_SKIP_MISSING=1 outside
// CI (internal/testenv).
package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// targets are the platforms a release ships, as GoReleaser names them.
var targets = []target{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

type target struct{ os, arch string }

func (tg target) ext() string {
	if tg.os == "windows" {
		return ".zip"
	}
	return ".tar.gz"
}

func (tg target) binary() string {
	if tg.os == "windows" {
		return "ekstoken.exe"
	}
	return "ekstoken"
}

// snap is the one snapshot release the package's tests share.
var snap struct {
	once sync.Once
	dir  string // the temp folder holding dist
	rel  *release
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if snap.dir != "" {
		os.RemoveAll(snap.dir)
	}
	os.Exit(code)
}

// release is a snapshot's dist folder and what the checks compare with.
type release struct {
	dist    string
	version string // GoReleaser's: 0.0.1-snapshot.abc1234, no "v"
	commit  string // git rev-parse HEAD
	date    time.Time
	// sums is checksums.txt: file name to sha256.
	sums map[string]string
}

func (r *release) archive(tg target) string {
	return fmt.Sprintf("ekstoken_%s_%s_%s%s", r.version, tg.os, tg.arch, tg.ext())
}

// tool is the path of a pinned release tool that release/tools.sh built.
func tool(t *testing.T, root, name string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(root, "release", "tools.sh"), "--built", name).Output()
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("%s is not built (%v): run release/tools.sh %s, which builds the pinned version from the Go module proxy (.ci/run does)", name, err, name))
	}
	return strings.TrimSpace(string(out))
}

func git(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// snapshot runs release/snapshot.sh once for the package.
func snapshot(t *testing.T) *release {
	t.Helper()
	testenv.SkipIfShort(t, "builds a snapshot release with GoReleaser and syft")
	testenv.RequireTool(t, "go")
	testenv.RequireTool(t, "git")
	root, err := devbin.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tool(t, root, "goreleaser")
	tool(t, root, "syft")
	snap.once.Do(func() {
		snap.rel, snap.err = runSnapshot(t, root)
	})
	if snap.err != nil {
		t.Fatal(snap.err)
	}
	return snap.rel
}

func runSnapshot(t *testing.T, root string) (*release, error) {
	dir, err := os.MkdirTemp("", "ekstoken-release-")
	if err != nil {
		return nil, err
	}
	snap.dir = dir
	r := &release{dist: filepath.Join(dir, "dist")}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "release", "snapshot.sh"), r.dist)
	cmd.Dir = root
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("release/snapshot.sh: %w\n%s", err, out)
	}
	t.Logf("release/snapshot.sh took %s", time.Since(start).Round(100*time.Millisecond))

	var meta struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
	}
	b, err := os.ReadFile(filepath.Join(r.dist, "metadata.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("metadata.json: %w", err)
	}
	r.version, r.commit = meta.Version, git(t, root, "rev-parse", "HEAD")
	short := git(t, root, "rev-parse", "--short", "HEAD")
	if !regexp.MustCompile(`^\d+\.\d+\.\d+-snapshot\.` + short + `$`).MatchString(r.version) {
		return nil, fmt.Errorf("snapshot version %q: want the next patch version, then -snapshot.%s", r.version, short)
	}
	if r.date, err = time.Parse(time.RFC3339, git(t, root, "show", "-s", "--format=%cI", "HEAD")); err != nil {
		return nil, err
	}
	if r.sums, err = readChecksums(filepath.Join(r.dist, "checksums.txt")); err != nil {
		return nil, err
	}
	return r, nil
}

// readChecksums parses sha256sum's format: "<64 hex>  <name>" per line.
func readChecksums(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	line := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("checksums.txt: line %q is not `<sha256>  <name>`", l)
		}
		if _, dup := sums[m[2]]; dup {
			return nil, fmt.Errorf("checksums.txt: %s listed twice", m[2])
		}
		sums[m[2]] = m[1]
	}
	return sums, nil
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// unpack returns the regular files of a .tar.gz or .zip archive by name.
func unpack(t *testing.T, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	add := func(name string, r io.Reader) {
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %s: %v", filepath.Base(path), name, err)
		}
		if _, dup := files[name]; dup {
			t.Errorf("%s holds %s twice", filepath.Base(path), name)
		}
		files[name] = b
	}
	if strings.HasSuffix(path, ".zip") {
		z, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		for _, f := range z.File {
			if f.FileInfo().IsDir() {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			add(f.Name, rc)
			rc.Close()
		}
		return files
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(path), err)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			if h.Name == "ekstoken" && h.Mode&0o111 != 0o111 {
				t.Errorf("%s: ekstoken has mode %o, want it executable by all", filepath.Base(path), h.Mode)
			}
			add(h.Name, tr)
		case tar.TypeDir:
		default:
			t.Errorf("%s: %s is not a regular file (type %c)", filepath.Base(path), h.Name, h.Typeflag)
		}
	}
	return files
}

// Every platform's archive is there under its name, holds exactly the
// binary, LICENSE and README.md of this checkout, and the binary is a
// static, -trimpath build for that platform, with the snapshot's version,
// commit and date stamped in.
func TestSnapshotArchives(t *testing.T) {
	r := snapshot(t)
	root, _ := devbin.RepoRoot()
	want := map[string][]byte{}
	for _, name := range []string{"LICENSE", "README.md"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		want[name] = b
	}
	var archives []string
	for _, tg := range targets {
		archives = append(archives, r.archive(tg))
	}
	found, _ := filepath.Glob(filepath.Join(r.dist, "*"))
	var got []string
	for _, f := range found {
		if n := filepath.Base(f); strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".zip") {
			got = append(got, n)
		}
	}
	sort.Strings(archives)
	if d := cmp.Diff(archives, got); d != "" {
		t.Fatalf("archives in dist (-want +got):\n%s", d)
	}

	for _, tg := range targets {
		t.Run(tg.os+"_"+tg.arch, func(t *testing.T) {
			files := unpack(t, filepath.Join(r.dist, r.archive(tg)))
			var names []string
			for n := range files {
				names = append(names, n)
			}
			sort.Strings(names)
			if d := cmp.Diff([]string{"LICENSE", "README.md", tg.binary()}, names); d != "" {
				t.Fatalf("files in %s (-want +got):\n%s", r.archive(tg), d)
			}
			for n, b := range want {
				if !bytes.Equal(files[n], b) {
					t.Errorf("%s: %s differs from the checkout's", r.archive(tg), n)
				}
			}
			bin := files[tg.binary()]
			info, err := buildinfo.Read(bytes.NewReader(bin))
			if err != nil {
				t.Fatalf("%s: %v", tg.binary(), err)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			for k, v := range map[string]string{"GOOS": tg.os, "GOARCH": tg.arch, "CGO_ENABLED": "0", "-trimpath": "true"} {
				if settings[k] != v {
					t.Errorf("%s in %s was built with %s=%q, want %q", tg.binary(), r.archive(tg), k, settings[k], v)
				}
			}
			// -trimpath keeps -ldflags out of the build info: the stamped
			// strings themselves are in the binary's data.
			for _, x := range []string{"v" + r.version, r.commit, r.date.UTC().Format(time.RFC3339)} {
				if !bytes.Contains(bin, []byte(x)) {
					t.Errorf("%s in %s: %q is not stamped in", tg.binary(), r.archive(tg), x)
				}
			}
			if tg.os != runtime.GOOS || tg.arch != runtime.GOARCH {
				return
			}
			// This machine's binary runs: it says what it is.
			path := filepath.Join(t.TempDir(), tg.binary())
			if err := os.WriteFile(path, bin, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := devbin.CheckStatic(path); err != nil {
				t.Error(err)
			}
			sb := harness.New(t, harness.Options{})
			res := harness.Proc{Env: sb.Env()}.Run(t, path, "version", "-o", "json")
			var v struct{ Version, Commit, Date, GoVersion, Platform string }
			if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil || res.Code() != 0 {
				t.Fatalf("ekstoken version -o json: exit %d, %v, stdout %q, stderr %q", res.Code(), err, res.Stdout, res.Stderr)
			}
			date, err := time.Parse(time.RFC3339, v.Date)
			if err != nil || !date.Equal(r.date) {
				t.Errorf("version -o json: date %q, want the commit's, %s (%v)", v.Date, r.date.Format(time.RFC3339), err)
			}
			if v.Version != "v"+r.version || v.Commit != r.commit || v.Platform != tg.os+"/"+tg.arch || v.GoVersion != info.GoVersion {
				t.Errorf("version -o json: %+v; want version v%s, commit %s, platform %s/%s, Go %s", v, r.version, r.commit, tg.os, tg.arch, info.GoVersion)
			}
			res = harness.Proc{Env: sb.Env()}.Run(t, path, "--version")
			if !strings.HasPrefix(res.Stdout, "ekstoken v"+r.version+" (commit "+r.commit[:12]+", ") {
				t.Errorf("ekstoken --version: %q; want version v%s and commit %.12s", res.Stdout, r.version, r.commit)
			}
		})
	}
}

// checksums.txt lists every archive and SBOM, and every file it lists
// has that sha256.
func TestSnapshotChecksums(t *testing.T) {
	r := snapshot(t)
	for name, sum := range r.sums {
		if name != filepath.Base(name) {
			t.Errorf("checksums.txt names %q: want a bare file name", name)
			continue
		}
		if got := fileSHA256(t, filepath.Join(r.dist, name)); got != sum {
			t.Errorf("checksums.txt says %s for %s; the file's sha256 is %s", sum, name, got)
		}
	}
	for _, tg := range targets {
		for _, name := range []string{r.archive(tg), r.archive(tg) + ".sbom.json"} {
			if _, ok := r.sums[name]; !ok {
				t.Errorf("checksums.txt does not list %s", name)
			}
		}
	}
}

// Each archive has an SPDX SBOM that names every module its binary was
// built from, at the version the binary records.
func TestSnapshotSBOMs(t *testing.T) {
	r := snapshot(t)
	for _, tg := range targets {
		t.Run(tg.os+"_"+tg.arch, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(r.dist, r.archive(tg)+".sbom.json"))
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				SPDXVersion string `json:"spdxVersion"`
				Packages    []struct {
					Name        string `json:"name"`
					VersionInfo string `json:"versionInfo"`
				} `json:"packages"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("%s.sbom.json: %v", r.archive(tg), err)
			}
			if !strings.HasPrefix(doc.SPDXVersion, "SPDX-2.") {
				t.Errorf("spdxVersion %q, want SPDX-2.x", doc.SPDXVersion)
			}
			listed := map[string]bool{}
			for _, p := range doc.Packages {
				listed[p.Name+"@"+p.VersionInfo] = true
			}
			info, err := buildinfo.Read(bytes.NewReader(unpack(t, filepath.Join(r.dist, r.archive(tg)))[tg.binary()]))
			if err != nil {
				t.Fatal(err)
			}
			if len(info.Deps) == 0 {
				t.Fatal("the binary records no modules")
			}
			for _, d := range append(info.Deps, &debug.Module{Path: "stdlib", Version: info.GoVersion}) {
				if d.Replace != nil {
					d = d.Replace
				}
				if !listed[d.Path+"@"+d.Version] {
					t.Errorf("the SBOM does not list %s@%s, which the binary links", d.Path, d.Version)
				}
			}
		})
	}
}

// downloadPrefix is where the manifests say the archives are.
const downloadPrefix = "https://github.com/ekstoken/ekstoken/releases/download/"

// checkDownload checks that a manifest's url and sha256 for tg name that
// platform's archive and its line of checksums.txt.
func checkDownload(t *testing.T, r *release, what string, tg target, url, sum string) {
	t.Helper()
	name := r.archive(tg)
	if !strings.HasPrefix(url, downloadPrefix) || !strings.HasSuffix(url, "/"+name) || strings.Count(strings.TrimPrefix(url, downloadPrefix), "/") != 1 {
		t.Errorf("%s: %s/%s url %q, want %s<tag>/%s", what, tg.os, tg.arch, url, downloadPrefix, name)
	}
	if sum != r.sums[name] || sum == "" {
		t.Errorf("%s: %s/%s sha256 %q, want %q from checksums.txt", what, tg.os, tg.arch, sum, r.sums[name])
	}
}

// The krew manifest names each platform's archive, its checksum and the
// binary in it, at the release's version.
func TestSnapshotKrewManifest(t *testing.T) {
	r := snapshot(t)
	m := readKrewManifest(t, r)
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "ekstoken" || m.Spec.Version != "v"+r.version {
		t.Errorf("krew manifest: %s %s %q version %q; want a Plugin named ekstoken at v%s", m.APIVersion, m.Kind, m.Metadata.Name, m.Spec.Version, r.version)
	}
	if !strings.Contains(m.Spec.Caveats, "setup") || m.Spec.ShortDescription == "" || m.Spec.Homepage == "" {
		t.Errorf("krew manifest: caveats %q, shortDescription %q, homepage %q", m.Spec.Caveats, m.Spec.ShortDescription, m.Spec.Homepage)
	}
	seen := map[target]bool{}
	for _, p := range m.Spec.Platforms {
		tg := target{p.Selector.MatchLabels["os"], p.Selector.MatchLabels["arch"]}
		if !slices.Contains(targets, tg) || seen[tg] || len(p.Selector.MatchLabels) != 2 {
			t.Errorf("krew manifest: unexpected or repeated platform %v", p.Selector.MatchLabels)
			continue
		}
		seen[tg] = true
		checkDownload(t, r, "krew manifest", tg, p.URI, p.Sha256)
		if p.Bin != tg.binary() {
			t.Errorf("krew manifest: %s/%s bin %q, want %q", tg.os, tg.arch, p.Bin, tg.binary())
		}
	}
	if len(seen) != len(targets) {
		t.Errorf("krew manifest covers %d platforms, want %d", len(seen), len(targets))
	}
}

type krewManifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Version          string `yaml:"version"`
		Homepage         string `yaml:"homepage"`
		ShortDescription string `yaml:"shortDescription"`
		Caveats          string `yaml:"caveats"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			URI    string `yaml:"uri"`
			Sha256 string `yaml:"sha256"`
			Bin    string `yaml:"bin"`
		} `yaml:"platforms"`
	} `yaml:"spec"`
}

func readKrewManifest(t *testing.T, r *release) krewManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dist, "krew", "ekstoken.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m krewManifest
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(false)
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("krew manifest: %v", err)
	}
	return m
}

// The Homebrew formula is a formula (not a cask) that installs the
// darwin and linux archives, each by its url and checksum, for Intel and
// ARM, and tests the installed binary's version.
func TestSnapshotHomebrewFormula(t *testing.T) {
	r := snapshot(t)
	b, err := os.ReadFile(filepath.Join(r.dist, "homebrew", "Formula", "ekstoken.rb"))
	if err != nil {
		t.Fatal(err)
	}
	rb := string(b)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^class Ekstoken < Formula$`),
		regexp.MustCompile(`(?m)^  version "` + regexp.QuoteMeta(r.version) + `"$`),
		regexp.MustCompile(`(?m)^  license "Apache-2.0"$`),
		regexp.MustCompile(`(?m)^\s+bin\.install "ekstoken"$`),
		regexp.MustCompile(`(?m)^\s+assert_match "ekstoken v#\{version\}", shell_output\("#\{bin\}/ekstoken version"\)$`),
	} {
		if !want.MatchString(rb) {
			t.Errorf("formula does not match %s:\n%s", want, rb)
		}
	}
	// Each download is `on_<os>` … `if Hardware::CPU.<arch>?` … url, sha256.
	block := regexp.MustCompile(`(?s)on_(macos|linux) do\n(.*?)\n  end\n`)
	arm := regexp.MustCompile(`(?s)if Hardware::CPU\.(intel|arm)\?(?: && Hardware::CPU\.is_64_bit\?)?\n\s+url "([^"]+)"\n\s+sha256 "([0-9a-f]{64})"\n`)
	seen := map[target]bool{}
	for _, m := range block.FindAllStringSubmatch(rb, -1) {
		goos := map[string]string{"macos": "darwin", "linux": "linux"}[m[1]]
		for _, a := range arm.FindAllStringSubmatch(m[2], -1) {
			tg := target{goos, map[string]string{"intel": "amd64", "arm": "arm64"}[a[1]]}
			if seen[tg] {
				t.Errorf("formula: %s/%s twice", tg.os, tg.arch)
			}
			seen[tg] = true
			checkDownload(t, r, "formula", tg, a[2], a[3])
		}
	}
	if d := cmp.Diff(map[target]bool{{"darwin", "amd64"}: true, {"darwin", "arm64"}: true, {"linux", "amd64"}: true, {"linux", "arm64"}: true}, seen, cmp.AllowUnexported(target{})); d != "" {
		t.Errorf("formula platforms (-want +got):\n%s\n%s", d, rb)
	}
	if strings.Count(rb, "url \"") != 4 {
		t.Errorf("formula has %d urls, want 4:\n%s", strings.Count(rb, "url \""), rb)
	}
}

// The Scoop manifest installs the windows archives (64bit and arm64) by
// url and checksum, and puts ekstoken.exe on PATH.
func TestSnapshotScoopManifest(t *testing.T) {
	r := snapshot(t)
	b, err := os.ReadFile(filepath.Join(r.dist, "scoop", "ekstoken.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Version      string `json:"version"`
		Homepage     string `json:"homepage"`
		License      string `json:"license"`
		Architecture map[string]struct {
			URL  string   `json:"url"`
			Bin  []string `json:"bin"`
			Hash string   `json:"hash"`
		} `json:"architecture"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("scoop manifest: %v", err)
	}
	if m.Version != r.version || m.License != "Apache-2.0" || m.Homepage == "" {
		t.Errorf("scoop manifest: version %q license %q homepage %q; want version %s, Apache-2.0", m.Version, m.License, m.Homepage, r.version)
	}
	arch := map[string]string{"64bit": "amd64", "arm64": "arm64"}
	if len(m.Architecture) != len(arch) {
		t.Errorf("scoop manifest architectures: %v, want 64bit and arm64", m.Architecture)
	}
	for name, goarch := range arch {
		a, ok := m.Architecture[name]
		if !ok {
			t.Errorf("scoop manifest: no %s architecture", name)
			continue
		}
		checkDownload(t, r, "scoop manifest", target{"windows", goarch}, a.URL, a.Hash)
		if d := cmp.Diff([]string{"ekstoken.exe"}, a.Bin); d != "" {
			t.Errorf("scoop manifest: %s bin (-want +got):\n%s", name, d)
		}
	}
}

// krew installs the plugin from the manifest and this machine's archive
// into a temporary KREW_ROOT; the installed kubectl-ekstoken runs, kubectl
// finds it as a plugin, and setup run through it writes the full path of
// krew's link (which survives upgrades), not the versioned file it points
// to and never `kubectl`.
func TestKrewInstall(t *testing.T) {
	r := snapshot(t)
	root, _ := devbin.RepoRoot()
	krew := tool(t, root, "krew")
	kubectl := testenv.RequireTool(t, "kubectl")
	tg := target{runtime.GOOS, runtime.GOARCH}
	if !slices.Contains(targets, tg) {
		t.Skipf("no release archive for %s/%s", tg.os, tg.arch)
	}
	sb := harness.New(t, harness.Options{})
	krewRoot := filepath.Join(sb.Home, "krew")
	env := sb.Env("KREW_ROOT="+krewRoot, "KREW_NO_UPGRADE_CHECK=1",
		"PATH="+filepath.Join(krewRoot, "bin")+string(os.PathListSeparator)+harness.Value(sb.Env(), "PATH"))
	p := harness.Proc{Env: env, Timeout: 2 * time.Minute}
	res := p.Run(t, krew, "install", "--manifest="+filepath.Join(r.dist, "krew", "ekstoken.yaml"), "--archive="+filepath.Join(r.dist, r.archive(tg)))
	if res.Code() != 0 {
		t.Fatalf("krew install: exit %d\nstdout: %s\nstderr: %s", res.Code(), res.Stdout, res.Stderr)
	}
	link := filepath.Join(krewRoot, "bin", "kubectl-ekstoken")
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		t.Fatalf("krew installed no %s: %v", link, err)
	}
	if want := filepath.Join(krewRoot, "store", "ekstoken", "v"+r.version, "ekstoken"); target != want {
		t.Errorf("%s links to %s, want %s", link, target, want)
	}

	for _, args := range [][]string{{link, "version", "-o", "json"}, {kubectl, "ekstoken", "version", "-o", "json"}} {
		res := p.Run(t, args[0], args[1:]...)
		var v struct{ Version, Commit string }
		if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil || v.Version != "v"+r.version || v.Commit != r.commit {
			t.Errorf("%s %v: exit %d, %+v (%v); want v%s at %s\nstderr: %s", filepath.Base(args[0]), args[1:], res.Code(), v, err, r.version, r.commit, res.Stderr)
		}
	}

	// setup, run as the plugin, with and without --absolute.
	for _, absolute := range []bool{false, true} {
		kc := sb.WriteFile(t, ".kube/config", `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: prod
  context: {cluster: prod, user: prod}
current-context: prod
users:
- name: prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, prod, --region, eu-west-1]
`, 0o600)
		args := []string{"setup"}
		if absolute {
			args = append(args, "--absolute")
		}
		res := p.Run(t, link, args...)
		b, _ := os.ReadFile(kc)
		if res.Code() != 0 || !strings.Contains(string(b), "command: "+link+"\n") {
			t.Errorf("kubectl-ekstoken %v: exit %d, stderr %q; kubeconfig:\n%s\nwant command: %s", args, res.Code(), res.Stderr, b, link)
		}
		// The next run must not see an undo record from this one.
		os.RemoveAll(filepath.Join(sb.Home, ".kube", "ekstoken"))
	}
}
