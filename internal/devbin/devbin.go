// Package devbin builds the ekstoken binary from this checkout, for the
// end-to-end tests, the benchmark and the demo: they all run the real
// binary, as kubectl does.
package devbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles ./cmd/ekstoken into dir and returns the binary's path.
// Extra arguments go to `go build` (for example "-trimpath").
func Build(dir string, flags ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ekstoken")
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, "./cmd/ekstoken")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ekstoken: %v\n%s", err, out)
	}
	return bin, nil
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
