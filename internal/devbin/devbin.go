// Package devbin builds the ekstoken binary from this checkout, for the
// end-to-end tests, the benchmark and the demo: they all run the real
// binary, as kubectl does.
package devbin

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// StaticEnv is what every build of ekstoken adds to its environment. With a
// C compiler on the machine, net and os/user build with cgo and the binary
// links libc dynamically: ld.so and libc start-up then cost every cache hit
// about a millisecond, and the binary is not the single static file the
// project promises. The caller's environment must not decide this.
const StaticEnv = "CGO_ENABLED=0"

// Build compiles ./cmd/ekstoken into dir, statically, and returns the
// binary's path. Extra arguments go to `go build` (for example
// "-trimpath").
func Build(dir string, flags ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ekstoken")
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, "./cmd/ekstoken")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), StaticEnv)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ekstoken: %w\n%s", err, out)
	}
	return bin, nil
}

// BuildFakePlugin compiles internal/execwrap/fakeplugin, the exec
// credential plugin the tests of `ekstoken exec` wrap, into dir and
// returns its path.
func BuildFakePlugin(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "fakeplugin")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command("go", "build", "-o", bin, "./internal/execwrap/fakeplugin")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), StaticEnv)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./internal/execwrap/fakeplugin: %w\n%s", err, out)
	}
	return bin, nil
}

// CheckStatic returns an error when the Go binary at path was built with
// cgo or, for an ELF file, asks for a dynamic loader or shared libraries.
// Mach-O and PE binaries always import the system's libraries (libSystem,
// kernel32) even when static in Go's sense, so for them the build setting
// is what can be checked.
func CheckStatic(path string) error {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read build info of %s: %w", path, err)
	}
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" && s.Value != "0" {
			return fmt.Errorf("%s was built with CGO_ENABLED=%s: build it with CGO_ENABLED=0", path, s.Value)
		}
	}
	return checkELF(path)
}

// checkELF fails when the ELF file at path needs a dynamic loader or shared
// libraries; any other format passes.
func checkELF(path string) error {
	f, err := elf.Open(path)
	var notELF *elf.FormatError
	if errors.As(err, &notELF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: it asks for a program interpreter (PT_INTERP); build it with CGO_ENABLED=0", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("read the dynamic section of %s: %w", path, err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("%s is dynamically linked: it needs %v (DT_NEEDED); build it with CGO_ENABLED=0", path, libs)
	}
	return nil
}

// RepoRoot walks up from the working directory to the directory of go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
