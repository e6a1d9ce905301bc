package fakeeks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Constants of the token format and of the verifier (docs/token.md#lifetime, docs/token.md#verifier).
const (
	tokenPrefix     = "k8s-aws-v1."
	maxTokenLen     = 4096 // upstream maxTokenLenBytes; larger tokens are refused before decoding
	presignValidity = 15 * time.Minute
	amzDateLayout   = "20060102T150405Z"
	clusterIDHeader = "x-k8s-aws-id"
	// The verifier replays only these two headers to STS (docs/token.md#check-12-replay), so a token signed over anything else can never verify.
	replayableSignedHeaders = "host;x-k8s-aws-id"
	emptyPayloadSHA256      = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// allowedParams is the verifier's query allow-list (docs/token.md#check-7-query), lower-cased.
var allowedParams = map[string]bool{
	"action": true, "version": true, "x-amz-algorithm": true, "x-amz-credential": true,
	"x-amz-date": true, "x-amz-expires": true, "x-amz-security-token": true,
	"x-amz-signature": true, "x-amz-signedheaders": true,
}

// regionLabel is the verifier's check on the region label of an STS host (docs/token.md#check-5-host).
var regionLabel = regexp.MustCompile(`^[[:alnum:]]([[:alnum:]\-]*[[:alnum:]])?$`)

// partition describes the STS host names of one AWS partition (pkg/endpoints/partitions.go,
// docs/token.md#partitions). fips reports whether the SDK resolver produces "sts-fips." hosts there
// (GovCloud's FIPS endpoint is the plain "sts." host).
type partition struct {
	domain, dualStack string
	fips              bool
}

var partitions = map[string]partition{
	"aws":        {"amazonaws.com", "api.aws", true},
	"aws-cn":     {"amazonaws.com.cn", "api.amazonwebservices.com.cn", true},
	"aws-us-gov": {"amazonaws.com", "api.aws", false},
	"aws-iso":    {"c2s.ic.gov", "", true},
	"aws-iso-b":  {"sc2s.sgov.gov", "", true},
	"aws-iso-e":  {"cloud.adc-e.uk", "", true},
	"aws-iso-f":  {"csp.hci.ic.gov", "", true},
	"aws-eusc":   {"amazonaws.eu", "api.amazonwebservices.eu", true},
}

// Caller is the identity a valid token authenticates as.
type Caller struct {
	ARN         string // as STS GetCallerIdentity returns it, e.g. arn:aws:sts::A:assumed-role/R/S
	Username    string // as EKS maps it: assumed-role ARNs become arn:aws:iam::A:role/R (docs/token.md#check-14-identity)
	AccountID   string
	SessionName string // the S of an assumed-role ARN, else ""
	AccessKeyID string // from X-Amz-Credential
	STSHost     string // host of the presigned URL
	Region      string // signing region of the credential scope
}

// Verify authenticates a bearer token the way EKS does: first every check of
// aws-iam-authenticator's verifier, in its order (checks 1 to 11 of docs/token.md#verifier), then
// what STS does with the replayed request (docs/token.md#sts), where the signature is
// recomputed with the server's own ClusterID as x-k8s-aws-id. That last step
// is what binds a token to one cluster. Verify uses Options.Now as the clock,
// updates Stats, and is safe for concurrent use.
func (s *Server) Verify(token string) (*Caller, error) {
	c, err := s.verify(token)
	s.record(token, c, err)
	return c, err
}

func (s *Server) verify(token string) (*Caller, error) {
	if len(token) > maxTokenLen {
		return nil, fmt.Errorf("token is too large: %d bytes, max %d", len(token), maxTokenLen)
	}
	enc, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return nil, errors.New("token is missing the k8s-aws-v1. prefix")
	}
	// RawURLEncoding: "=" padding and the standard alphabet's "+/" fail here (docs/token.md#unpadded-base64url).
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("token is not unpadded base64url: %w", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("malformed presigned url: %w", err)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("unexpected scheme %q in presigned url, want https", u.Scheme)
	}
	hostRegion, err := s.checkHost(u.Host)
	if err != nil {
		return nil, err
	}
	if u.Path != "/" {
		return nil, fmt.Errorf("unexpected path %q in presigned url, want /", u.Path)
	}
	params, err := checkQuery(u.RawQuery)
	if err != nil {
		return nil, err
	}
	if params["action"] != "GetCallerIdentity" {
		return nil, fmt.Errorf("unexpected action %q, want GetCallerIdentity", params["action"])
	}
	if !slices.ContainsFunc(strings.Split(params["x-amz-signedheaders"], ";"), func(h string) bool {
		return strings.EqualFold(h, clusterIDHeader)
	}) {
		return nil, errors.New("x-amz-signedheaders does not include x-k8s-aws-id")
	}
	// Required although STS ignores it (docs/token.md#x-amz-expires-is-required): a missing value fails strconv.Atoi.
	if exp, err := strconv.Atoi(params["x-amz-expires"]); err != nil || exp < 0 || exp > 900 {
		return nil, fmt.Errorf("invalid x-amz-expires %q: want an integer in [0, 900]", params["x-amz-expires"])
	}
	date, err := time.Parse(amzDateLayout, params["x-amz-date"])
	if err != nil {
		return nil, fmt.Errorf("invalid x-amz-date: %w", err)
	}
	now := s.opts.Now()
	if now.After(date.Add(presignValidity)) {
		return nil, errors.New("x-amz-date is expired (15 minute expiration)")
	}
	// The verifier has no future check; STS has (docs/token.md#sts; the window is inferred as 15 min).
	if date.After(now.Add(presignValidity)) {
		return nil, errors.New("SignatureDoesNotMatch: signature not yet current (x-amz-date more than 15 minutes in the future)")
	}
	return s.fakeSTS(u, hostRegion, params)
}

// checkHost accepts any region's STS host of the configured partition (docs/token.md#check-5-host) and returns the region the credential scope must name.
func (s *Server) checkHost(host string) (string, error) {
	p := partitions[s.opts.Partition]
	if host == "sts.amazonaws.com" {
		if s.opts.Partition != "aws" {
			return "", fmt.Errorf("global endpoint unsupported in partition %s", s.opts.Partition)
		}
		return "us-east-1", nil // the global endpoint is signed for us-east-1 (docs/token.md#regional-and-global)
	}
	labels := strings.SplitN(host, ".", 3)
	if len(labels) != 3 || !regionLabel.MatchString(labels[1]) {
		return "", fmt.Errorf("unexpected hostname %q in presigned url", host)
	}
	service, region, domain := labels[0], labels[1], labels[2]
	okService := service == "sts" || (service == "sts-fips" && p.fips)
	okDomain := domain == p.domain || (p.dualStack != "" && domain == p.dualStack)
	if !okService || !okDomain {
		return "", fmt.Errorf("unexpected hostname %q in presigned url for partition %s", host, s.opts.Partition)
	}
	return region, nil
}

// checkQuery applies docs/token.md#check-7-query and returns the parameters keyed in lower case.
func checkQuery(rawQuery string) (map[string]string, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query in presigned url: %w", err)
	}
	params := make(map[string]string, len(q))
	for _, k := range slices.Sorted(maps.Keys(q)) { // sorted so the error is deterministic
		lk := strings.ToLower(k)
		if _, dup := params[lk]; dup || len(q[k]) != 1 {
			return nil, fmt.Errorf("duplicate query parameter %q", k)
		}
		if !allowedParams[lk] {
			return nil, fmt.Errorf("non-allowlisted query parameter %q", k)
		}
		params[lk] = q[k][0]
	}
	return params, nil
}

// fakeSTS does what STS GetCallerIdentity does with the request the verifier
// replays: GET of the token URL with "x-k8s-aws-id: <server ClusterID>".
func (s *Server) fakeSTS(u *url.URL, hostRegion string, p map[string]string) (*Caller, error) {
	if p["x-amz-algorithm"] != "AWS4-HMAC-SHA256" {
		return nil, fmt.Errorf("IncompleteSignature: unsupported x-amz-algorithm %q", p["x-amz-algorithm"])
	}
	scope := strings.Split(p["x-amz-credential"], "/")
	if len(scope) != 5 {
		return nil, fmt.Errorf("IncompleteSignature: malformed x-amz-credential %q", p["x-amz-credential"])
	}
	id, ok := s.identity(scope[0])
	if !ok {
		return nil, fmt.Errorf("InvalidClientTokenId: unknown access key id %q", scope[0])
	}
	// Temporary credentials need their session token; long-term keys must not carry one.
	tok, hasTok := p["x-amz-security-token"]
	if hasTok != (id.SessionToken != "") || !hmac.Equal([]byte(tok), []byte(id.SessionToken)) {
		return nil, fmt.Errorf("InvalidClientTokenId: security token missing or invalid for %q", scope[0])
	}
	amzDate := p["x-amz-date"] // already parsed, so 16 bytes long
	if scope[1] != amzDate[:8] || scope[2] != hostRegion || scope[3] != "sts" || scope[4] != "aws4_request" {
		return nil, fmt.Errorf("SignatureDoesNotMatch: credential scope %q does not match date %s and region %s",
			strings.Join(scope[1:], "/"), amzDate[:8], hostRegion)
	}
	if p["x-amz-signedheaders"] != replayableSignedHeaders {
		return nil, fmt.Errorf("SignatureDoesNotMatch: signed headers %q cannot be replayed by the verifier, want %q",
			p["x-amz-signedheaders"], replayableSignedHeaders)
	}
	creq := "GET\n/\n" + canonicalQuery(u.Query()) + "\n" +
		"host:" + u.Host + "\n" + clusterIDHeader + ":" + strings.TrimSpace(s.opts.ClusterID) + "\n\n" +
		replayableSignedHeaders + "\n" + emptyPayloadSHA256
	want := sigV4(id.SecretAccessKey, amzDate, scope[2], creq)
	if !hmac.Equal([]byte(want), []byte(p["x-amz-signature"])) {
		return nil, errors.New("SignatureDoesNotMatch: signature mismatch (token signed for another cluster, other credentials, or tampered)")
	}
	user, account, session := canonicalARN(id.ARN)
	return &Caller{ARN: id.ARN, Username: user, AccountID: account, SessionName: session,
		AccessKeyID: scope[0], STSHost: u.Host, Region: scope[2]}, nil
}

// canonicalQuery is the SigV4 canonical query string: every parameter except
// the signature, re-encoded RFC 3986 style and sorted by key then value. It is
// rebuilt from the parsed values because botocore and Go order the parameters
// differently (docs/token.md#v2, docs/token.md#comparing-urls-as-strings).
func canonicalQuery(q url.Values) string {
	var pairs [][2]string
	for k, vs := range q {
		if strings.EqualFold(k, "X-Amz-Signature") {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, [2]string{rfc3986(k), rfc3986(v)})
		}
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	parts := make([]string, len(pairs))
	for i, kv := range pairs {
		parts[i] = kv[0] + "=" + kv[1]
	}
	return strings.Join(parts, "&")
}

// rfc3986 percent-encodes everything but A-Za-z0-9-_.~ with uppercase hex
// (%20 for space, unlike url.QueryEscape), as SigV4 requires (docs/token.md#signing).
func rfc3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// sigV4 returns the hex SigV4 signature of a canonical request for service sts (docs/token.md#signing).
func sigV4(secret, amzDate, region, canonicalRequest string) string {
	day := amzDate[:8]
	sum := sha256.Sum256([]byte(canonicalRequest))
	stringToSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + day + "/" + region + "/sts/aws4_request\n" +
		hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{day, region, "sts", "aws4_request", stringToSign} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(part))
		key = m.Sum(nil)
	}
	return hex.EncodeToString(key)
}

// canonicalARN maps an STS caller ARN to the EKS username: assumed-role
// sessions become their role ARN without path (docs/token.md#check-14-identity); users, root and federated users keep their ARN.
func canonicalARN(arn string) (username, account, session string) {
	f := strings.SplitN(arn, ":", 6) // arn:partition:service:region:account:resource
	if len(f) != 6 || f[0] != "arn" {
		return arn, "", ""
	}
	res := strings.Split(f[5], "/")
	if f[2] == "sts" && res[0] == "assumed-role" && len(res) == 3 {
		return "arn:" + f[1] + ":iam::" + f[4] + ":role/" + res[1], f[4], res[2]
	}
	return arn, f[4], ""
}
