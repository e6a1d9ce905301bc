package doctor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/ekstoken/ekstoken/internal/eksapi"
	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/signer"
	"github.com/ekstoken/ekstoken/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// awsConfig is what awsauth.Resolve would give for static keys against
// endpoint.
func awsConfig(endpoint, region, akid, secret, session string) aws.Config {
	return aws.Config{Region: region, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, session)}
}

// closedURL is a URL of 127.0.0.1 where nothing listens.
func closedURL(t *testing.T, scheme string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return scheme + "://" + addr
}

// assumeRole asks moto's STS for a role session and returns its keys.
func assumeRole(t *testing.T, motoURL, role, session string) (akid, secret, token string) {
	t.Helper()
	out, err := sts.NewFromConfig(awsConfig(motoURL, "eu-west-1", "AKIAIOSFODNN7EXAMPLE", "secret", "")).AssumeRole(context.Background(),
		&sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(session)})
	if err != nil {
		t.Fatalf("AssumeRole on moto: %v", err)
	}
	c := out.Credentials
	return aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)
}

func TestIdentityAndClockAgainstMoto(t *testing.T) {
	motoURL := testenv.StartMoto(t)
	ctx := context.Background()
	const role = "arn:aws:iam::123456789012:role/eks/Admin"
	akid, secret, session := assumeRole(t, motoURL, role, "alice")

	for _, tc := range []struct {
		name               string
		akid, secret, sess string
		want               AWSIdentity
	}{
		{"user keys", "AKIAIOSFODNN7EXAMPLE", "secret", "",
			AWSIdentity{Account: "123456789012", ARN: "arn:aws:sts::123456789012:user/moto"}},
		{"assumed role", akid, secret, session,
			AWSIdentity{Account: "123456789012", ARN: "arn:aws:sts::123456789012:assumed-role/Admin/alice",
				Role: "arn:aws:iam::123456789012:role/Admin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, id, ans := CheckIdentity(ctx, awsConfig(motoURL, "eu-west-1", tc.akid, tc.secret, tc.sess), time.Now)
			if c.Status != OK || c.Name != "identity" {
				t.Fatalf("check = %+v", c)
			}
			if diff := cmp.Diff(tc.want, id); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			for _, s := range []string{id.Account, id.ARN, id.Role} {
				if !strings.Contains(c.Detail, s) {
					t.Errorf("detail %q lacks %q", c.Detail, s)
				}
			}
			if !strings.HasPrefix(ans.Endpoint, motoURL) || ans.ServerDate.IsZero() {
				t.Errorf("answer = %+v, want moto's endpoint and Date", ans)
			}
			if cc := CheckClock(ans); cc.Status != OK {
				t.Errorf("clock on the real clock = %+v, want ok", cc)
			}
		})
	}

	// The clock is injected: the skew is whatever the test says, no sleep.
	for _, tc := range []struct {
		offset time.Duration
		want   Status
	}{
		{0, OK}, {30 * time.Second, OK}, {-30 * time.Second, OK},
		{90 * time.Second, Warn}, {-3 * time.Minute, Warn},
		{6 * time.Minute, Fail}, {-2 * time.Hour, Fail},
	} {
		t.Run(fmt.Sprintf("clock %v", tc.offset), func(t *testing.T) {
			now := func() time.Time { return time.Now().Add(tc.offset) }
			_, _, ans := CheckIdentity(ctx, awsConfig(motoURL, "eu-west-1", "AKIAIOSFODNN7EXAMPLE", "secret", ""), now)
			c := CheckClock(ans)
			if c.Status != tc.want {
				t.Fatalf("offset %v: %+v, want %s", tc.offset, c, tc.want)
			}
			if c.Status != OK && (!strings.Contains(c.Fix, "timedatectl set-ntp true") || !strings.Contains(c.Fix, "sntp -sS time.apple.com")) {
				t.Errorf("fix %q does not say how to sync the clock", c.Fix)
			}
			if tc.offset.Abs() > time.Minute {
				dir := "ahead of"
				if tc.offset < 0 {
					dir = "behind"
				}
				if !strings.Contains(c.Detail, dir) || !strings.Contains(c.Detail, motoURL) {
					t.Errorf("detail %q does not say %q and name %s", c.Detail, dir, motoURL)
				}
			}
		})
	}

	t.Run("STS unreachable", func(t *testing.T) {
		dead := closedURL(t, "http")
		start := time.Now()
		c, _, ans := CheckIdentity(ctx, awsConfig(dead, "eu-west-1", "AKIAIOSFODNN7EXAMPLE", "secret", ""), time.Now)
		if c.Status != Fail || !strings.Contains(c.Detail, dead) || c.Fix == "" {
			t.Errorf("check = %+v, want a fail naming %s with a fix", c, dead)
		}
		if d := time.Since(start); d > Timeout {
			t.Errorf("took %v, more than the %v timeout", d, Timeout)
		}
		if cc := CheckClock(ans); cc.Status != Skip {
			t.Errorf("clock with no answer = %+v, want skip", cc)
		}
	})

	t.Run("eks describe", func(t *testing.T) {
		cfg := awsConfig(motoURL, "eu-west-1", "AKIAIOSFODNN7EXAMPLE", "secret", "")
		createCluster(t, motoURL, cfg, "doctor-prod")
		api := eksapi.Client{Config: cfg, Endpoint: motoURL, Now: time.Now}
		c, info := CheckEKS(ctx, api, "doctor-prod")
		if c.Status != OK || info.Status != "ACTIVE" || !strings.Contains(c.Detail, "ACTIVE") {
			t.Errorf("describe = %+v %+v, want ok ACTIVE", c, info)
		}
		c, _ = CheckEKS(ctx, api, "doctor-missing")
		if c.Status != Fail || !strings.Contains(c.Detail, "doctor-missing") || !strings.Contains(c.Fix, "list-clusters") {
			t.Errorf("missing cluster = %+v", c)
		}
	})
}

// createCluster makes an EKS cluster in moto with a signed CreateCluster,
// as the aws CLI would.
func createCluster(t *testing.T, motoURL string, cfg aws.Config, name string) {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"name":%q,"roleArn":"arn:aws:iam::123456789012:role/eks","resourcesVpcConfig":{}}`, name))
	req, _ := http.NewRequest(http.MethodPost, motoURL+"/clusters", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	creds, _ := cfg.Credentials.Retrieve(context.Background())
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "eks", cfg.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CreateCluster on moto: %s", resp.Status)
	}
}

// eksStub answers DescribeCluster as EKS does, with the status code,
// error type and body given.
func eksStub(t *testing.T, code int, errType, body string) eksapi.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if errType != "" {
			w.Header().Set("X-Amzn-Errortype", errType)
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return eksapi.Client{Config: awsConfig(srv.URL, "eu-west-1", "AKID", "secret", ""), Endpoint: srv.URL, Now: time.Now}
}

func TestCheckEKS(t *testing.T) {
	ctx := context.Background()
	deadEKS := closedURL(t, "http")
	for _, tc := range []struct {
		name          string
		api           eksapi.Client
		want          Status
		detail, fix   string
		wantMode      string
		wantNoFixText bool
	}{
		{name: "api mode", api: eksStub(t, 200, "", `{"cluster":{"name":"c","status":"ACTIVE","accessConfig":{"authenticationMode":"API_AND_CONFIG_MAP"}}}`),
			want: OK, detail: "authentication mode API_AND_CONFIG_MAP", wantMode: "API_AND_CONFIG_MAP"},
		{name: "creating", api: eksStub(t, 200, "", `{"cluster":{"name":"c","status":"CREATING"}}`),
			want: Warn, detail: "CREATING", fix: "aws eks wait cluster-active --name c"},
		{name: "access denied", api: eksStub(t, 403, "AccessDeniedException:http://internal.amazon.com/", `{"message":"User is not authorized to perform: eks:DescribeCluster"}`),
			want: Warn, detail: "not allowed to describe the cluster c", fix: "eks:DescribeCluster"},
		{name: "not found", api: eksStub(t, 404, "ResourceNotFoundException", `{"message":"No cluster found for name: c."}`),
			want: Fail, detail: "no cluster c", fix: "list-clusters"},
		{name: "unreachable", api: eksapi.Client{Config: awsConfig("", "eu-west-1", "AKID", "secret", ""), Endpoint: deadEKS, Now: time.Now},
			want: Warn, detail: "cannot reach the EKS API: describe EKS cluster \"c\" in eu-west-1: Get \"" + deadEKS + "/clusters/c\"", fix: "AWS_ENDPOINT_URL_EKS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, info := CheckEKS(ctx, tc.api, "c")
			if c.Name != "eks" || c.Status != tc.want || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fix) {
				t.Errorf("check = %+v, want %s with %q and fix %q", c, tc.want, tc.detail, tc.fix)
			}
			if info.AuthenticationMode != tc.wantMode {
				t.Errorf("mode = %q, want %q", info.AuthenticationMode, tc.wantMode)
			}
		})
	}
}

func TestCheckClock(t *testing.T) {
	server := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		offset time.Duration
		want   Status
	}{
		{0, OK}, {999 * time.Millisecond, OK}, {ClockWarn, OK}, {ClockWarn + time.Second, Warn},
		{-ClockWarn - time.Second, Warn}, {ClockFail, Warn}, {ClockFail + time.Second, Fail}, {-24 * time.Hour, Fail},
	} {
		c := CheckClock(STSAnswer{Endpoint: "https://sts.example", ServerDate: server, LocalDate: server.Add(tc.offset)})
		if c.Status != tc.want || c.Name != "clock" || (c.Status != OK) != (c.Fix != "") {
			t.Errorf("offset %v: %+v, want %s", tc.offset, c, tc.want)
		}
	}
}

func TestRoleOf(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sts::111122223333:assumed-role/Admin/alice":          "arn:aws:iam::111122223333:role/Admin",
		"arn:aws-cn:sts::111122223333:assumed-role/x.y@z/s":           "arn:aws-cn:iam::111122223333:role/x.y@z",
		"arn:aws-us-gov:sts::111122223333:assumed-role/R/i-0abc/more": "",
		"arn:aws:iam::111122223333:user/bob":                          "",
		"arn:aws:sts::111122223333:federated-user/bob":                "",
		"arn:aws:iam::111122223333:root":                              "",
		"not an arn":                                                  "",
	} {
		if got := RoleOf(arn); got != want {
			t.Errorf("RoleOf(%q) = %q, want %q", arn, got, want)
		}
	}
}

// fakeCluster starts a fake EKS API server for cluster name that knows
// the given key; mapping as fakeeks.Options.Mapping.
func fakeCluster(t *testing.T, name string, mapping map[string]fakeeks.KubeUser) *fakeeks.Server {
	t.Helper()
	s, err := fakeeks.Start(fakeeks.Options{ClusterID: name, Mapping: mapping, Identities: []fakeeks.Identity{
		{AccessKeyID: "AKIDDOCTOR", SecretAccessKey: "secret", SessionToken: "session", ARN: "arn:aws:sts::111122223333:assumed-role/Admin/alice"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// tokenFor signs a token for cluster with the fake's key.
func tokenFor(t *testing.T, cluster string) string {
	t.Helper()
	tok, err := signer.Sign(context.Background(), aws.Config{Region: "eu-west-1"},
		aws.Credentials{AccessKeyID: "AKIDDOCTOR", SecretAccessKey: "secret", SessionToken: "session"}, cluster, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestCheckCluster(t *testing.T) {
	ctx := context.Background()
	const principal = "arn:aws:iam::111122223333:role/Admin"
	otherCA, _ := testenv.CACert(t)
	for _, tc := range []struct {
		name     string
		mapping  map[string]fakeeks.KubeUser
		tokenFor string
		target   func(s *fakeeks.Server) Target
		want     Status
		user     KubeUser
		detail   []string
		fix      []string
	}{
		{name: "healthy, default mapping", tokenFor: "prod", want: OK,
			user:   KubeUser{Username: principal, Groups: []string{"system:authenticated"}},
			detail: []string{principal, "system:authenticated"}},
		{name: "healthy, access entry", tokenFor: "prod", want: OK,
			mapping: map[string]fakeeks.KubeUser{principal: {Username: "admin", Groups: []string{"ops"}}},
			user:    KubeUser{Username: "admin", Groups: []string{"ops", "system:authenticated"}},
			detail:  []string{"admin", "ops"}},
		{name: "unmapped ARN", tokenFor: "prod", want: Fail,
			mapping: map[string]fakeeks.KubeUser{"arn:aws:iam::111122223333:role/Other": {Username: "other"}},
			detail:  []string{"401", principal, "not mapped"},
			fix:     []string{"aws eks create-access-entry --cluster-name prod --region eu-west-1 --principal-arn " + principal, "associate-access-policy", "aws-auth"}},
		{name: "token for another cluster", tokenFor: "staging", want: Fail,
			detail: []string{"401", "another cluster"}, fix: []string{"--cluster-name", "ekstoken update-kubeconfig"}},
		{name: "unreachable server", tokenFor: "prod", want: Fail,
			target: func(s *fakeeks.Server) Target {
				dead := closedURL(t, "https")
				return Target{Server: dead, CAData: s.CAData}
			},
			detail: []string{"cannot reach the API server at https://127.0.0.1:"}, fix: []string{"VPN"}},
		{name: "another CA", tokenFor: "prod", want: Fail,
			target: func(s *fakeeks.Server) Target { return Target{Server: s.URL, CAData: otherCA} },
			detail: []string{"certificate authority"}, fix: []string{"ekstoken update-kubeconfig --name prod --region eu-west-1"}},
		{name: "not a URL", tokenFor: "prod", want: Fail,
			target: func(*fakeeks.Server) Target { return Target{Server: "127.0.0.1:6443"} },
			detail: []string{"not an https URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeCluster(t, "prod", tc.mapping)
			target := Target{Server: s.URL, CAData: s.CAData}
			if tc.target != nil {
				target = tc.target(s)
			}
			target.ClusterName, target.Region, target.Principal = "prod", "eu-west-1", principal
			c, user := CheckCluster(ctx, target, tokenFor(t, tc.tokenFor))
			if c.Name != "cluster" || c.Status != tc.want {
				t.Fatalf("check = %+v, want %s", c, tc.want)
			}
			if diff := cmp.Diff(tc.user, user, cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
			for _, s := range tc.detail {
				if !strings.Contains(c.Detail, s) {
					t.Errorf("detail %q lacks %q", c.Detail, s)
				}
			}
			for _, s := range tc.fix {
				if !strings.Contains(c.Fix, s) {
					t.Errorf("fix %q lacks %q", c.Fix, s)
				}
			}
		})
	}
}

// A server that accepts the token but will not answer SelfSubjectReview
// (403: RBAC; 404: before Kubernetes 1.28) is a warning, not a failure.
func TestCheckClusterCannotReview(t *testing.T) {
	for code, want := range map[int]string{403: "403", 404: "before 1.28"} {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/selfsubjectreviews" ||
				r.Header.Get("Authorization") != "Bearer k8s-aws-v1.x" {
				w.WriteHeader(http.StatusTeapot)
				return
			}
			w.WriteHeader(code)
		}))
		c, _ := CheckCluster(context.Background(), Target{Server: srv.URL, Insecure: true}, "k8s-aws-v1.x")
		if c.Status != Warn || !strings.Contains(c.Detail, want) || !strings.Contains(c.Detail, srv.URL) {
			t.Errorf("%d: %+v, want a warning saying %q", code, c, want)
		}
		srv.Close()
	}
}

// stsStub answers GetCallerIdentity with the Date given, and records the
// credential scope each request was signed for.
func stsStub(t *testing.T, date time.Time, scopes *[]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if _, after, ok := strings.Cut(auth, "Credential="); ok {
			scope, _, _ := strings.Cut(after, ",")
			*scopes = append(*scopes, scope)
		}
		w.Header().Set("Date", date.UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>arn:aws:sts::111122223333:assumed-role/Dev/bob</Arn><UserId>AROA:bob</UserId><Account>111122223333</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The pseudo-regions sign for their real region, as the token command
// does; the clock is compared with the Date STS sent, whatever it is.
func TestCheckIdentityStub(t *testing.T) {
	stsDate := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for region, scope := range map[string]string{"fips-us-east-2": "/us-east-2/sts/", "us-west-2-fips": "/us-west-2/sts/", "eu-west-1": "/eu-west-1/sts/"} {
		var scopes []string
		url := stsStub(t, stsDate, &scopes)
		c, id, ans := CheckIdentity(context.Background(), awsConfig(url, region, "AKID", "secret", ""),
			func() time.Time { return stsDate.Add(-4 * time.Minute) })
		if c.Status != OK || id.Role != "arn:aws:iam::111122223333:role/Dev" {
			t.Errorf("%s: %+v %+v", region, c, id)
		}
		if len(scopes) != 1 || !strings.Contains(scopes[0], scope) {
			t.Errorf("%s: signed for %v, want %s", region, scopes, scope)
		}
		if cc := CheckClock(ans); cc.Status != Warn || !strings.Contains(cc.Detail, "4m0s behind") {
			t.Errorf("%s: clock %+v, want 4m0s behind", region, cc)
		}
	}
}

// A server that takes the connection and never answers costs a check its
// timeout, not a hang, and the check names the server. The parent context
// stands in for Timeout here, which the checks never extend.
func TestChecksDoNotHang(t *testing.T) {
	hung := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hung }))
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hung }))
	t.Cleanup(func() { close(hung); srv.Close(); plain.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, _ := CheckCluster(ctx, Target{Server: srv.URL, Insecure: true}, "k8s-aws-v1.x")
	if c.Status != Fail || !strings.Contains(c.Detail, "no answer from the API server at "+srv.URL) {
		t.Errorf("cluster: %+v", c)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	c, _, _ = CheckIdentity(ctx2, awsConfig(plain.URL, "eu-west-1", "AKID", "secret", ""), time.Now)
	if c.Status != Fail || !strings.Contains(c.Detail, "no answer from "+plain.URL) {
		t.Errorf("identity: %+v", c)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}
