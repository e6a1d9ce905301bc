// Package eksapi makes the two read-only EKS calls that
// `ekstoken update-kubeconfig` needs: DescribeCluster and ListClusters.
//
// Why not aws-sdk-go-v2/service/eks: linking it adds its schemas package,
// whose init builds the whole EKS model (580 KB, 3,300 allocations, 0.7 to
// 1.8 ms here) before main, on every `ekstoken token` start, cache hits
// included; see internal/fastpath. These two GET calls use the SDK's own
// pieces instead: its resolved credentials, its SigV4 signer and its HTTP
// client (which honour proxies and AWS_CA_BUNDLE). TestBinaryLinksNoHeavyClients
// in cmd/ekstoken keeps service/eks out of the binary.
package eksapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Cluster is what update-kubeconfig needs of an EKS cluster.
type Cluster struct {
	Name                 string `json:"name"`
	ARN                  string `json:"arn"`
	ID                   string `json:"id"`
	Endpoint             string `json:"endpoint"`
	Status               string `json:"status"`
	CertificateAuthority struct {
		Data string `json:"data"`
	} `json:"certificateAuthority"`
	OutpostConfig *struct {
		ControlPlaneInstanceType string `json:"controlPlaneInstanceType"`
	} `json:"outpostConfig"`
	// AccessConfig says where EKS maps IAM principals to Kubernetes
	// users: access entries (API), the aws-auth ConfigMap, or both.
	AccessConfig *struct {
		AuthenticationMode string `json:"authenticationMode"`
	} `json:"accessConfig"`
}

// IsLocalOutposts says the cluster is a local cluster on AWS Outposts,
// whose tokens name the cluster ID rather than its name. The aws CLI tells
// them by an outpostConfig, as here (docs/token.md#outposts).
func (c Cluster) IsLocalOutposts() bool { return c.OutpostConfig != nil }

// Client calls the EKS API of one region.
type Client struct {
	Config aws.Config
	// Endpoint overrides https://eks.<region>.<partition domain>.
	Endpoint string
	Now      func() time.Time
	// Timeout bounds each call, answer included, so an API that never
	// answers (or answers a byte a minute) cannot hang update-kubeconfig;
	// 0 means DefaultTimeout.
	Timeout time.Duration
}

// Describe is eks:DescribeCluster.
func (c Client) Describe(ctx context.Context, name string) (Cluster, error) {
	var out struct {
		Cluster Cluster `json:"cluster"`
	}
	if err := c.get(ctx, "/clusters/"+url.PathEscape(name), nil, &out); err != nil {
		return Cluster{}, fmt.Errorf("describe EKS cluster %q in %s: %w", name, c.Config.Region, err)
	}
	return out.Cluster, nil
}

// MaxPages bounds ListClusters paging: 1,000 pages of 100 is ten times
// the largest cluster quota EKS grants per region. An API that keeps
// answering with a nextToken past it is broken or hostile.
const MaxPages = 1000

// List is eks:ListClusters, all pages, each name once. An API that repeats
// a nextToken or pages past MaxPages is an error rather than an endless
// loop.
func (c Client) List(ctx context.Context) ([]string, error) {
	var names []string
	seenName := map[string]bool{}
	seenToken := map[string]bool{}
	next := ""
	for page := 1; ; page++ {
		q := url.Values{"maxResults": {"100"}}
		if next != "" {
			q.Set("nextToken", next)
		}
		var out struct {
			Clusters  []string `json:"clusters"`
			NextToken string   `json:"nextToken"`
		}
		if err := c.get(ctx, "/clusters", q, &out); err != nil {
			return nil, fmt.Errorf("list EKS clusters in %s: %w", c.Config.Region, err)
		}
		for _, n := range out.Clusters {
			if !seenName[n] {
				seenName[n] = true
				names = append(names, n)
			}
		}
		if out.NextToken == "" {
			return names, nil
		}
		if seenToken[out.NextToken] {
			return nil, fmt.Errorf("list EKS clusters in %s: the EKS API answered page %d with a nextToken it had already given, so paging would never end; check --endpoint-url and AWS_ENDPOINT_URL, or name the cluster with --name", c.Config.Region, page)
		}
		if page >= MaxPages {
			return nil, fmt.Errorf("list EKS clusters in %s: the EKS API still had a nextToken after %d pages (%d clusters), more than EKS allows in a region; check --endpoint-url and AWS_ENDPOINT_URL, or name the cluster with --name", c.Config.Region, page, len(names))
		}
		seenToken[out.NextToken] = true
		next = out.NextToken
	}
}

// Check refuses what update-kubeconfig must not write into a kubeconfig
// for cluster name: an endpoint that is not an https URL, or certificate
// data that is not base64 of PEM certificates. kubectl refuses a whole
// kubeconfig (every context, not only this one) whose
// certificate-authority-data does not decode, so a broken or hostile API
// answer must stop here.
func (c Cluster) Check(name string) error {
	if c.Name != name {
		return fmt.Errorf("EKS cluster %q: the EKS API described cluster %q instead; nothing was written", name, c.Name)
	}
	if !strings.HasPrefix(c.ARN, "arn:") || strings.ContainsFunc(c.ARN, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("EKS cluster %q: the EKS API gave the ARN %q, which is not an ARN; nothing was written", name, truncate(c.ARN, 80))
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		strings.ContainsFunc(c.Endpoint, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("EKS cluster %q: the EKS API gave the endpoint %q, which is not an https URL; nothing was written", name, truncate(c.Endpoint, 80))
	}
	if err := checkCA(c.CertificateAuthority.Data); err != nil {
		return fmt.Errorf("EKS cluster %q: the EKS API gave certificate authority data that %w; nothing was written, since kubectl would refuse the whole kubeconfig", name, err)
	}
	return nil
}

// checkCA checks data as client-go reads certificate-authority-data:
// standard base64 (line breaks ignored) of one or more PEM CERTIFICATE
// blocks, each an X.509 certificate, and nothing else.
func checkCA(data string) error {
	pemData, err := base64.StdEncoding.DecodeString(data) // ignores line breaks, as client-go does
	if err != nil {
		return fmt.Errorf("is not valid base64 (%w)", err)
	}
	rest := pemData
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a PEM %q block, not a certificate", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("holds a certificate that does not parse (%w)", err)
		}
		n++
	}
	if n == 0 {
		return errors.New("does not decode to a PEM certificate")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return errors.New("has bytes after its PEM certificates")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// emptyPayloadHash is the SHA-256 of an empty body, as SigV4 wants it.
var emptyPayloadHash = hex.EncodeToString(sha256.New().Sum(nil))

func (c Client) get(ctx context.Context, path string, query url.Values, out any) error {
	base := c.Endpoint
	if base == "" {
		base = "https://eks." + c.Config.Region + "." + domain(c.Config.Region)
	}
	u := strings.TrimSuffix(base, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	err := c.do(ctx, http.MethodGet, u, "eks", nil, timeout, func(status int, h http.Header, body []byte) error {
		if status != http.StatusOK {
			var e struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(body, &e)
			kind, _, _ := strings.Cut(h.Get("X-Amzn-Errortype"), ":")
			if kind == "" {
				kind = http.StatusText(status)
			}
			return &APIError{Code: kind, Message: e.Message, Status: status}
		}
		return json.Unmarshal(body, out)
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("no complete answer from %s within %v: check the network, --endpoint-url and AWS_ENDPOINT_URL", base, timeout)
	}
	return err
}

// DefaultTimeout is how long one EKS API call may take.
const DefaultTimeout = time.Minute

// APIError is an error answer of an AWS API: its code
// (AccessDeniedException, ThrottlingException, AuthFailure...) and message.
type APIError struct {
	Code, Message string
	Status        int
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Throttled says the API asked to slow down: the call may be tried again
// after a while.
func (e *APIError) Throttled() bool {
	switch e.Code {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "RequestThrottled", "SlowDown":
		return true
	}
	return e.Status == http.StatusTooManyRequests
}

// do sends a signed request for service to u and hands the answer to
// decode. Only the exchange with the API is timed: getting credentials
// may wait for a person (an MFA code).
func (c Client) do(ctx context.Context, method, u, service string, form url.Values, timeout time.Duration, decode func(status int, h http.Header, body []byte) error) error {
	var payload []byte
	if form != nil {
		payload = []byte(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	hash := emptyPayloadHash
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sum := sha256.Sum256(payload)
		hash = hex.EncodeToString(sum[:])
	} else {
		req.Body, req.ContentLength = http.NoBody, 0
		req.Header.Set("Accept", "application/json")
	}
	creds, err := c.Config.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("get AWS credentials: %w", err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hash, service, c.Config.Region, c.Now()); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	client := c.Config.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := client.Do(req.WithContext(callCtx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	return decode(resp.StatusCode, resp.Header, body)
}

// Domain is the DNS suffix of the region's partition.
func Domain(region string) string { return domain(region) }

// domain is the DNS suffix of the region's partition (the table of
// docs/token.md#partitions).
func domain(region string) string {
	for _, p := range []struct{ prefix, domain string }{
		{"cn-", "amazonaws.com.cn"},
		{"us-isob-", "sc2s.sgov.gov"},
		{"us-isof-", "csp.hci.ic.gov"},
		{"us-iso-", "c2s.ic.gov"},
		{"eu-isoe-", "cloud.adc-e.uk"},
		{"eusc-", "amazonaws.eu"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.domain
		}
	}
	return "amazonaws.com"
}
