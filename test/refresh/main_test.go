// Package refresh runs a simulated working day of kubectl calls against
// the ekstoken binary, built with the fake-clock seam, and checks that
// refresh-ahead keeps every call after the first on the cache: for an
// assumed-role profile (STS is moto_server behind a proxy that follows the
// fake clock) and for a credential_process that takes a second.
package refresh

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

var (
	// ekstokenBin is the binary under test, built by TestMain with the
	// ekstoken_fakeclock tag.
	ekstokenBin string
	// motoURL is moto_server's http://127.0.0.1:PORT, "" when it is not
	// installed (the tests that need it then fail, or skip: internal/testenv).
	motoURL string
)

func TestMain(m *testing.M) { os.Exit(setup(m)) }

func setup(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("test/refresh: skipped under -short (builds the binary, runs moto_server, simulates hours of calls)")
		return 0
	}
	if runtime.GOOS == "windows" {
		fmt.Println("test/refresh: skipped on Windows (moto_server and the credential_process are Unix-only here)")
		return 0
	}
	binDir, err := os.MkdirTemp("", "ekstoken-refresh-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	if ekstokenBin, err = devbin.Build(binDir, "-tags", "ekstoken_fakeclock"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := moto.Start()
	switch {
	case err == nil:
		defer srv.Close()
		motoURL = srv.URL
	case errors.Is(err, exec.ErrNotFound):
		fmt.Printf("test/refresh: moto_server not installed: %v\n", err)
	default:
		fmt.Fprintf(os.Stderr, "test/refresh: moto_server: %v\n", err)
		return 1
	}
	return m.Run()
}
