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
	"net/url"
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
