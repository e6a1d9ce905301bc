package app

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolveVersion(t *testing.T) {
	vcs := func(rev, when, modified string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/ekstoken/ekstoken", Version: "(devel)"}}
		for k, v := range map[string]string{"vcs.revision": rev, "vcs.time": when, "vcs.modified": modified} {
			if v != "" {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: k, Value: v})
			}
		}
		return bi
	}
	withVersion := func(bi *debug.BuildInfo, v string) *debug.BuildInfo { bi.Main.Version = v; return bi }
	plat := runtime.GOOS + "/" + runtime.GOARCH
	const sha = "4884f6efded43f089c7e8a2901e9cf38c1c383f6"
	for _, tt := range []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  versionInfo
		line                  string
	}{{
		name:    "a release stamps all three and they win over the build info",
		version: "v1.4.0", commit: sha, date: "2026-11-29T14:00:00Z",
		bi:   withVersion(vcs("ffffffffffffffffffffffffffffffffffffffff", "2020-01-01T00:00:00Z", "false"), "v0.0.0-x"),
		want: versionInfo{Version: "v1.4.0", Commit: sha, Date: "2026-11-29T14:00:00Z", GoVersion: "go1.99.1", Platform: plat},
		line: "v1.4.0 (commit 4884f6efded4, 2026-11-29T14:00:00Z, go1.99.1 " + plat + ")",
	}, {
		name: "go install module@version: the module version, no commit",
		bi:   withVersion(vcs("", "", ""), "v1.4.0"),
		want: versionInfo{Version: "v1.4.0", GoVersion: "go1.99.1", Platform: plat},
		line: "v1.4.0 (go1.99.1 " + plat + ")",
	}, {
		name:    `go build in a modified checkout: "dev" is not a stamp, the pseudo-version and commit answer`,
		version: "dev",
		bi:      withVersion(vcs(sha, "2026-11-28T10:00:00Z", "true"), "v0.0.0-20261128100000-4884f6efded4+dirty"),
		want: versionInfo{Version: "v0.0.0-20261128100000-4884f6efded4+dirty", Commit: sha, Date: "2026-11-28T10:00:00Z",
			Modified: true, GoVersion: "go1.99.1", Platform: plat},
		line: "v0.0.0-20261128100000-4884f6efded4+dirty (go1.99.1 " + plat + ")",
	}, {
		name: "a tagged checkout: the tag does not name the commit, so the line does",
		bi:   withVersion(vcs(sha, "2026-11-28T10:00:00Z", "false"), "v1.4.0"),
		want: versionInfo{Version: "v1.4.0", Commit: sha, Date: "2026-11-28T10:00:00Z", GoVersion: "go1.99.1", Platform: plat},
		line: "v1.4.0 (commit 4884f6efded4, 2026-11-28T10:00:00Z, go1.99.1 " + plat + ")",
	}, {
		name:    "a stamped commit is not modified by another commit's tree, nor dated by it",
		version: "v1.4.0", commit: sha,
		bi:   vcs("ffffffffffffffffffffffffffffffffffffffff", "2020-01-01T00:00:00Z", "true"),
		want: versionInfo{Version: "v1.4.0", Commit: sha, GoVersion: "go1.99.1", Platform: plat},
		line: "v1.4.0 (commit 4884f6efded4, go1.99.1 " + plat + ")",
	}, {
		name:    "the stamped commit is the one Go saw modified",
		version: "v1.4.0", commit: sha, date: "2026-11-29T14:00:00Z",
		bi:   vcs(sha, "2026-11-29T14:00:00Z", "true"),
		want: versionInfo{Version: "v1.4.0", Commit: sha, Date: "2026-11-29T14:00:00Z", Modified: true, GoVersion: "go1.99.1", Platform: plat},
		line: "v1.4.0 (commit 4884f6efded4+dirty, 2026-11-29T14:00:00Z, go1.99.1 " + plat + ")",
	}, {
		name: "no build info at all",
		want: versionInfo{Version: "dev", GoVersion: runtime.Version(), Platform: plat},
		line: "dev (" + runtime.Version() + " " + plat + ")",
	}, {
		name: "(devel) without VCS data is dev",
		bi:   vcs("", "", ""),
		want: versionInfo{Version: "dev", GoVersion: "go1.99.1", Platform: plat},
		line: "dev (go1.99.1 " + plat + ")",
	}, {
		name:    "a stamped commit keeps a short one whole",
		version: " v2.0.0-rc.1\n", commit: "abc123",
		bi:   vcs("", "", ""),
		want: versionInfo{Version: "v2.0.0-rc.1", Commit: "abc123", GoVersion: "go1.99.1", Platform: plat},
		line: "v2.0.0-rc.1 (commit abc123, go1.99.1 " + plat + ")",
	}} {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveVersion(tt.version, tt.commit, tt.date, tt.bi)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("resolveVersion (-want +got):\n%s", d)
			}
			if s := got.String(); s != tt.line {
				t.Errorf("String() = %q, want %q", s, tt.line)
			}
			// doctor quotes another ekstoken's version line only when it
			// is one line of at most 100 bytes.
			if s := got.String(); len(s) > 100 || strings.ContainsAny(s, "\r\n") {
				t.Errorf("String() = %q: longer than 100 bytes or more than one line", s)
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	out, stderr, code := run(t, "version", "-o", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("version -o json: exit %d, %v, stdout %q, stderr %q", code, err, out, stderr)
	}
	want := map[string]any{"version": "v1.2.3", "commit": "abc", "date": "2026-01-02T03:04:05Z",
		"modified": got["modified"], "goVersion": got["goVersion"], "platform": runtime.GOOS + "/" + runtime.GOARCH}
	if d := cmp.Diff(want, got); d != "" || !strings.HasPrefix(got["goVersion"].(string), "go") {
		t.Errorf("version -o json (-want +got):\n%s", d)
	}
	if _, ok := got["modified"].(bool); !ok {
		t.Errorf("modified is %T, want a bool", got["modified"])
	}
	text, _, _ := run(t, "version")
	if !strings.Contains(text, "v1.2.3 (commit abc, 2026-01-02T03:04:05Z, go") {
		t.Errorf("version: %q does not name the stamped version, commit and date", text)
	}
}
