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
	"os"
	"sync"
	"testing"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/testenv"
)

// suite builds the binary once and starts moto_server.
var suite = &testenv.Suite{
	Name:    "test/logins",
	Short:   "builds the binary, runs moto_server",
	Windows: "shell-script fakes, pseudo-terminals",
}

func TestMain(m *testing.M) { os.Exit(suite.Main(m)) }

// fakeClockBin builds, once and only for the tests that ask, the binary
// with the fake-clock seam (internal/clock): it reads the time from the
// file named by EKSTOKEN_FAKE_NOW_FILE, so that a test moves through
// backoff windows and refresh windows without sleeping through them.
var fakeClockBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp(suite.BinDir, "fakeclock-")
	if err != nil {
		return "", err
	}
	return devbin.Build(dir, "-tags", "ekstoken_fakeclock")
})
