package release

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"gopkg.in/yaml.v3"
)

type step struct {
	ID   string `yaml:"id"`
	Uses string `yaml:"uses"`
	Run  string `yaml:"run"`
}

type workflow struct {
	On struct {
		Push struct {
			Tags     []string `yaml:"tags"`
			Branches []string `yaml:"branches"`
		} `yaml:"push"`
		Other map[string]any `yaml:",inline"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Needs       []string          `yaml:"needs"`
		Permissions map[string]string `yaml:"permissions"`
		Uses        string            `yaml:"uses"`
		With        map[string]any    `yaml:"with"`
		Outputs     map[string]string `yaml:"outputs"`
		Steps       []step            `yaml:"steps"`
	} `yaml:"jobs"`
}

// The release workflow runs GoReleaser only on version tags, then signs
// checksums.txt keyless, attaches the signature and the manifests the
// snapshot tests check, and hands checksums.txt to the SLSA provenance
// generator. It runs where the hosting service runs; here it is read.
func TestReleaseWorkflow(t *testing.T) {
	root, err := devbin.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatalf("release.yml: %v", err)
	}
	if !slices.Equal(w.On.Push.Tags, []string{"v*"}) || len(w.On.Push.Branches) > 0 || len(w.On.Other) > 0 {
		t.Errorf("release.yml runs on %+v; want a push of a v* tag only", w.On)
	}
	if w.Permissions["contents"] != "read" || len(w.Permissions) != 1 {
		t.Errorf("workflow permissions %v; want contents: read, widened per job", w.Permissions)
	}

	rel, ok := w.Jobs["release"]
	if !ok {
		t.Fatal("no release job")
	}
	if rel.Permissions["id-token"] != "write" || rel.Permissions["contents"] != "write" {
		t.Errorf("release job permissions %v; want id-token and contents write", rel.Permissions)
	}
	// index of the first step whose run or uses contains s; -1 if none.
	find := func(s string) int {
		return slices.IndexFunc(rel.Steps, func(st step) bool {
			return strings.Contains(st.Run, s) || strings.Contains(st.Uses, s)
		})
	}
	order := []string{
		"actions/checkout@",
		`"$(release/tools.sh goreleaser)" release --clean`,
		"sigstore/cosign-installer@",
		"cosign sign-blob --yes --bundle dist/checksums.txt.sigstore.json dist/checksums.txt",
		"gh release upload",
		"base64 -w0 dist/checksums.txt",
	}
	last := -1
	for _, s := range order {
		i := find(s)
		if i <= last {
			t.Errorf("release job: no step with %q after step %d", s, last)
			continue
		}
		last = i
	}
	if i := find("gh release upload"); i >= 0 {
		for _, f := range []string{"dist/checksums.txt.sigstore.json", "dist/krew/ekstoken.yaml", "dist/homebrew/Formula/ekstoken.rb", "dist/scoop/ekstoken.json"} {
			if !strings.Contains(rel.Steps[i].Run, f) {
				t.Errorf("the upload step does not attach %s", f)
			}
		}
	}
	if i := find("base64 -w0 dist/checksums.txt"); i >= 0 && (rel.Steps[i].ID != "hashes" || rel.Outputs["hashes"] != "${{ steps.hashes.outputs.hashes }}") {
		t.Errorf("the release job does not output the checksums step's hashes: step id %q, outputs %v", rel.Steps[i].ID, rel.Outputs)
	}

	prov, ok := w.Jobs["provenance"]
	if !ok {
		t.Fatal("no provenance job")
	}
	if !strings.HasPrefix(prov.Uses, "slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@v") ||
		!slices.Equal(prov.Needs, []string{"release"}) || prov.Permissions["id-token"] != "write" ||
		prov.With["base64-subjects"] != "${{ needs.release.outputs.hashes }}" || prov.With["upload-assets"] != true {
		t.Errorf("provenance job: uses %q, needs %v, permissions %v, with %v; want the SLSA generic generator, by tag, on the release job's hashes",
			prov.Uses, prov.Needs, prov.Permissions, prov.With)
	}
}
