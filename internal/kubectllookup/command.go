package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/pflag"
)

// binaryName is what kubeconfigs run when ekstoken is on PATH.
const binaryName = "ekstoken"

// commandChoice is what setup and update-kubeconfig write as the exec
// command, and why.
type commandChoice struct {
	command string
	// note, when set, is one line for stderr: why the command is not the
	// bare name, and how to get it.
	note string
}

// execCommand decides the command a kubeconfig user runs so that kubectl
// can start it. kubectl looks the command up in its PATH (exec.LookPath),
// so the bare name is written only when that lookup, in the PATH of the
// environment setup runs in, finds this very binary. Otherwise the
// absolute path is written and note says so. forced (--command) is written
// as given; absolute (--absolute) always writes a path.
//
// The path written is the PATH entry that is this binary when there is
// one (/opt/homebrew/bin/ekstoken), not the path os.Executable gives: on
// some systems that is the symlink-resolved file (a Homebrew Cellar or nix
// store path), which disappears on the next upgrade. Symlinks are never
// resolved here for the same reason.
func execCommand(env *Env, forced string, absolute bool) (commandChoice, error) {
	if forced != "" {
		return commandChoice{command: forced}, nil
	}
	var self string
	var selfInfo os.FileInfo
	if env.Executable != nil {
		if p, err := env.Executable(); err == nil && filepath.IsAbs(p) {
			if st, err := os.Stat(p); err == nil {
				self, selfInfo = filepath.Clean(p), st
			}
		}
	}
	path, pathext := env.Getenv("PATH"), env.Getenv("PATHEXT")
	found := lookPath(binaryName, path, pathext)
	isSelf := func(p string) bool {
		if selfInfo == nil {
			return false
		}
		st, err := os.Stat(p)
		return err == nil && os.SameFile(st, selfInfo)
	}
	if selfInfo == nil {
		if absolute {
			return commandChoice{}, errors.New("--absolute: the path of this binary is unknown; pass --command /path/to/ekstoken")
		}
		if found == "" {
			return commandChoice{}, errors.New("cannot tell where this ekstoken binary is, and `ekstoken` is not on PATH: pass --command /path/to/ekstoken")
		}
		return commandChoice{command: binaryName}, nil
	}
	if found != "" && isSelf(found) {
		if absolute {
			return commandChoice{command: found}, nil
		}
		return commandChoice{command: binaryName}, nil
	}
	// The PATH entry that is this binary, even behind another ekstoken,
	// is still the path a person recognises and that survives upgrades.
	abs := self
	for _, c := range lookPathAll(binaryName, path, pathext) {
		if isSelf(c) {
			abs = c
			break
		}
	}
	if abs == self && goRunBinary(self) {
		// `go run` deletes its binary on exit: a kubeconfig naming it
		// would break as soon as setup returns.
		return commandChoice{}, fmt.Errorf("this ekstoken runs from `go run`'s temporary directory (%s), which is gone when it exits: install it with `go install ./cmd/ekstoken` and run that, or pass --command", filepath.Dir(self))
	}
	if absolute {
		return commandChoice{command: abs}, nil
	}
	why := "`ekstoken` is not on PATH, so kubectl could not run it"
	if found != "" {
		why = fmt.Sprintf("`ekstoken` on PATH is %s, not this binary, so kubectl would run that one", found)
	}
	return commandChoice{command: abs, note: fmt.Sprintf(
		"%s: writing the full path %s. Put %s first on PATH and run again (or pass --command ekstoken) to write the bare name.",
		why, abs, filepath.Dir(abs))}, nil
}

// goRunBinary reports whether path is a binary that `go run` (or `go
// test`) built in its temporary work directory.
func goRunBinary(path string) bool {
	for _, part := range strings.Split(filepath.ToSlash(filepath.Dir(path)), "/") {
		if strings.HasPrefix(part, "go-build") {
			return true
		}
	}
	return false
}

// lookPath finds name in the directories of path as kubectl's
// exec.LookPath would, but in the given PATH rather than this process's
// own: the first regular, executable file (on Windows, name plus one of
// the extensions in pathext). Relative directories are skipped: Go's
// exec refuses what they give (exec.ErrDot), and they would be relative
// to wherever kubectl runs. "" when there is none.
func lookPath(name, path, pathext string) string {
	all := lookPathAll(name, path, pathext)
	if len(all) == 0 {
		return ""
	}
	return all[0]
}

// lookPathAll is every match of lookPath, in PATH order.
func lookPathAll(name, path, pathext string) []string {
	var found []string
	for _, dir := range filepath.SplitList(path) {
		if runtime.GOOS == "windows" {
			dir = strings.Trim(dir, `"`)
		}
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		for _, cand := range candidates(filepath.Join(dir, name), pathext) {
			if executable(cand) {
				found = append(found, cand)
				break
			}
		}
	}
	return found
}

// candidates are the file names exec.LookPath tries for base: itself, or
// on Windows base with each PATHEXT extension.
func candidates(base, pathext string) []string {
	if runtime.GOOS != "windows" {
		return []string{base}
	}
	if pathext == "" {
		pathext = ".com;.exe;.bat;.cmd"
	}
	var c []string
	for _, ext := range strings.Split(strings.ToLower(pathext), ";") {
		if ext != "" && ext[0] == '.' {
			c = append(c, base+ext)
		}
	}
	return c
}

func executable(p string) bool {
	st, err := os.Stat(p)
	if err != nil || st.IsDir() {
		return false
	}
	return runtime.GOOS == "windows" || st.Mode().Perm()&0o111 != 0
}

// addCommandFlags adds --absolute and --command, which setup and
// update-kubeconfig share.
func addCommandFlags(f *pflag.FlagSet, absolute *bool, command *string) {
	f.BoolVar(absolute, "absolute", false, "write the full path of this ekstoken binary as the command (as PATH names it), even when ekstoken is on PATH")
	f.StringVar(command, "command", "", "write exactly this as the command (default: ekstoken when kubectl would find this binary on PATH, else its full path)")
}

func checkCommandFlags(command string, absolute bool) error {
	switch {
	case command != "" && absolute:
		return errors.New("--command and --absolute both choose the command: give one")
	case command != "" && strings.TrimSpace(command) != command:
		return fmt.Errorf("--command %q has leading or trailing space", command)
	}
	return nil
}
