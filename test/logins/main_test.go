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
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"testing"
)

var (
	// ekstokenBin is the binary under test, built once by TestMain.
	ekstokenBin string
	// motoURL is http://127.0.0.1:PORT of moto_server, "" when it is not
	// installed (then the tests that need STS skip).
	motoURL string
	// trap is the HTTP(S)_PROXY of every process: anything it sees was a
	// request to a host other than 127.0.0.1.
	trap *egressTrap
)

func TestMain(m *testing.M) { os.Exit(setup(m)) }

func setup(m *testing.M) int {
	if runtime.GOOS == "windows" {
		fmt.Println("test/logins: skipped on Windows (shell-script fakes, pseudo-terminals)")
		return 0
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ekstokenBin = filepath.Join(root, "tmp", "ekstoken")
	build := exec.Command("go", "build", "-o", ekstokenBin, "./cmd/ekstoken")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/ekstoken: %v\n%s", err, out)
		return 1
	}

	trap, err = startTrap()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer trap.close()

	stop, err := startMoto()
	switch {
	case err == nil:
		defer stop()
	case errors.Is(err, exec.ErrNotFound) && os.Getenv("CI") != "true":
		fmt.Printf("test/logins: moto_server not installed, the tests that need STS are skipped: %v\n", err)
	default:
		fmt.Fprintf(os.Stderr, "test/logins: moto_server: %v\n", err)
		return 1
	}
	return m.Run()
}

// repoRoot walks up from the working directory to the directory of go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// freePort finds a port on 127.0.0.1 that nothing listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startMoto starts moto_server on a free port of 127.0.0.1 and waits until
// it answers. The returned func stops it.
func startMoto() (stop func(), err error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	home, err := os.MkdirTemp("", "ekstoken-moto-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// moto gets no AWS_* variables either; its own process group lets us
	// end it together with anything its launcher (a pyenv shim) started.
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_EC2_METADATA_DISABLED=true"}
	cmd.Dir = home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logFile, err := os.Create(filepath.Join(home, "moto.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
		os.RemoveAll(home)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/moto-api/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				motoURL = url
				return stop, nil
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			stop()
			return nil, fmt.Errorf("moto_server exited before answering:\n%s", log)
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("moto_server did not answer on %s within 20s", url)
		case <-time.After(100 * time.Millisecond):
		}
	}
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
