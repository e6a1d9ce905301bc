// Package token makes and reads EKS bearer tokens: "k8s-aws-v1." followed by
// the unpadded base64url of an STS GetCallerIdentity URL presigned with the
// header x-k8s-aws-id. See ../shared/reference/token-spec.md; the golden
// vectors of its section 5 are in token_test.go.
package token

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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

	clusterIDHeader = "x-k8s-aws-id"
	// expiresParam must be present for the server to accept the token, and
	// the SDK never adds it on its own (token-spec.md §7.1). Its value is
	// ignored by STS; 60 is what every other client sends.
	expiresParam = "60"
	dateFormat   = "20060102T150405Z"
)

// Sign presigns GetCallerIdentity for clusterID with creds at the given
// signing time. cfg supplies the region and the FIPS and dual-stack settings.
// An STS endpoint override (AWS_ENDPOINT_URL_STS, endpoint_url) is ignored on
// purpose: EKS only accepts tokens that name a real STS host
// (token-spec.md §7.11), so overrides apply to credential calls only.
func Sign(ctx context.Context, cfg aws.Config, creds aws.Credentials, clusterID string, at time.Time) (string, error) {
	if cfg.Region == "" {
		return "", errors.New("no AWS region")
	}
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.BaseEndpoint = nil
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	})
	presigned, err := sts.NewPresignClient(client).PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{},
		func(po *sts.PresignOptions) {
			po.Presigner = fixedTime{inner: po.Presigner, at: at}
			po.ClientOptions = append(po.ClientOptions, func(o *sts.Options) {
				// Set, not Add: a header added twice would sign "a,b" and no
				// server would match it (token-spec.md §3.2).
				o.APIOptions = append(o.APIOptions,
					smithyhttp.SetHeaderValue(clusterIDHeader, clusterID),
					smithyhttp.SetHeaderValue("X-Amz-Expires", expiresParam))
			})
		})
	if err != nil {
		return "", fmt.Errorf("presign sts:GetCallerIdentity: %w", err)
	}
	tok := Prefix + base64.RawURLEncoding.EncodeToString([]byte(presigned.URL))
	if len(tok) > MaxLen {
		return tok, fmt.Errorf("token is %d bytes, over the %d that EKS accepts: the session token is too large", len(tok), MaxLen)
	}
	return tok, nil
}

// fixedTime pins the signing time, so the caller's clock is the only clock.
type fixedTime struct {
	inner sts.HTTPPresignerV4
	at    time.Time
}

func (f fixedTime) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	_ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return f.inner.PresignHTTP(ctx, creds, r, payloadHash, service, region, f.at, optFns...)
}

// Claims is what a token says about itself, read without any secret.
type Claims struct {
	SignedAt    time.Time
	AccessKeyID string
	Host        string
}

// Expires is when STS stops accepting the token.
func (c Claims) Expires() time.Time { return c.SignedAt.Add(Lifetime) }

// Parse reads the signing time, key ID and STS host out of a token. It uses
// the standard library only: it runs on every cache hit.
func Parse(tok string) (Claims, error) {
	rest, ok := strings.CutPrefix(tok, Prefix)
	if !ok {
		return Claims{}, errors.New("not an EKS token: missing prefix " + Prefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return Claims{}, fmt.Errorf("decode token: %w", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return Claims{}, fmt.Errorf("parse token URL: %w", err)
	}
	q := u.Query()
	signedAt, err := time.Parse(dateFormat, q.Get("X-Amz-Date"))
	if err != nil {
		return Claims{}, fmt.Errorf("token X-Amz-Date: %w", err)
	}
	akid, _, _ := strings.Cut(q.Get("X-Amz-Credential"), "/")
	if akid == "" {
		return Claims{}, errors.New("token has no X-Amz-Credential")
	}
	return Claims{SignedAt: signedAt, AccessKeyID: akid, Host: u.Host}, nil
}
