package testenv

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/moto"
)

// Suite is what an end-to-end package's TestMain shares among its tests:
// the ekstoken binary, built once, and one moto_server.
type Suite struct {
	// Name is the package, for what TestMain prints ("test/logins").
	Name string
	// Short and Windows say why the package does not run under -short
	// and on Windows.
	Short, Windows string
	// BuildFlags go to `go build` (devbin.Build).
	BuildFlags []string

	// Bin is the binary, in BinDir, which Main removes at the end.
	Bin, BinDir string
	// MotoURL is moto_server's http://127.0.0.1:PORT, "" when it is not
	// installed: the tests that need it then fail, or skip if the person
	// opted out (RequireTool).
	MotoURL string
}

// Main builds the binary, starts moto_server, runs the tests and cleans up;
// it returns the exit code for os.Exit.
func (s *Suite) Main(m *testing.M) int {
	flag.Parse()
	switch {
	case testing.Short():
		fmt.Printf("%s: skipped under -short (%s)\n", s.Name, s.Short)
		return 0
	case runtime.GOOS == "windows":
		fmt.Printf("%s: skipped on Windows (%s)\n", s.Name, s.Windows)
		return 0
	}
	var err error
	if s.BinDir, err = os.MkdirTemp("", "ekstoken-suite-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(s.BinDir)
	if s.Bin, err = devbin.Build(s.BinDir, s.BuildFlags...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := moto.Start()
	switch {
	case err == nil:
		defer srv.Close()
		s.MotoURL = srv.URL
	case errors.Is(err, exec.ErrNotFound):
		fmt.Printf("%s: moto_server not installed: %v\n", s.Name, err)
	default:
		fmt.Fprintf(os.Stderr, "%s: moto_server: %v\n", s.Name, err)
		return 1
	}
	return m.Run()
}

// StartMoto runs a moto_server for the calling test alone, until it ends,
// and returns its http://127.0.0.1:PORT. It skips under -short and where
// moto cannot run, and RequireTool decides what a missing one does.
func StartMoto(t testing.TB) string {
	t.Helper()
	SkipIfShort(t, "runs moto_server")
	if err := moto.Supported(); err != nil {
		t.Skip(err)
	}
	RequireTool(t, "moto_server")
	srv, err := moto.Start()
	if err != nil {
		t.Fatalf("moto_server: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv.URL
}
