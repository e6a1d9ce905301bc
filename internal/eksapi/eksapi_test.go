package eksapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
)

func client(url string) Client {
	return Client{
		Config: aws.Config{Region: "eu-west-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
		})},
		Endpoint: url,
		Now:      func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) },
	}
}

func TestDescribeAndList(t *testing.T) {
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths = append(auths, r.Header.Get("Authorization"))
		switch {
		case r.URL.Path == "/clusters/prod":
			w.Write([]byte(`{"cluster":{"name":"prod","arn":"arn:aws:eks:eu-west-1:1:cluster/prod","endpoint":"https://x","certificateAuthority":{"data":"Q0E="},"status":"ACTIVE"}}`))
		case r.URL.Path == "/clusters/edge":
			w.Write([]byte(`{"cluster":{"name":"edge","id":"0123","outpostConfig":{"controlPlaneInstanceType":"m5.large"}}}`))
		case r.URL.Path == "/clusters" && r.URL.Query().Get("nextToken") == "":
			w.Write([]byte(`{"clusters":["a","b"],"nextToken":"p2"}`))
		case r.URL.Path == "/clusters" && r.URL.Query().Get("nextToken") == "p2":
			w.Write([]byte(`{"clusters":["c"]}`))
		default:
			w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException:http://internal.amazon.com/coral/")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"No cluster found for name: nope."}`))
		}
	}))
	defer srv.Close()
	c := client(srv.URL)

	prod, err := c.Describe(context.Background(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	if prod.Endpoint != "https://x" || prod.CertificateAuthority.Data != "Q0E=" || prod.IsLocalOutposts() {
		t.Errorf("prod = %+v", prod)
	}
	if edge, err := c.Describe(context.Background(), "edge"); err != nil || !edge.IsLocalOutposts() || edge.ID != "0123" {
		t.Errorf("edge = %+v, %v", edge, err)
	}
	names, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, names); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	_, err = c.Describe(context.Background(), "nope")
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException: No cluster found for name: nope.") {
		t.Errorf("err = %v", err)
	}
	for _, a := range auths {
		if !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/eu-west-1/eks/aws4_request") {
			t.Errorf("request not signed for eks in eu-west-1: %q", a)
		}
	}
}

func TestDefaultEndpointByPartition(t *testing.T) {
	for region, want := range map[string]string{
		"eu-west-1": "amazonaws.com", "cn-north-1": "amazonaws.com.cn", "us-gov-west-1": "amazonaws.com",
		"us-iso-east-1": "c2s.ic.gov", "us-isob-east-1": "sc2s.sgov.gov", "eu-isoe-west-1": "cloud.adc-e.uk",
	} {
		if got := domain(region); got != want {
			t.Errorf("domain(%s) = %s, want %s", region, got, want)
		}
	}
}
