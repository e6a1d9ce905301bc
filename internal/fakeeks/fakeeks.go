// Package fakeeks is a local stand-in for an Amazon EKS API server, for tests
// and demos of the ekstoken exec credential plugin.
//
// It serves HTTPS on 127.0.0.1 and authenticates "k8s-aws-v1." bearer tokens
// exactly as EKS does (aws-iam-authenticator's verifier, then STS
// GetCallerIdentity), except that the STS step runs in-process: the SigV4
// signature is recomputed from a table of known credentials instead of calling
// AWS. Behind authentication it serves just enough of the Kubernetes API for
// kubectl version, kubectl get namespaces and kubectl auth whoami.
//
// Comments cite docs/token.md, the project's description of how EKS tokens
// are built and checked; "check N" is check N of docs/token.md#verifier.
package fakeeks

import (
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Identity is a credential the fake STS knows, and the caller it resolves to.
type Identity struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // "" means long-term keys: the token must then carry no X-Amz-Security-Token
	ARN             string // what GetCallerIdentity would return, e.g. arn:aws:sts::111122223333:assumed-role/Admin/me
}

// Options configures Start.
type Options struct {
	ClusterID  string // the x-k8s-aws-id this cluster expects: cluster name, or Outposts cluster id
	Identities []Identity
	Partition  string           // "aws" (default), "aws-cn", "aws-us-gov", ...
	Now        func() time.Time // clock for token expiry checks; default time.Now
	// Mapping maps canonical ARNs (an assumed role's role ARN, a user's
	// ARN) to the Kubernetes user they become, as EKS access entries (or
	// the aws-auth ConfigMap) do. nil maps every ARN the fake STS knows to
	// username = canonical ARN, groups [system:authenticated]. A non-nil
	// Mapping is the whole list: an ARN not in it is 401 Unauthorized, as
	// EKS answers a principal with no access entry.
	Mapping map[string]KubeUser
}

// KubeUser is the Kubernetes identity an IAM principal maps to.
type KubeUser struct {
	Username string
	Groups   []string
}

// Stats counts authentication outcomes since Start.
type Stats struct {
	Authenticated    int            // requests (or Verify calls) with a valid token
	Rejected         int            // requests (or Verify calls) without one
	LastRejectReason string         // error of the last rejection
	ByAccessKeyID    map[string]int // Authenticated, per access key id
	DistinctTokens   int            // distinct valid tokens seen; shows whether a client reuses (caches) tokens
	Unmapped         int            // requests with a valid token whose ARN Options.Mapping does not map (answered 401)
}

// Server is a running fake EKS API server.
type Server struct {
	URL    string // https://127.0.0.1:<port>
	CAData []byte // PEM of the server certificate, for a kubeconfig's certificate-authority-data

	opts  Options
	ts    *httptest.Server
	start time.Time // creation time of the namespaces

	mu    sync.Mutex
	ids   map[string]Identity
	stats Stats
	seen  map[[sha256.Size]byte]bool
}

// Start starts a server; Close it when done.
func Start(opts Options) (*Server, error) {
	if opts.ClusterID == "" {
		return nil, errors.New("fakeeks: cluster id is required")
	}
	if opts.Partition == "" {
		opts.Partition = "aws"
	}
	if _, ok := partitions[opts.Partition]; !ok {
		return nil, fmt.Errorf("fakeeks: unknown partition %q", opts.Partition)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:  opts,
		start: opts.Now().Add(-time.Hour),
		ids:   map[string]Identity{},
		seen:  map[[sha256.Size]byte]bool{},
		stats: Stats{ByAccessKeyID: map[string]int{}},
	}
	for _, id := range opts.Identities {
		s.AddIdentity(id)
	}
	// httptest listens on 127.0.0.1 with a self-signed certificate valid for it.
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0) // silence TLS handshake noise from clients that give up
	s.ts.StartTLS()
	s.URL = s.ts.URL
	s.CAData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
	return s, nil
}

// Close shuts the server down.
func (s *Server) Close() { s.ts.Close() }

// AddIdentity makes a credential known to the fake STS (replacing one with the
// same access key id). It is safe for concurrent use, so tests can add
// credentials issued later, e.g. by an AssumeRole mock.
func (s *Server) AddIdentity(id Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[id.AccessKeyID] = id
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByAccessKeyID = make(map[string]int, len(s.stats.ByAccessKeyID))
	for k, v := range s.stats.ByAccessKeyID {
		st.ByAccessKeyID[k] = v
	}
	return st
}

func (s *Server) identity(akid string) (Identity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.ids[akid]
	return id, ok
}

func (s *Server) record(token string, c *Caller, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.stats.Rejected++
		s.stats.LastRejectReason = err.Error()
		return
	}
	s.stats.Authenticated++
	s.stats.ByAccessKeyID[c.AccessKeyID]++
	if h := sha256.Sum256([]byte(token)); !s.seen[h] {
		s.seen[h] = true
		s.stats.DistinctTokens++
	}
}

type obj = map[string]any

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// Like kube-apiserver's bearer authenticator: "Bearer" is case-insensitive.
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	var caller *Caller
	err := errors.New("no bearer token in the Authorization header")
	if token = strings.TrimSpace(token); strings.EqualFold(scheme, "bearer") && token != "" {
		caller, err = s.Verify(token)
	} else {
		s.record(token, nil, err)
	}
	var user KubeUser
	if err == nil {
		user, err = s.mapped(caller)
	}
	if err != nil {
		writeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /version":
		writeJSON(w, http.StatusOK, obj{
			"major": "1", "minor": "32", "gitVersion": "v1.32.0-eks-fakeeks", "gitCommit": "0000000000000000000000000000000000000000",
			"gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": runtime.Version(),
			"compiler": runtime.Compiler, "platform": runtime.GOOS + "/" + runtime.GOARCH,
		})
	case "GET /api":
		// Legacy discovery. kubectl asks for aggregated discovery first, but a
		// plain application/json answer makes it fall back to this format.
		writeJSON(w, http.StatusOK, obj{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []obj{{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}}})
	case "GET /apis":
		gv := obj{"groupVersion": "authentication.k8s.io/v1", "version": "v1"}
		writeJSON(w, http.StatusOK, obj{"kind": "APIGroupList", "apiVersion": "v1", "groups": []obj{
			{"name": "authentication.k8s.io", "versions": []obj{gv}, "preferredVersion": gv}}})
	case "GET /api/v1":
		writeJSON(w, http.StatusOK, obj{"kind": "APIResourceList", "groupVersion": "v1", "resources": []obj{
			{"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
				"verbs": []string{"get", "list"}, "shortNames": []string{"ns"}}}})
	case "GET /apis/authentication.k8s.io/v1":
		writeJSON(w, http.StatusOK, obj{"kind": "APIResourceList", "apiVersion": "v1",
			"groupVersion": "authentication.k8s.io/v1", "resources": []obj{
				{"name": "selfsubjectreviews", "singularName": "selfsubjectreview", "namespaced": false,
					"kind": "SelfSubjectReview", "verbs": []string{"create"}}}})
	case "GET /api/v1/namespaces":
		s.getNamespaces(w, r)
	case "POST /apis/authentication.k8s.io/v1/selfsubjectreviews":
		writeJSON(w, http.StatusCreated, obj{"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
			"metadata": obj{"creationTimestamp": nil}, "status": obj{"userInfo": userInfo(caller, user)}})
	default:
		name, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/")
		if r.Method == http.MethodGet && ok && (name == "default" || name == "kube-system") {
			s.getNamespaces(w, r, name)
			return
		}
		writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
	}
}

// mapped is the Kubernetes user an authenticated caller becomes, or an
// error (a 401) when a Mapping is set and has no entry for its canonical
// ARN. EKS adds system:authenticated to every authenticated user.
func (s *Server) mapped(c *Caller) (KubeUser, error) {
	if s.opts.Mapping == nil {
		return KubeUser{Username: c.Username, Groups: []string{"system:authenticated"}}, nil
	}
	u, ok := s.opts.Mapping[c.Username]
	if !ok {
		err := fmt.Errorf("ARN %s is not mapped to a Kubernetes user (no access entry)", c.Username)
		s.mu.Lock()
		s.stats.Unmapped++
		s.stats.LastRejectReason = err.Error()
		s.mu.Unlock()
		return KubeUser{}, err
	}
	if u.Username == "" {
		u.Username = c.Username
	}
	groups := slices.Clone(u.Groups)
	if !slices.Contains(groups, "system:authenticated") {
		groups = append(groups, "system:authenticated")
	}
	u.Groups = groups
	return u, nil
}

// userInfo is what EKS reports for a caller (docs/token.md#check-14-identity): the
// mapped username and groups, the raw ARN, canonical ARN and session name as extras.
func userInfo(c *Caller, u KubeUser) obj {
	extra := obj{"accessKeyId": []string{c.AccessKeyID}, "arn": []string{c.ARN}, "canonicalArn": []string{c.Username}}
	if c.SessionName != "" {
		extra["sessionName"] = []string{c.SessionName}
	}
	return obj{"username": u.Username, "groups": u.Groups, "extra": extra}
}

func (s *Server) namespace(name string) obj {
	return obj{"kind": "Namespace", "apiVersion": "v1",
		"metadata": obj{"name": name, "resourceVersion": "1", "creationTimestamp": s.start.UTC().Format(time.RFC3339),
			"labels": obj{"kubernetes.io/metadata.name": name}},
		"spec": obj{"finalizers": []string{"kubernetes"}}, "status": obj{"phase": "Active"}}
}

// getNamespaces answers a get of one namespace (name given) or a list of all.
// Like kube-apiserver, it sends a meta.k8s.io/v1 Table when kubectl asks for
// server-side printing (Accept: ...;as=Table;...), otherwise the object or a
// NamespaceList.
func (s *Server) getNamespaces(w http.ResponseWriter, r *http.Request, name ...string) {
	names := []string{"default", "kube-system"}
	if len(name) > 0 {
		names = name
	}
	if !strings.Contains(r.Header.Get("Accept"), "as=Table") {
		if len(name) > 0 {
			writeJSON(w, http.StatusOK, s.namespace(name[0]))
			return
		}
		var items []obj
		for _, n := range names {
			items = append(items, s.namespace(n))
		}
		writeJSON(w, http.StatusOK, obj{"kind": "NamespaceList", "apiVersion": "v1",
			"metadata": obj{"resourceVersion": "1"}, "items": items})
		return
	}
	col := func(name, format string) obj {
		return obj{"name": name, "type": "string", "format": format, "description": name, "priority": 0}
	}
	age := humanAge(s.opts.Now().Sub(s.start))
	var rows []obj
	for _, n := range names {
		meta := obj{"name": n, "resourceVersion": "1", "creationTimestamp": s.start.UTC().Format(time.RFC3339)}
		rows = append(rows, obj{"cells": []any{n, "Active", age},
			"object": obj{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
	}
	writeJSON(w, http.StatusOK, obj{"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": obj{"resourceVersion": "1"},
		"columnDefinitions": []obj{col("Name", "name"), col("Status", ""), col("Age", "")}, "rows": rows})
}

// humanAge approximates kubectl's short duration format for the Age column.
func humanAge(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// writeStatus writes a metav1 Status failure, the body kube-apiserver sends with errors.
func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	writeJSON(w, code, obj{"kind": "Status", "apiVersion": "v1", "metadata": obj{}, "status": "Failure",
		"message": message, "reason": reason, "code": code})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing useful to do
}
