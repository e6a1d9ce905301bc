package logins

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/token"

	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
)

const (
	region    = "eu-west-1"
	stsHost   = "sts." + region + ".amazonaws.com"
	account   = "123456789012"
	baseKeyID = "AKIAIOSFODNN7BASEKEY"
	baseKey   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYBASEKEY"

	v1 = "client.authentication.k8s.io/v1"
	// interactiveInfo and batchInfo are what kubectl puts in
	// KUBERNETES_EXEC_INFO with and without a terminal on stdin.
	interactiveInfo = `{"apiVersion":"` + v1 + `","kind":"ExecCredential","spec":{"interactive":true}}`
	batchInfo       = `{"apiVersion":"` + v1 + `","kind":"ExecCredential","spec":{"interactive":false}}`
)

func roleARN(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// sandbox is a private HOME (with the token cache in its default place,
// ~/.kube/cache/ekstoken) and the environment of the processes run in it:
// internal/testenv/sandbox's, whose egress trap fails the test if a
// request tries to leave 127.0.0.1.
type sandbox struct {
	*harness.Sandbox
	home, cacheDir     string
	configFile, credsF string
	bin                string // first on PATH, for fake commands
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	hs := harness.New(t, harness.Options{})
	return &sandbox{Sandbox: hs, home: hs.Home, cacheDir: hs.CacheDir,
		configFile: hs.ConfigFile, credsF: hs.CredentialsFile, bin: hs.Bin}
}

// env is the sandbox's environment plus kv ("K=V"); a later entry wins.
func (sb *sandbox) env(kv ...string) []string { return sb.Env(kv...) }

// writeConfig writes the shared config file; writeCredentials the shared
// credentials file.
func (sb *sandbox) writeConfig(t *testing.T, text string) { writeFile(t, sb.configFile, text, 0o600) }
func (sb *sandbox) writeCredentials(t *testing.T, text string) {
	writeFile(t, sb.credsF, text, 0o600)
}

// writeBaseCredentials puts the long-term keys in [base].
func (sb *sandbox) writeBaseCredentials(t *testing.T) {
	sb.writeCredentials(t, "[base]\naws_access_key_id = "+baseKeyID+"\naws_secret_access_key = "+baseKey+"\n")
}

// script writes an executable shell script to the sandbox's bin directory.
func (sb *sandbox) script(t *testing.T, name, body string) string { return sb.Script(t, name, body) }

// cacheFiles lists the cache entries whose names start with prefix
// ("token-", "credentials-").
func (sb *sandbox) cacheFiles(t *testing.T, prefix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(sb.cacheDir, prefix+"*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readJSON decodes a file into v.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

func readFileString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// countLines is the number of lines in path, 0 when it does not exist.
func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// run runs ekstoken with stdin on /dev/null, as kubectl does without a
// terminal; the sandbox's egress trap fails the test if it tried to leave
// 127.0.0.1.
func run(t *testing.T, env []string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	r := harness.Proc{Env: env}.MustExit(t, suite.Bin, args...)
	return r.Stdout, r.Stderr, r.Code()
}

// mustToken runs ekstoken, requires success, and returns the credential.
func mustToken(t *testing.T, env []string, args ...string) execCredential {
	t.Helper()
	stdout, stderr, code := run(t, env, args...)
	if code != 0 {
		t.Fatalf("ekstoken %v: exit %d\nstderr: %s", args, code, stderr)
	}
	return parseCredential(t, stdout)
}

// mustFail runs ekstoken, requires a non-zero exit and an empty stdout,
// and returns stderr.
func mustFail(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, code := run(t, env, args...)
	if code == 0 {
		t.Fatalf("ekstoken %v succeeded, want a failure\nstdout: %s", args, stdout)
	}
	if stdout != "" {
		t.Errorf("ekstoken %v failed but wrote stdout (kubectl's): %q", args, stdout)
	}
	return stderr
}

func tokenArgs(cluster string, more ...string) []string {
	return append([]string{"token", "--cluster-name", cluster}, more...)
}

// execCredential is what ekstoken prints.
type execCredential = harness.Credential

// parseCredential requires stdout to be exactly one ExecCredential line.
func parseCredential(t *testing.T, stdout string) execCredential {
	t.Helper()
	c, err := harness.ParseCredential(stdout)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tokenInfo is what a token says about itself.
type tokenInfo struct {
	token.Claims
	Query url.Values
}

// decodeToken decodes a token's presigned URL without any secret.
func decodeToken(t *testing.T, tok string) tokenInfo {
	t.Helper()
	c, err := token.Parse(tok)
	if err != nil {
		t.Fatalf("token.Parse: %v", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, token.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return tokenInfo{Claims: c, Query: u.Query()}
}

// checkSigned checks a token's structure against the credentials that
// should have signed it, then verifies its signature as EKS and STS would
// for cluster (fakeeks, with id as the only identity STS knows).
func checkSigned(t *testing.T, cluster, tok string, id fakeeks.Identity) {
	t.Helper()
	ti := decodeToken(t, tok)
	if ti.Host != stsHost {
		t.Errorf("token host = %q, want %q (a real STS host, never an endpoint override)", ti.Host, stsHost)
	}
	if ti.AccessKeyID != id.AccessKeyID {
		t.Errorf("token signed with %q, want %q", ti.AccessKeyID, id.AccessKeyID)
	}
	if got := ti.Query.Get("X-Amz-Security-Token"); got != id.SessionToken {
		t.Errorf("X-Amz-Security-Token = %.20q..., want %.20q...", got, id.SessionToken)
	}
	if id.ARN == "" {
		id.ARN = "arn:aws:iam::" + account + ":user/test"
	}
	eks, err := fakeeks.Start(fakeeks.Options{ClusterID: cluster, Identities: []fakeeks.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	defer eks.Close()
	if _, err := eks.Verify(tok); err != nil {
		t.Errorf("token for %s does not verify: %v", cluster, err)
	}
}

// ---- moto (STS) ----

// assumedRole is one entry of moto's data.json "sts"."AssumedRole": every
// AssumeRole and AssumeRoleWithWebIdentity it answered since the last reset.
type assumedRole struct {
	AccessKeyID     string  `json:"access_key_id"`
	SecretAccessKey string  `json:"secret_access_key"`
	SessionToken    string  `json:"session_token"`
	ARN             string  `json:"arn"`
	RoleARN         string  `json:"role_arn"`
	SessionName     string  `json:"session_name"`
	ExternalID      *string `json:"external_id"`
}

func (a assumedRole) identity() fakeeks.Identity {
	return fakeeks.Identity{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey, SessionToken: a.SessionToken, ARN: a.ARN}
}

// motoRoles lists the roles moto has handed out.
func motoRoles(t *testing.T) []assumedRole {
	t.Helper()
	resp, err := http.Get(suite.MotoURL + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var data struct {
		STS struct {
			AssumedRole []assumedRole `json:"AssumedRole"`
		} `json:"sts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		t.Fatalf("moto data.json: %v", err)
	}
	return data.STS.AssumedRole
}

// onlyRole requires moto to have handed out exactly one role session.
func onlyRole(t *testing.T) assumedRole {
	t.Helper()
	roles := motoRoles(t)
	if len(roles) != 1 {
		t.Fatalf("moto answered %d AssumeRole calls, want 1: %+v", len(roles), roles)
	}
	return roles[0]
}

// authParam holds, among a recorded call's parameters, its Authorization
// header.
const authParam = "test.Authorization"

// roleFor finds the role session whose key signed tok.
func roleFor(t *testing.T, tok string) assumedRole {
	t.Helper()
	akid := decodeToken(t, tok).AccessKeyID
	for _, r := range motoRoles(t) {
		if r.AccessKeyID == akid {
			return r
		}
	}
	t.Fatalf("token signed with %s, which moto never issued", akid)
	return assumedRole{}
}

// stsServer is moto behind a proxy that records each call's parameters.
type stsServer struct {
	URL   string
	mu    sync.Mutex
	calls []url.Values
}

// startSTS resets moto and returns a recording front for it; without
// moto_server, testenv decides what happens to the test.
func startSTS(t *testing.T) *stsServer {
	t.Helper()
	if suite.MotoURL == "" {
		testenv.RequireTool(t, "moto_server")
		t.Fatal("moto_server is on PATH but did not start")
	}
	resp, err := http.Post(suite.MotoURL+"/moto-api/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(motoRoles(t)); n != 0 {
		t.Fatalf("moto still has %d roles after a reset", n)
	}
	target, _ := url.Parse(suite.MotoURL)
	s := &stsServer{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		q, _ := url.ParseQuery(string(body))
		q.Set(authParam, r.Header.Get("Authorization"))
		s.mu.Lock()
		s.calls = append(s.calls, q)
		s.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Calls returns the parameters of every call with the given Action.
func (s *stsServer) Calls(action string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []url.Values
	for _, c := range s.calls {
		if c.Get("Action") == action {
			out = append(out, c)
		}
	}
	return out
}

// Actions lists the Action of every call, in order.
func (s *stsServer) Actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		out = append(out, c.Get("Action"))
	}
	return out
}

// ---- small fakes ----

// fake is an HTTP server on 127.0.0.1 that records what it was asked.
type fake struct {
	URL  string
	mu   sync.Mutex
	reqs []*http.Request
}

func startFake(t *testing.T, h http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Clone(context.Background()))
		f.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// requests returns what the fake saw.
func (f *fake) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func writeJSONResponse(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// tempCreds are credentials a fake hands out; expiring ones carry a
// session token.
type tempCreds struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expires                                    time.Time // zero: never
}

func (c tempCreds) identity() fakeeks.Identity {
	return fakeeks.Identity{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
}

func newCreds(akid string, expires time.Time) tempCreds {
	return tempCreds{
		AccessKeyID: akid, SecretAccessKey: "secret/" + akid, SessionToken: "session-token-of-" + akid,
		Expires: expires.UTC().Truncate(time.Second),
	}
}
