package moto

import (
	"errors"
	"os/exec"
	"testing"
)

// Off Unix, Start says why it cannot run moto_server; on Unix without
// moto_server, it says that it is not installed.
func TestStartSaysWhy(t *testing.T) {
	if Supported() == nil {
		if _, err := exec.LookPath("moto_server"); err == nil {
			t.Skip("moto_server is installed: the end-to-end suites start it")
		}
		if _, err := Start(); !errors.Is(err, exec.ErrNotFound) {
			t.Errorf("Start without moto_server = %v, want exec.ErrNotFound", err)
		}
		return
	}
	if _, err := Start(); !errors.Is(err, ErrUnixOnly) || err.Error() != "moto_server runs on Unix only" {
		t.Errorf("Start = %v, want %q", err, ErrUnixOnly)
	}
}
