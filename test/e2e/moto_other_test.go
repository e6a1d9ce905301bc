//go:build !unix

package e2e

import "testing"

// startMoto skips the test: internal/moto runs moto_server on Unix only.
func startMoto(t *testing.T) string {
	t.Helper()
	t.Skip("moto_server is started on Unix only")
	return ""
}
