//go:build unix

package e2e

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/ekstoken/ekstoken/internal/moto"
)

// startMoto runs moto_server until the test ends and returns its URL.
// Without it the test is skipped, except under CI=true, where it fails.
func startMoto(t *testing.T) string {
	t.Helper()
	srv, err := moto.Start()
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("CI") != "true" {
		t.Skipf("moto_server not installed: %v", err)
	}
	if err != nil {
		t.Fatalf("moto_server: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv.URL
}
