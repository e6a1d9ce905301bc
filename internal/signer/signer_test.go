package signer

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/ekstoken/ekstoken/internal/token"
	"github.com/google/go-cmp/cmp"
)

// The inputs of the test vectors (docs/token.md#vectors): aws-iam-authenticator's TestGetWithSTS keys.
var (
	vectorTime  = time.Date(2023, 4, 28, 0, 0, 0, 0, time.UTC)
	vectorCreds = aws.Credentials{AccessKeyID: "ASIAR2TG44V6AS3ZZE7C", SecretAccessKey: "4KD5cntGcVmLWRdF5wvNRuzNL5Qxmp6OKVY6Fz/Q"}
)

// loadConfig builds a config the way ekstoken does, isolated from the
// machine's AWS files and environment.
func loadConfig(t *testing.T, region string, opts ...func(*config.LoadOptions) error) aws.Config {
	t.Helper()
	for _, k := range []string{"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
		"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := config.LoadDefaultConfig(context.Background(), append(opts, config.WithRegion(region))...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func decode(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, token.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSignVectorV1(t *testing.T) {
	cfg := loadConfig(t, "us-west-2")
	got, err := Sign(context.Background(), cfg, vectorCreds, "test-cluster", vectorTime)
	if err != nil {
		t.Fatal(err)
	}
	// Vector V1 (docs/token.md#v1): botocore, the SDK, a stdlib signer and
	// aws-iam-authenticator's golden test agree on these bytes.
	const want = "k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtd2VzdC0yLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BU0lBUjJURzQ0VjZBUzNaWkU3QyUyRjIwMjMwNDI4JTJGdXMtd2VzdC0yJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyMzA0MjhUMDAwMDAwWiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFtei1TaWduYXR1cmU9ZTIxMWRiYTc3YWJhOWRjNDRiMGI2YmUzOGI4ZWFhZDA5MjU5OWM1MTU3ZjYzMTQ0NDRjNWI5ZDg1NzQ3ZjVjZQ"
	if got != want {
		t.Errorf("token mismatch\n got %s\nwant %s", decode(t, got), decode(t, want))
	}
}

func TestSignVectorV2SessionToken(t *testing.T) {
	cfg := loadConfig(t, "us-west-2")
	creds := vectorCreds
	creds.SessionToken = "FQoGZXIvYXdzEXAMPLE+/=token"
	got, err := Sign(context.Background(), cfg, creds, "test-cluster", vectorTime)
	if err != nil {
		t.Fatal(err)
	}
	// botocore puts X-Amz-Security-Token after X-Amz-SignedHeaders, Go sorts
	// it before; both carry the same parameters and signature (docs/token.md#v2, docs/token.md#parameter-order).
	const cli = "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAR2TG44V6AS3ZZE7C%2F20230428%2Fus-west-2%2Fsts%2Faws4_request&X-Amz-Date=20230428T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2B%2F%3Dtoken&X-Amz-Signature=20931caf9220a27b7032d55929dcbe7f28ddd8603f04bc475710cca9ba463ac9"
	gotURL, err := url.Parse(decode(t, got))
	if err != nil {
		t.Fatal(err)
	}
	wantURL, _ := url.Parse(cli)
	if gotURL.Host != wantURL.Host || gotURL.Path != "/" {
		t.Errorf("host/path = %s%s, want %s/", gotURL.Host, gotURL.Path, wantURL.Host)
	}
	if diff := cmp.Diff(wantURL.Query(), gotURL.Query()); diff != "" {
		t.Errorf("query (-cli +ekstoken):\n%s", diff)
	}
	if !strings.Contains(gotURL.RawQuery, "X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2B%2F%3Dtoken") {
		t.Errorf("session token not RFC 3986 encoded: %s", gotURL.RawQuery)
	}
}

func TestSignEndpointsVectorV3(t *testing.T) {
	tests := []struct {
		name, region string
		opts         []func(*config.LoadOptions) error
		host, scope  string
		signature    string
	}{
		{"us-east-1", "us-east-1", nil, "sts.us-east-1.amazonaws.com", "us-east-1", "38690115d080b7b8444ef2a79889ffd08bde035bd0d912f94e8a8da54fdba141"},
		{"global", "aws-global", nil, "sts.amazonaws.com", "us-east-1", "acae34a9b4e47c6171e59f2d4e9ae8f3a0d04850b08d572bfa83fb87a7237d29"},
		{"opt-in region", "ap-east-1", nil, "sts.ap-east-1.amazonaws.com", "ap-east-1", "e97c4e8cf4ef71bc853e9bcb02a87db5058c963f855d047ff941e0cc185065bf"},
		{"china", "cn-north-1", nil, "sts.cn-north-1.amazonaws.com.cn", "cn-north-1", "352d75fc16ce5029f91e1d80900124b7b3499c1db23b0ce582ae5d0ae30e444b"},
		{"govcloud fips", "us-gov-west-1", []func(*config.LoadOptions) error{config.WithUseFIPSEndpoint(aws.FIPSEndpointStateEnabled)},
			"sts.us-gov-west-1.amazonaws.com", "us-gov-west-1", "0f7af9d8a18aa2e2162bf00e5b31c52e07c17902c968c4f5d703a98ef50eb93b"},
		{"fips", "us-east-1", []func(*config.LoadOptions) error{config.WithUseFIPSEndpoint(aws.FIPSEndpointStateEnabled)},
			"sts-fips.us-east-1.amazonaws.com", "us-east-1", "da954e583e5d1442da29c21cfa7d52267a106fce423a057a089b0c0f8d46aa76"},
		{"dual-stack", "us-east-1", []func(*config.LoadOptions) error{config.WithUseDualStackEndpoint(aws.DualStackEndpointStateEnabled)},
			"sts.us-east-1.api.aws", "us-east-1", "90de17e92888b06e5d5ec8ae338e9991a3c322b9095bde70310d448eedcd640d"},
		// FIPS pseudo-regions, as the aws CLI takes them: the FIPS host
		// of the real region, whose name the scope carries.
		{"fips pseudo-region suffix", "us-east-1-fips", nil, "sts-fips.us-east-1.amazonaws.com", "us-east-1", "da954e583e5d1442da29c21cfa7d52267a106fce423a057a089b0c0f8d46aa76"},
		{"fips pseudo-region prefix", "fips-us-east-1", nil, "sts-fips.us-east-1.amazonaws.com", "us-east-1", "da954e583e5d1442da29c21cfa7d52267a106fce423a057a089b0c0f8d46aa76"},
		{"govcloud fips pseudo-region", "us-gov-west-1-fips", nil, "sts.us-gov-west-1.amazonaws.com", "us-gov-west-1", "0f7af9d8a18aa2e2162bf00e5b31c52e07c17902c968c4f5d703a98ef50eb93b"},
		{"iso", "us-iso-east-1", nil, "sts.us-iso-east-1.c2s.ic.gov", "us-iso-east-1", "afb77a3c56e4b3bc11655b489aace2965c9f992532ff9eb1c523d123281291c4"},
		{"iso-e", "eu-isoe-west-1", nil, "sts.eu-isoe-west-1.cloud.adc-e.uk", "eu-isoe-west-1", "9409ac67b49214388ffac9e8d216fdd56b02a376f5831c00b49de73a54a40904"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, tt.region, tt.opts...)
			tok, err := Sign(context.Background(), cfg, vectorCreds, "test-cluster", vectorTime)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(decode(t, tok))
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			got := []string{u.Host, strings.Split(q.Get("X-Amz-Credential"), "/")[2], q.Get("X-Amz-Signature")}
			if diff := cmp.Diff([]string{tt.host, tt.scope, tt.signature}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// An STS endpoint override serves credential calls (moto in tests, VPC
// endpoints in real life) but must never leak into the token: EKS rejects a
// token that names any host other than a real STS one.
func TestSignIgnoresEndpointOverride(t *testing.T) {
	for _, env := range []string{"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"} {
		t.Run(env, func(t *testing.T) {
			loadConfig(t, "us-west-2") // isolates the environment
			t.Setenv(env, "https://127.0.0.1:8443")
			cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-west-2"))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.BaseEndpoint == nil && env == "AWS_ENDPOINT_URL" {
				t.Fatal("the override did not reach the config; the test proves nothing")
			}
			tok, err := Sign(context.Background(), cfg, vectorCreds, "test-cluster", vectorTime)
			if err != nil {
				t.Fatal(err)
			}
			c, err := token.Parse(tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Host != "sts.us-west-2.amazonaws.com" {
				t.Errorf("token names %s, want sts.us-west-2.amazonaws.com", c.Host)
			}
		})
	}
}

func TestSignWithoutRegion(t *testing.T) {
	cfg := loadConfig(t, "")
	if _, err := Sign(context.Background(), cfg, vectorCreds, "c", vectorTime); err == nil {
		t.Fatal("want an error without a region")
	}
}

// BenchmarkSign is the in-process part of a miss once credentials are known.
func BenchmarkSign(b *testing.B) {
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-west-2"),
		config.WithSharedConfigFiles(nil), config.WithSharedCredentialsFiles(nil))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Sign(context.Background(), cfg, vectorCreds, "test-cluster", vectorTime); err != nil {
			b.Fatal(err)
		}
	}
}
