// Package logins runs the built ekstoken binary against every way of
// logging in to AWS that the SDK supports (assumed roles, credential_process,
// web identity, container credentials, IMDS, SSO, MFA) and checks the
// tokens it prints, what it caches and how it fails.
//
// Nothing here reaches AWS. STS is moto_server on 127.0.0.1 (behind a
// recording proxy); the SSO portal, the container endpoint and IMDS are
// fakes on 127.0.0.1; every process gets an environment built from scratch;
// and HTTP(S)_PROXY points at a trap that fails the test if any request
// tries to leave the machine (internal/testenv/sandbox).
package logins

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/moto"
)

var (
	// ekstokenBin is the binary under test, built once by TestMain.
	ekstokenBin string
	// binDir holds the binaries; TestMain removes it.
	binDir string
	// motoURL is http://127.0.0.1:PORT of moto_server, "" when it is not
	// installed (then the tests that need STS fail, or skip if the person
	// opted out: see internal/testenv).
	motoURL string
)

func TestMain(m *testing.M) { os.Exit(setup(m)) }

func setup(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("test/logins: skipped under -short (builds the binary, runs moto_server)")
		return 0
	}
	if runtime.GOOS == "windows" {
		fmt.Println("test/logins: skipped on Windows (shell-script fakes, pseudo-terminals)")
		return 0
	}
	var err error
	binDir, err = os.MkdirTemp("", "ekstoken-logins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	if ekstokenBin, err = devbin.Build(binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	srv, err := moto.Start()
	switch {
	case err == nil:
		defer srv.Close()
		motoURL = srv.URL
	case errors.Is(err, exec.ErrNotFound):
		// startSTS fails or skips each test that needs it, as testenv
		// decides.
		fmt.Printf("test/logins: moto_server not installed: %v\n", err)
	default:
		fmt.Fprintf(os.Stderr, "test/logins: moto_server: %v\n", err)
		return 1
	}
	return m.Run()
}

// fakeClockBin builds, once and only for the tests that ask, the binary
// with the fake-clock seam (internal/clock): it reads the time from the
// file named by EKSTOKEN_FAKE_NOW_FILE, so that a test moves through
// backoff windows and refresh windows without sleeping through them.
var fakeClockBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp(binDir, "fakeclock-")
	if err != nil {
		return "", err
	}
	return devbin.Build(dir, "-tags", "ekstoken_fakeclock")
})
