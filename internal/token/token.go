// Package token reads EKS bearer tokens: "k8s-aws-v1." followed by the
// unpadded base64url of an STS GetCallerIdentity URL presigned with the
// header x-k8s-aws-id (../shared/reference/token-spec.md). It imports only
// the standard library, because it runs on every cache hit; making tokens is
// package signer's job.
package token

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

const (
	// Prefix starts every EKS token.
	Prefix = "k8s-aws-v1."
	// Lifetime is how long STS accepts a presigned GetCallerIdentity URL
	// after its X-Amz-Date, whatever X-Amz-Expires says (aws-sdk-go #2167).
	Lifetime = 15 * time.Minute
	// MaxLen is the largest token the EKS authenticator accepts
	// (aws-iam-authenticator #1106).
	MaxLen = 4096

	dateFormat = "20060102T150405Z"
)

// Claims is what a token says about itself, read without any secret.
type Claims struct {
	SignedAt    time.Time
	AccessKeyID string
	Host        string
	// Region is the region the token was signed for, from the credential
	// scope; "" when the scope names none.
	Region string
}

// Expires is when STS stops accepting the token.
func (c Claims) Expires() time.Time { return c.SignedAt.Add(Lifetime) }

// Parse reads the signing time, key ID and STS host out of a token. It
// runs on every cache hit, so it avoids net/url on purpose: that package
// brings net/netip and unique, and with them a place in Go's package
// initialization order after the AWS SDK's schema packages, which would
// then initialize before the hit is served (see internal/fastpath). The URL
// is one a SigV4 presigner wrote, and Parse reads three plain fields of it;
// TestParseAgreesWithNetURL and FuzzParse hold it to net/url's reading.
func Parse(tok string) (Claims, error) {
	rest, ok := strings.CutPrefix(tok, Prefix)
	if !ok {
		return Claims{}, errors.New("not an EKS token: missing prefix " + Prefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return Claims{}, fmt.Errorf("decode token: %w", err)
	}
	hostAndQuery, ok := strings.CutPrefix(string(raw), "https://")
	if !ok {
		return Claims{}, errors.New("token URL is not https")
	}
	// EKS wants the path to be exactly "/" (token-spec.md §7.4).
	host, query, ok := strings.Cut(hostAndQuery, "/?")
	if !ok || !isHostName(host) || !isQuery(query) {
		return Claims{}, errors.New("token URL is not https://<sts host>/?<query>")
	}
	var date, credential string
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		var field *string
		switch k {
		case "X-Amz-Date":
			field = &date
		case "X-Amz-Credential":
			field = &credential
		default:
			continue
		}
		if *field != "" {
			// EKS rejects repeated parameters (token-spec.md §2.3, check 7).
			return Claims{}, fmt.Errorf("token repeats %s", k)
		}
		*field = v
	}
	signedAt, err := time.Parse(dateFormat, date)
	if err != nil {
		return Claims{}, fmt.Errorf("token X-Amz-Date: %w", err)
	}
	// The credential is "<key ID>/<date>/<region>/sts/aws4_request" with
	// its slashes percent-encoded; key IDs, dates and regions are letters,
	// digits and dashes, so any other escape is not a presigner's.
	scope := strings.ReplaceAll(strings.ReplaceAll(credential, "%2F", "/"), "%2f", "/")
	if strings.ContainsAny(scope, "%+") {
		return Claims{}, errors.New("token X-Amz-Credential is not a credential scope")
	}
	parts := strings.Split(scope, "/")
	akid := parts[0]
	if !isKeyID(akid) {
		return Claims{}, errors.New("token has no X-Amz-Credential")
	}
	var region string
	if len(parts) > 2 {
		region = parts[2]
	}
	return Claims{SignedAt: signedAt, AccessKeyID: akid, Host: host, Region: region}, nil
}

// isHostName accepts what an STS host name can be: letters, digits, dots
// and dashes.
func isHostName(h string) bool {
	if h == "" {
		return false
	}
	for _, r := range h {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// isQuery accepts printable ASCII without '#' or ';' (net/url drops pairs
// holding one), with well-formed percent
// escapes, as a presigner writes it.
func isQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c <= ' ' || c >= 0x7f || c == '#' || c == ';':
			return false
		case c == '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// isKeyID accepts access key IDs: letters and digits.
func isKeyID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}
