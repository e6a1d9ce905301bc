package app

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionInfo is what `ekstoken version -o json` prints. Commit and Date
// are "" when the build recorded neither.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// resolveVersion merges what a release stamps into main (-ldflags -X) with
// what the Go toolchain records in every binary. A release build stamps
// all three; a plain `go install module@vX` knows its module version but
// not its commit (module zips carry no VCS data), and a `go build` in a
// checkout knows the commit, its time and whether the tree was modified.
// Stamped values win; "dev" and "" mean "not stamped".
func resolveVersion(version, commit, date string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{
		Version: strings.TrimSpace(version), Commit: strings.TrimSpace(commit), Date: strings.TrimSpace(date),
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	if v.Version == "dev" {
		v.Version = ""
	}
	if bi != nil {
		if v.Version == "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			v.GoVersion = bi.GoVersion
		}
		var rev, when string
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if v.Commit == "" {
			v.Commit = rev
		}
		if v.Date == "" && v.Commit == rev {
			v.Date = when
		}
		// Only the toolchain knows whether the tree was modified, and only
		// about the commit it saw: in a git worktree nested in another
		// repository Go reads that other repository (golang/go#58218).
		v.Modified = modified && rev != "" && v.Commit == rev
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

// buildInfo is the running binary's; tests build versionInfo from their own.
func buildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

// String is the one line `version` and `--version` print after the name.
// It stays one line, short enough for doctor to quote it when it meets
// another ekstoken on PATH: the commit is cut to 12 hex digits, as git
// does at that length in large repositories.
func (v versionInfo) String() string {
	var parts []string
	short := v.Commit
	if len(short) > 12 {
		short = short[:12]
	}
	// A pseudo-version (v0.0.0-20261128100000-4884f6efded4+dirty, what
	// `go build` in a checkout records) already names the commit, its time
	// and a modified tree.
	if short != "" && !(len(short) == 12 && strings.Contains(v.Version, "-"+short)) {
		if v.Modified {
			short += "+dirty"
		}
		parts = append(parts, "commit "+short)
		if v.Date != "" {
			parts = append(parts, v.Date)
		}
	} else if short == "" && v.Date != "" {
		parts = append(parts, v.Date)
	}
	parts = append(parts, v.GoVersion+" "+v.Platform)
	return fmt.Sprintf("%s (%s)", v.Version, strings.Join(parts, ", "))
}

func (env *Env) versionInfo() versionInfo {
	return resolveVersion(env.Version, env.Commit, env.Date, buildInfo())
}

func newVersionCommand(env *Env) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit, build date, Go version and platform of ekstoken",
		Example: "  ekstoken version\n  ekstoken version -o json\n  ekstoken --version",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			v := env.versionInfo()
			switch output {
			case "text":
				_, err := fmt.Fprintf(env.Stdout, "ekstoken %s\n", v)
				return err
			case "json":
				b, err := json.MarshalIndent(v, "", "  ")
				if err != nil {
					return err
				}
				_, err = env.Stdout.Write(append(b, '\n'))
				return err
			}
			return usageError{cmd: c.CommandPath(), err: fmt.Errorf("--output %q: use text or json", output)}
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return c
}
