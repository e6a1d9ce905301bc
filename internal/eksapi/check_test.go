package eksapi

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/testenv"
)

// testCert is a self-signed CA certificate in PEM.
func testCert(t *testing.T) []byte {
	t.Helper()
	pem, _ := testenv.CACert(t)
	return pem
}

// What the EKS API says about a cluster is checked before it goes into a
// kubeconfig: an https endpoint and base64 of PEM certificates, as kubectl
// will read them. Every way to get either wrong is refused with a message
// naming the cluster and the field.
func TestClusterCheck(t *testing.T) {
	cert := testCert(t)
	b64 := base64.StdEncoding.EncodeToString
	wrapped := b64(cert)
	wrapped = wrapped[:64] + "\n" + wrapped[64:128] + "\r\n" + wrapped[128:]
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	garbled := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	const good = "https://ABCDEF0123.gr7.eu-west-1.eks.amazonaws.com"
	for _, tc := range []struct {
		name, endpoint, ca string
		want               string // "" means accepted
	}{
		{name: "valid", endpoint: good, ca: b64(cert)},
		{name: "valid, two certificates", endpoint: good, ca: b64(append(append([]byte{}, cert...), testCert(t)...))},
		{name: "valid, wrapped base64", endpoint: good, ca: wrapped},
		{name: "valid, port and path", endpoint: "https://127.0.0.1:8443/", ca: b64(cert)},
		{name: "not base64", endpoint: good, ca: "this is not base64!", want: "not valid base64"},
		{name: "base64url alphabet", endpoint: good, ca: base64.URLEncoding.EncodeToString(append(cert, 0xfb, 0xff)), want: "not valid base64"},
		{name: "bad padding", endpoint: good, ca: b64(cert) + "==", want: "not valid base64"},
		{name: "truncated", endpoint: good, ca: b64(cert)[:101], want: "not valid base64"},
		{name: "quoted yaml", endpoint: good, ca: `"` + b64(cert) + `"`, want: "not valid base64"},
		{name: "plain text", endpoint: good, ca: b64([]byte("hello")), want: "does not decode to a PEM certificate"},
		{name: "raw DER", endpoint: good, ca: b64([]byte{0x30, 0x82, 1, 2}), want: "does not decode to a PEM certificate"},
		{name: "a key", endpoint: good, ca: b64(key), want: `PEM "EC PRIVATE KEY" block`},
		{name: "garbled certificate", endpoint: good, ca: b64(garbled), want: "does not parse"},
		{name: "trailing bytes", endpoint: good, ca: b64(append(append([]byte{}, cert...), "junk"...)), want: "bytes after"},
		{name: "http", endpoint: "http://x.eks.amazonaws.com", ca: b64(cert), want: "not an https URL"},
		{name: "no scheme", endpoint: "x.eks.amazonaws.com", ca: b64(cert), want: "not an https URL"},
		{name: "no host", endpoint: "https://", ca: b64(cert), want: "not an https URL"},
		{name: "user info", endpoint: "https://u:p@x.example", ca: b64(cert), want: "not an https URL"},
		{name: "query", endpoint: "https://x.example/?a=b", ca: b64(cert), want: "not an https URL"},
		{name: "newline", endpoint: "https://x.example\nserver: https://evil", ca: b64(cert), want: "not an https URL"},
		{name: "space", endpoint: "https://x.example /", ca: b64(cert), want: "not an https URL"},
		{name: "file", endpoint: "file:///etc/passwd", ca: b64(cert), want: "not an https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Cluster{Name: "prod", ARN: "arn:aws:eks:eu-west-1:111122223333:cluster/prod", Endpoint: tc.endpoint}
			c.CertificateAuthority.Data = tc.ca
			err := c.Check("prod")
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("accepted, want an error with %q", tc.want)
			case tc.want != "" && (!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"prod"`)):
				t.Errorf("error %q, want it to name the cluster and say %q", err, tc.want)
			}
		})
	}
	for _, c := range []Cluster{
		{Name: "other", ARN: "arn:aws:eks:eu-west-1:1:cluster/other", Endpoint: good},
		{Name: "", ARN: "arn:aws:eks:eu-west-1:1:cluster/prod", Endpoint: good},
		{Name: "prod", ARN: "", Endpoint: good},
		{Name: "prod", ARN: "arn:aws:eks:eu-west-1:1:cluster/prod\nx", Endpoint: good},
	} {
		c.CertificateAuthority.Data = b64(cert)
		if err := c.Check("prod"); err == nil || !strings.Contains(err.Error(), `"prod"`) {
			t.Errorf("%+v: %v, want an error naming the cluster", c, err)
		}
	}
}

// ListClusters paging ends: an API that repeats a token (at once, or after
// a cycle) or never stops giving new ones is an error that says so, after a
// bounded number of requests; names listed twice are kept once.
func TestListPagingIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		next func(page int) string // the nextToken of page (1-based); "" ends
		want string                // error substring; "" means success
		max  int                   // most requests allowed
	}{
		{name: "three pages", next: func(p int) string { return map[int]string{1: "a", 2: "b"}[p] }, max: 3},
		{name: "same token", next: func(int) string { return "again" }, want: "already given", max: 2},
		{name: "cycle of three", next: func(p int) string { return fmt.Sprint("t", p%3) }, want: "already given", max: 4},
		{name: "endless", next: func(p int) string { return fmt.Sprint("t", p) }, want: fmt.Sprintf("after %d pages", MaxPages), max: MaxPages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				page := int(requests.Add(1))
				fmt.Fprintf(w, `{"clusters":["c%d","shared"],"nextToken":%q}`, page, tc.next(page))
			}))
			defer srv.Close()
			names, err := client(srv.URL).List(context.Background())
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "" && (len(names) != 4 || names[1] != "shared" || names[3] != "c3"):
				t.Errorf("names %q", names)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--name")):
				t.Errorf("err %v, want one saying %q and what to do", err, tc.want)
			}
			if n := int(requests.Load()); n > tc.max {
				t.Errorf("%d requests, want at most %d", n, tc.max)
			}
		})
	}
}

// An API that never finishes its answer (headers and no body, or no
// answer at all) is an error after the timeout, naming the endpoint.
func TestCallsTimeOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/clusters" {
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `{"clusters":[`)
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := client(srv.URL)
	c.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := c.List(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no complete answer from "+srv.URL) {
		t.Errorf("List: %v", err)
	}
	_, err = c.Describe(context.Background(), "prod")
	if err == nil || !strings.Contains(err.Error(), "within 200ms") {
		t.Errorf("Describe: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}
