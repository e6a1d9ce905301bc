// Package token reads EKS bearer tokens: "k8s-aws-v1." followed by the
// unpadded base64url of an STS GetCallerIdentity URL presigned with the
// header x-k8s-aws-id (docs/token.md#format). It imports only
// the standard library, because it runs on every cache hit; making tokens is
// package signer's job.
package token

import (
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/ekstoken/ekstoken/internal/strlite"
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
	rest, ok := strlite.CutPrefix(tok, Prefix)
	if !ok {
		return Claims{}, errors.New("not an EKS token: it does not start with " + strconv.Quote(Prefix))
	}
	// Only the base64url alphabet: Go's decoder would skip \r and \n,
	// and such a token is not one a signer wrote (nor one EKS takes).
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return Claims{}, errors.New("decode token: a byte outside base64url at offset " + strconv.Itoa(len(Prefix)+i))
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil {
		return Claims{}, errors.New("decode token: " + err.Error())
	}
	hostAndQuery, ok := strlite.CutPrefix(string(raw), "https://")
	if !ok {
		return Claims{}, errors.New("token URL is not https")
	}
	// EKS wants the path to be exactly "/" (docs/token.md).
	host, query, ok := strlite.Cut(hostAndQuery, "/?")
	if !ok || !isHostName(host) || !isQuery(query) {
		return Claims{}, errors.New("token URL is not https://<sts host>/?<query>")
	}
	var date, credential string
	for more := true; more; {
		var kv string
		kv, query, more = strlite.Cut(query, "&")
		k, v, _ := strlite.Cut(kv, "=")
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
			// EKS rejects repeated parameters (docs/token.md).
			return Claims{}, errors.New("token repeats " + k)
		}
		*field = v
	}
	signedAt, err := time.Parse(dateFormat, date)
	if err != nil {
		return Claims{}, errors.New("token X-Amz-Date: " + err.Error())
	}
	// The credential is "<key ID>/<date>/<region>/sts/aws4_request" with
	// its slashes percent-encoded; key IDs, dates and regions are letters,
	// digits and dashes, so any other escape, or a '+', is not a
	// presigner's.
	var parts []string
	start := 0
	for i := 0; i < len(credential); i++ {
		switch c := credential[i]; {
		case c == '%' && i+2 < len(credential) && credential[i+1] == '2' && (credential[i+2] == 'F' || credential[i+2] == 'f'):
			parts = append(parts, credential[start:i])
			i += 2
			start = i + 1
		case c == '%' || c == '+' || c == '/':
			return Claims{}, errors.New("token X-Amz-Credential is not a credential scope")
		}
	}
	parts = append(parts, credential[start:])
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

// SigningRegion is the region a token for region is signed for, and
// whether region asks for the FIPS endpoint. The aws CLI and the SDK accept
// pseudo-regions: FIPS ones ("fips-us-east-1", "us-east-1-fips",
// "us-gov-west-1-fips") name the FIPS host of the real region, and the
// global ones ("aws-global" and its partition variants) the global STS
// host, which signs for the partition's first region. STS refuses a
// credential scope that names a pseudo-region.
func SigningRegion(region string) (signing string, fips bool) {
	switch region {
	case "aws-global":
		return "us-east-1", false
	case "aws-cn-global":
		return "cn-north-1", false
	case "aws-us-gov-global":
		return "us-gov-west-1", false
	}
	if before, after, ok := strlite.Cut(region, "-fips-"); ok {
		return before + "-" + after, true
	}
	if rest, ok := strlite.CutPrefix(region, "fips-"); ok {
		return rest, true
	}
	if strlite.HasSuffix(region, "-fips") {
		return region[:len(region)-len("-fips")], true
	}
	return region, false
}
