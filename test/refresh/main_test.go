// Package refresh runs a simulated working day of kubectl calls against
// the ekstoken binary, built with the fake-clock seam, and checks that
// refresh-ahead keeps every call after the first on the cache: for an
// assumed-role profile (STS is moto_server behind a proxy that follows the
// fake clock) and for a credential_process that takes a second.
package refresh

import (
	"os"
	"testing"

	"github.com/ekstoken/ekstoken/internal/testenv"
)

// suite builds the binary with the fake-clock seam and starts moto_server.
var suite = &testenv.Suite{
	Name:       "test/refresh",
	Short:      "builds the binary, runs moto_server, simulates hours of calls",
	Windows:    "moto_server and the credential_process are Unix-only here",
	BuildFlags: []string{"-tags", "ekstoken_fakeclock"},
}

func TestMain(m *testing.M) { os.Exit(suite.Main(m)) }
