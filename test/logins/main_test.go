// Package logins runs the built ekstoken binary against every way of
// logging in to AWS that the SDK supports (assumed roles, credential_process,
// web identity, container credentials, IMDS, SSO, MFA) and checks the
// tokens it prints, what it caches and how it fails.
//
// Nothing here reaches AWS. STS is moto_server on 127.0.0.1 (behind a
// recording proxy); the SSO portal, the container endpoint and IMDS are
// fakes on 127.0.0.1; every process gets an environment built from scratch;
// and HTTP(S)_PROXY points at a trap that fails the test if any request
// tries to leave the machine.
package logins

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/moto"
)

var (
	// ekstokenBin is the binary under test, built once by TestMain.
	ekstokenBin string
	// motoURL is http://127.0.0.1:PORT of moto_server, "" when it is not
	// installed (then the tests that need STS fail, or skip if the person
	// opted out: see internal/testenv).
	motoURL string
	// trap is the HTTP(S)_PROXY of every process: anything it sees was a
	// request to a host other than 127.0.0.1.
	trap *egressTrap
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
	binDir, err := os.MkdirTemp("", "ekstoken-logins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	if ekstokenBin, err = devbin.Build(binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	trap, err = startTrap()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer trap.close()

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

// egressTrap is an HTTP proxy that answers nothing: every request it
// receives is one that would have left 127.0.0.1.
type egressTrap struct {
	url string
	srv *http.Server
	mu  sync.Mutex
	got []string
}

func startTrap() (*egressTrap, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tr := &egressTrap{url: "http://" + l.Addr().String()}
	tr.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.got = append(tr.got, r.Method+" "+r.Host)
		tr.mu.Unlock()
		http.Error(w, "ekstoken test: no egress", http.StatusForbidden)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = tr.srv.Serve(l) }()
	return tr, nil
}

func (tr *egressTrap) close() { _ = tr.srv.Close() }

// seen returns the requests caught since position from, and the new position.
func (tr *egressTrap) seen(from int) ([]string, int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.got[from:]...), len(tr.got)
}
