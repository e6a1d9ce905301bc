// Package kubectllookup finds what kubectl will find: the kubeconfig files
// it reads (--kubeconfig, KUBECONFIG, ~/.kube/config) and the command its
// PATH lookup runs, so that setup and update-kubeconfig write users that
// kubectl can start.
package kubectllookup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// BinaryName is what kubeconfigs run when ekstoken is on PATH.
const BinaryName = "ekstoken"

// PluginName is the link krew makes to the binary in ~/.krew/bin (the
// archive's ekstoken, under ~/.krew/store/ekstoken/<version>/). kubectl
// finds plugins by that name; a kubeconfig names the link by its full
// path, which survives `kubectl krew upgrade`, never `kubectl ekstoken`,
// which would start kubectl for every token.
const PluginName = "kubectl-" + BinaryName

// Choice is what setup and update-kubeconfig write as the exec command,
// and why.
type Choice struct {
	Command string
	// Note, when set, is one line for stderr: why the command is not the
	// bare name, and how to get it.
	Note string
}

// Self is what Command needs from the machine: the environment whose PATH
// kubectl will search (PATH, PATHEXT) and the path of the running binary
// (os.Executable; nil when unknown).
type Self struct {
	Getenv     func(string) string
	Executable func() (string, error)
}

// Command decides the command a kubeconfig user runs so that kubectl
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
func Command(env Self, forced string, absolute bool) (Choice, error) {
	if forced != "" {
		return Choice{Command: forced}, nil
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
	found := lookPath(BinaryName, path, pathext)
	isSelf := func(p string) bool {
		if selfInfo == nil {
			return false
		}
		st, err := os.Stat(p)
		return err == nil && os.SameFile(st, selfInfo)
	}
	if selfInfo == nil {
		if absolute {
			return Choice{}, errors.New("--absolute: the path of this binary is unknown; pass --command /path/to/ekstoken")
		}
		if found == "" {
			return Choice{}, errors.New("cannot tell where this ekstoken binary is, and `ekstoken` is not on PATH: pass --command /path/to/ekstoken")
		}
		return Choice{Command: BinaryName}, nil
	}
	if found != "" && isSelf(found) {
		if absolute {
			return Choice{Command: found}, nil
		}
		return Choice{Command: BinaryName}, nil
	}
	// The PATH entry that is this binary, even behind another ekstoken,
	// is still the path a person recognises and that survives upgrades:
	// an ekstoken, else krew's kubectl-ekstoken link.
	abs := self
search:
	for _, name := range []string{BinaryName, PluginName} {
		for _, c := range lookPathAll(name, path, pathext) {
			if isSelf(c) {
				abs = c
				break search
			}
		}
	}
	if abs == self && goRunBinary(self) {
		// `go run` deletes its binary on exit: a kubeconfig naming it
		// would break as soon as setup returns.
		return Choice{}, fmt.Errorf("this ekstoken runs from `go run`'s temporary directory (%s), which is gone when it exits: install it with `go install ./cmd/ekstoken` and run that, or pass --command", filepath.Dir(self))
	}
	if absolute {
		return Choice{Command: abs}, nil
	}
	why := "`ekstoken` is not on PATH, so kubectl could not run it"
	if found != "" {
		why = fmt.Sprintf("`ekstoken` on PATH is %s, not this binary, so kubectl would run that one", found)
	}
	how := fmt.Sprintf("Put %s first on PATH and run again (or pass --command ekstoken) to write the bare name.", filepath.Dir(abs))
	if strings.HasPrefix(filepath.Base(abs), PluginName) {
		how = "It is krew's link, found on PATH as " + PluginName + ": it keeps this path across `kubectl krew upgrade`."
	}
	return Choice{Command: abs, Note: fmt.Sprintf("%s: writing the full path %s. %s", why, abs, how)}, nil
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

// CheckFlags refuses --command and --absolute together, and a --command
// that kubectl would not find as written.
func CheckFlags(command string, absolute bool) error {
	switch {
	case command != "" && absolute:
		return errors.New("--command and --absolute both choose the command: give one")
	case command != "" && strings.TrimSpace(command) != command:
		return fmt.Errorf("--command %q has leading or trailing space", command)
	}
	return nil
}

// Kubeconfigs lists the files kubectl would read: the flag, else the
// KUBECONFIG list (each file once, in order), else ~/.kube/config.
func Kubeconfigs(flag string, getenv func(string) string, home string) ([]string, error) {
	if flag != "" {
		return []string{flag}, nil
	}
	var files []string
	for _, f := range filepath.SplitList(getenv("KUBECONFIG")) {
		if f != "" && !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	if len(files) > 0 {
		return files, nil
	}
	if home == "" {
		return nil, errors.New("no home directory: pass --kubeconfig")
	}
	return []string{filepath.Join(home, ".kube", "config")}, nil
}

// CommandSaid is Command, with its note (why a full path is written) said
// on w: what setup and update-kubeconfig both do before they write.
func CommandSaid(env Self, forced string, absolute bool, w io.Writer) (string, error) {
	choice, err := Command(env, forced, absolute)
	if err != nil {
		return "", err
	}
	if choice.Note != "" {
		fmt.Fprintln(w, choice.Note)
	}
	return choice.Command, nil
}
