package devbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The binary that the tests, the bench and the demo run is static, whatever
// the caller's environment says: CGO_ENABLED=1 here is what a machine with
// gcc gives a plain `go build`.
func TestBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Setenv("CGO_ENABLED", "1")
	bin, err := Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckStatic(bin); err != nil {
		t.Fatal(err)
	}
}

// CheckStatic must see a cgo build, and a dynamically linked ELF file, for
// what they are; otherwise TestBuildIsStatic proves nothing.
func TestCheckStaticCatchesDynamic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	// A program that imports net and os/user: with cgo both use libc.
	dir := t.TempDir()
	src := "package main\n\nimport (\n\t\"net\"\n\t\"os/user\"\n)\n\nfunc main() { _, _ = net.LookupHost(\"localhost\"); _, _ = user.Current() }\n"
	for name, body := range map[string]string{"go.mod": "module dyn\n\ngo 1.21\n", "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	build := func(cgo string) string {
		t.Helper()
		bin := filepath.Join(dir, "dyn-cgo"+cgo)
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo, "GOFLAGS=", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build with CGO_ENABLED=%s: %v\n%s", cgo, err, out)
		}
		return bin
	}
	if err := CheckStatic(build("0")); err != nil {
		t.Errorf("a CGO_ENABLED=0 build: %v", err)
	}
	cc, _ := exec.Command("go", "env", "CC").Output()
	if _, err := exec.LookPath(strings.TrimSpace(string(cc))); err != nil {
		t.Logf("no C compiler (%v): the cgo build is not checked", err)
	} else if err := CheckStatic(build("1")); err == nil {
		t.Errorf("CheckStatic accepted a CGO_ENABLED=1 build")
	}
	if runtime.GOOS == "linux" {
		// Any distribution's shell is a dynamically linked ELF file.
		sh, err := filepath.EvalSymlinks("/bin/sh")
		if err != nil {
			t.Fatal(err)
		}
		if err := checkELF(sh); err == nil {
			t.Errorf("checkELF accepted %s, which needs ld.so and libc", sh)
		} else if !strings.Contains(err.Error(), "dynamically linked") {
			t.Errorf("checkELF(%s): %v", sh, err)
		}
	}
}
