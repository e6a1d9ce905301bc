package e2e

import (
	"sync"
	"testing"

	"github.com/ekstoken/ekstoken/internal/moto"
	"github.com/ekstoken/ekstoken/internal/testenv"
)

// sharedMoto is the package's one moto_server, started by the first test
// that needs it and stopped by TestMain: starting one costs a second or
// two of CPU. The tests that share it use names and roles of their own.
var sharedMoto struct {
	once sync.Once
	srv  *moto.Server
	err  error
}

// startMoto returns the URL of the package's moto_server. testenv decides
// what a missing moto_server does to the test; off Unix it is skipped.
func startMoto(t *testing.T) string {
	t.Helper()
	if err := moto.Supported(); err != nil {
		t.Skip(err)
	}
	testenv.RequireTool(t, "moto_server")
	sharedMoto.once.Do(func() { sharedMoto.srv, sharedMoto.err = moto.Start() })
	if sharedMoto.err != nil {
		t.Fatalf("moto_server: %v", sharedMoto.err)
	}
	return sharedMoto.srv.URL
}

// stopMoto stops the shared moto_server, if a test started it.
func stopMoto() {
	if sharedMoto.srv != nil {
		sharedMoto.srv.Close()
	}
}
