//go:build unix

package e2e

import (
	"testing"

	"github.com/ekstoken/ekstoken/internal/moto"
	"github.com/ekstoken/ekstoken/internal/testenv"
)

// startMoto runs moto_server until the test ends and returns its URL.
// testenv decides what a missing moto_server does to the test.
func startMoto(t *testing.T) string {
	t.Helper()
	testenv.RequireTool(t, "moto_server")
	srv, err := moto.Start()
	if err != nil {
		t.Fatalf("moto_server: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv.URL
}
