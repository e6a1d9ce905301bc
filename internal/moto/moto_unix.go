//go:build unix

package moto

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Server is a running moto_server.
type Server struct {
	// URL is http://127.0.0.1:PORT.
	URL    string
	cmd    *exec.Cmd
	exited chan struct{}
	home   string
	log    *os.File
}

// Start runs moto_server on a free port of 127.0.0.1 and waits until it
// answers. It returns an error wrapping exec.ErrNotFound when moto_server
// is not installed.
func Start() (*Server, error) {
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
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), home: home, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// moto gets no AWS_* variables; its own process group lets Close end it
	// together with anything its launcher (a pyenv shim) started.
	s.cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_EC2_METADATA_DISABLED=true"}
	s.cmd.Dir = home
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.log, err = os.Create(filepath.Join(home, "moto.log")); err != nil {
		os.RemoveAll(home)
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.log.Close()
		os.RemoveAll(home)
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(s.log.Name())
			s.Close()
			return nil, fmt.Errorf("moto_server exited before answering:\n%s", log)
		case <-ctx.Done():
			s.Close()
			return nil, fmt.Errorf("moto_server did not answer on %s within 20s", s.URL)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Reset forgets every resource and call moto has recorded.
func (s *Server) Reset() error {
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Close stops moto_server and removes its files.
func (s *Server) Close() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
	s.log.Close()
	os.RemoveAll(s.home)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Supported says whether Start can run moto_server here: nil on Unix,
// ErrUnixOnly elsewhere.
func Supported() error { return nil }
