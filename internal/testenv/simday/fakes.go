package simday

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// STS is a reverse proxy in front of moto_server's STS that follows the
// fake clock. moto has no clock to set: it answers AssumeRole with an
// expiry an hour after the real time, which the simulated day soon sees as
// long past. The proxy rewrites it to the fake time plus the duration
// asked, and counts the role sessions it hands out.
type STS struct {
	// URL is http://127.0.0.1:PORT, for AWS_ENDPOINT_URL_STS.
	URL string
	// Delay is added before each AssumeRole is answered: a real STS, or
	// the network to it, is slower than moto on 127.0.0.1. Set it before
	// the first call.
	Delay time.Duration

	clock Clock
	srv   *http.Server
	mu    sync.Mutex
	roles int
	err   error
}

// defaultRoleSession is AssumeRole's DurationSeconds when the caller
// sends none.
const defaultRoleSession = time.Hour

var expirationTag = regexp.MustCompile(`<Expiration>[^<]*</Expiration>`)

// StartSTS starts a proxy to upstream (moto_server's URL) on 127.0.0.1.
func StartSTS(upstream string, clock Clock) (*STS, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &STS{URL: "http://" + l.Addr().String(), clock: clock}
	proxy := &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(target) },
		ModifyResponse: s.rewrite,
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		q, _ := url.ParseQuery(string(body))
		if q.Get("Action") == "AssumeRole" {
			time.Sleep(s.Delay)
			// The duration asked travels to ModifyResponse in a header
			// moto ignores.
			d := defaultRoleSession
			if v := q.Get("DurationSeconds"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil {
					http.Error(w, "DurationSeconds: "+err.Error(), http.StatusBadRequest)
					return
				}
				d = time.Duration(n) * time.Second
			}
			r.Header.Set(durationHeader, d.String())
		}
		proxy.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

const durationHeader = "X-Simday-Role-Duration"

// rewrite sets an AssumeRole answer's expiry to the fake time plus the
// duration asked, and counts it.
func (s *STS) rewrite(resp *http.Response) error {
	d, err := time.ParseDuration(resp.Request.Header.Get(durationHeader))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil // not an AssumeRole, or a failed one: passed on as it is
	}
	fail := func(err error) error {
		s.mu.Lock()
		s.err = errors.Join(s.err, err)
		s.mu.Unlock()
		return err
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return fail(fmt.Errorf("AssumeRole answer in %s: the proxy rewrites plain XML only", enc))
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fail(err)
	}
	now, err := s.clock.Now()
	if err != nil {
		return fail(err)
	}
	if !expirationTag.Match(body) {
		return fail(fmt.Errorf("AssumeRole answer without <Expiration>: %s", body))
	}
	body = expirationTag.ReplaceAll(body, []byte("<Expiration>"+now.Add(d).UTC().Format(time.RFC3339)+"</Expiration>"))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	s.mu.Lock()
	s.roles++
	s.mu.Unlock()
	return nil
}

// AssumeRoleCalls is how many role sessions the proxy handed out.
func (s *STS) AssumeRoleCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roles
}

// Err is what went wrong while rewriting answers, if anything.
func (s *STS) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the proxy.
func (s *STS) Close() { _ = s.srv.Close() }

// Process is a slow credential_process (aws-vault, granted and 1Password
// take one to three seconds) whose credentials last Session from the fake
// time it runs at. It is a POSIX shell script.
type Process struct {
	// Command is the script, for a profile's credential_process.
	Command string
	// Delay is how long each run takes; Session how long its credentials
	// last.
	Delay, Session time.Duration

	runs, creds string
}

// WriteProcess writes the script and its files into dir.
func WriteProcess(dir string, delay, session time.Duration) (*Process, error) {
	p := &Process{
		Command: filepath.Join(dir, "slow-credential-process"), Delay: delay, Session: session,
		runs: filepath.Join(dir, "process-runs"), creds: filepath.Join(dir, "process-credentials.json"),
	}
	// A shell cannot add an hour to an RFC 3339 time portably (BSD and
	// GNU date differ), so Tick writes the answer for the fake time into
	// a file and the script prints it.
	script := fmt.Sprintf("#!/bin/sh\nsleep %s\necho run >> %s\nexec cat %s\n",
		strconv.FormatFloat(delay.Seconds(), 'f', -1, 64), shellQuote(p.runs), shellQuote(p.creds))
	if err := os.WriteFile(p.Command, []byte(script), 0o700); err != nil {
		return nil, err
	}
	return p, nil
}

// Tick follows the fake clock: a run from now on answers with credentials
// that end at now + Session. Pass it as Options.Tick.
func (p *Process) Tick(now time.Time) error {
	b, err := json.Marshal(map[string]any{
		"Version": 1, "AccessKeyId": "ASIASIMDAYPROCESS001", "SecretAccessKey": "simday/process/secret",
		"SessionToken": "simday-process-session", "Expiration": now.Add(p.Session).UTC().Format(time.RFC3339),
	})
	if err != nil {
		return err
	}
	tmp := p.creds + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p.creds)
}

// Runs is how many times the script has run.
func (p *Process) Runs() (int, error) {
	b, err := os.ReadFile(p.runs)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return bytes.Count(b, []byte("\n")), err
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
