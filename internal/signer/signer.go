// Package signer makes EKS bearer tokens with aws-sdk-go-v2: it presigns
// STS GetCallerIdentity with the header x-k8s-aws-id, exactly as
// docs/token.md#signing describes; the test vectors of
// docs/token.md#vectors are in signer_test.go.
package signer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/ekstoken/ekstoken/internal/token"
)

const (
	clusterIDHeader = "x-k8s-aws-id"
	// expiresParam must be present for the server to accept the token, and
	// the SDK never adds it on its own (docs/token.md#x-amz-expires-is-required). Its value is
	// ignored by STS; 60 is what every other client sends.
	expiresParam = "60"
)

// Sign presigns GetCallerIdentity for clusterID with creds at the given
// signing time. cfg supplies the region and the FIPS and dual-stack settings.
// An STS endpoint override (AWS_ENDPOINT_URL_STS, endpoint_url) is ignored on
// purpose: EKS only accepts tokens that name a real STS host
// (docs/token.md#endpoint-overrides), so overrides apply to credential calls only.
func Sign(ctx context.Context, cfg aws.Config, creds aws.Credentials, clusterID string, at time.Time) (string, error) {
	if cfg.Region == "" {
		return "", errors.New("no AWS region")
	}
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.BaseEndpoint = nil
		// A FIPS pseudo-region names the FIPS host of the real region,
		// which the scope must name (docs/token.md#partitions); the SDK
		// would sign for the pseudo-region itself.
		if real, fips := token.SigningRegion(cfg.Region); fips {
			o.Region = real
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	})
	presigned, err := sts.NewPresignClient(client).PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{},
		func(po *sts.PresignOptions) {
			po.Presigner = fixedTime{inner: po.Presigner, at: at}
			po.ClientOptions = append(po.ClientOptions, func(o *sts.Options) {
				// Set, not Add: a header added twice would sign "a,b" and no
				// server would match it (docs/token.md#set-the-header-never-add-it).
				o.APIOptions = append(o.APIOptions,
					smithyhttp.SetHeaderValue(clusterIDHeader, clusterID),
					smithyhttp.SetHeaderValue("X-Amz-Expires", expiresParam))
			})
		})
	if err != nil {
		return "", fmt.Errorf("presign sts:GetCallerIdentity: %w", err)
	}
	tok := token.Prefix + base64.RawURLEncoding.EncodeToString([]byte(presigned.URL))
	if len(tok) > token.MaxLen {
		return tok, fmt.Errorf("token is %d bytes, over the %d that EKS accepts: the session token is too large", len(tok), token.MaxLen)
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
