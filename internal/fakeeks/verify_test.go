package fakeeks

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// Test vectors of docs/token.md#vectors (produced by botocore, aws-sdk-go-v2 and aws-iam-authenticator).
const (
	v1URL   = "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAR2TG44V6AS3ZZE7C%2F20230428%2Fus-west-2%2Fsts%2Faws4_request&X-Amz-Date=20230428T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=e211dba77aba9dc44b0b6be38b8eaad092599c5157f6314444c5b9d85747f5ce"
	v1Token = "k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtd2VzdC0yLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BU0lBUjJURzQ0VjZBUzNaWkU3QyUyRjIwMjMwNDI4JTJGdXMtd2VzdC0yJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyMzA0MjhUMDAwMDAwWiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFtei1TaWduYXR1cmU9ZTIxMWRiYTc3YWJhOWRjNDRiMGI2YmUzOGI4ZWFhZDA5MjU5OWM1MTU3ZjYzMTQ0NDRjNWI5ZDg1NzQ3ZjVjZQ"

	v2Session  = "FQoGZXIvYXdzEXAMPLE+/=token"
	v2Prefix   = "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAR2TG44V6AS3ZZE7C%2F20230428%2Fus-west-2%2Fsts%2Faws4_request&X-Amz-Date=20230428T000000Z&X-Amz-Expires=60"
	v2Sig      = "&X-Amz-Signature=20931caf9220a27b7032d55929dcbe7f28ddd8603f04bc475710cca9ba463ac9"
	v2BotoURL  = v2Prefix + "&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2B%2F%3Dtoken" + v2Sig
	v2GoURL    = v2Prefix + "&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2B%2F%3Dtoken&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id" + v2Sig
	signedAt   = "2023-04-28T00:00:00Z"
	v1Username = "arn:aws:iam::111122223333:role/Admin"
)

// fixedClock returns a clock standing d after the golden vectors' signing time.
func fixedClock(d time.Duration) func() time.Time {
	t0, _ := time.Parse(time.RFC3339, signedAt)
	return func() time.Time { return t0.Add(d) }
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.ClusterID == "" {
		opts.ClusterID = "test-cluster"
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestVerifyGoldenVectors(t *testing.T) {
	if tokenOf(v1URL) != v1Token {
		t.Fatal("v1Token is not the encoding of v1URL")
	}
	withSession := v1()
	withSession.session = v2Session
	for _, tc := range []struct {
		name  string
		id    Identity
		token string
	}{
		{"V1", v1().identity(), v1Token},
		{"V2 botocore order", withSession.identity(), tokenOf(v2BotoURL)},
		{"V2 Go order", withSession.identity(), tokenOf(v2GoURL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Options{Identities: []Identity{tc.id}, Now: fixedClock(3 * time.Minute)})
			c, err := s.Verify(tc.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Caller{ARN: tc.id.ARN, Username: v1Username, AccountID: "111122223333", SessionName: "alice",
				AccessKeyID: "ASIAR2TG44V6AS3ZZE7C", STSHost: "sts.us-west-2.amazonaws.com", Region: "us-west-2"}
			if *c != want {
				t.Errorf("caller = %+v, want %+v", *c, want)
			}
			if st := s.Stats(); st.Authenticated != 1 || st.Rejected != 0 || st.ByAccessKeyID["ASIAR2TG44V6AS3ZZE7C"] != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestVerifyAcceptsOtherSTSHosts(t *testing.T) {
	for _, tc := range []struct{ partition, host, region string }{
		{"aws", "sts.amazonaws.com", "us-east-1"},
		{"aws", "sts-fips.us-east-1.amazonaws.com", "us-east-1"},
		{"aws", "sts.us-east-1.api.aws", "us-east-1"},
		{"aws", "sts.ap-east-1.amazonaws.com", "ap-east-1"}, // any region of the partition (docs/token.md#check-5-host)
		{"aws-cn", "sts.cn-north-1.amazonaws.com.cn", "cn-north-1"},
		{"aws-us-gov", "sts.us-gov-west-1.amazonaws.com", "us-gov-west-1"},
	} {
		p := v1()
		p.host, p.region = tc.host, tc.region
		s := startServer(t, Options{Partition: tc.partition, Identities: []Identity{p.identity()}, Now: fixedClock(0)})
		if _, err := s.Verify(p.token()); err != nil {
			t.Errorf("%s in %s: %v", tc.host, tc.partition, err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	valid := v1().url()
	padded := "k8s-aws-v1." + base64.URLEncoding.EncodeToString([]byte(valid))
	if !strings.HasSuffix(padded, "=") {
		t.Fatal("test setup: V1 url encodes without padding; pick another")
	}
	// URLs are ASCII, so base64 yields "-" or "_" only for "?", ">" or "~" at
	// an offset = 2 mod 3. The V1 url has none; the global host moves its "?".
	g := v1()
	g.host, g.region = "sts.amazonaws.com", "us-east-1"
	stdAlpha := "k8s-aws-v1." + base64.RawStdEncoding.EncodeToString([]byte(g.url()))
	if !strings.ContainsAny(stdAlpha, "+/") {
		t.Fatal("test setup: std and url alphabets give the same token")
	}
	gs := startServer(t, Options{Identities: []Identity{g.identity()}, Now: fixedClock(0)})
	if _, err := gs.Verify(g.token()); err != nil {
		t.Fatalf("test setup: the base64url form must verify: %v", err)
	}
	with := func(f func(*presign)) string { p := v1(); f(&p); return p.token() }

	for _, tc := range []struct {
		name      string
		token     string
		now       time.Duration // offset from the signing time
		partition string
		want      string // substring of the error, unique to the reason
	}{
		{"wrong cluster", with(func(p *presign) { p.cluster = "other-cluster" }), 0, "", "signature mismatch"},
		{"tampered signature", tokenOf(valid[:len(valid)-1] + "0"), 0, "", "signature mismatch"},
		{"expired", v1Token, 16 * time.Minute, "", "expired"},
		{"future", v1Token, -16 * time.Minute, "", "not yet current"},
		{"missing X-Amz-Expires (V4)", with(func(p *presign) { p.expires = "" }), 0, "", "invalid x-amz-expires"},
		{"X-Amz-Expires too large", with(func(p *presign) { p.expires = "901" }), 0, "", "invalid x-amz-expires"},
		{"padded base64", padded, 0, "", "not unpadded base64url"},
		{"std alphabet", stdAlpha, 0, "", "not unpadded base64url"},
		{"no prefix", strings.TrimPrefix(v1Token, "k8s-aws-v1."), 0, "", "missing the k8s-aws-v1. prefix"},
		{"http scheme", tokenOf("http" + strings.TrimPrefix(valid, "https")), 0, "", "unexpected scheme"},
		{"empty path", tokenOf(strings.Replace(valid, ".com/?", ".com?", 1)), 0, "", "unexpected path"},
		{"non-allowlisted param", with(func(p *presign) { p.extraParams = [][2]string{{"Foo", "bar"}} }), 0, "", "non-allowlisted query parameter"},
		{"duplicate param, other case", with(func(p *presign) { p.extraParams = [][2]string{{"action", "GetCallerIdentity"}} }), 0, "", "duplicate query parameter"},
		{"duplicate param, same key", tokenOf(valid + "&Action=GetCallerIdentity"), 0, "", "duplicate query parameter"},
		{"other action", tokenOf(strings.Replace(valid, "GetCallerIdentity", "GetSessionToken", 1)), 0, "", "unexpected action"},
		{"unknown AKID", with(func(p *presign) { p.akid = "AKIAUNKNOWN000000000" }), 0, "", "InvalidClientTokenId: unknown access key id"},
		{"unexpected session token", with(func(p *presign) { p.session = "tok" }), 0, "", "security token missing or invalid"},
		{"china host in aws", with(func(p *presign) { p.host, p.region = "sts.cn-north-1.amazonaws.com.cn", "cn-north-1" }), 0, "", "unexpected hostname"},
		{"global host in aws-cn", with(func(p *presign) { p.host, p.region = "sts.amazonaws.com", "us-east-1" }), 0, "aws-cn", "global endpoint unsupported"},
		{"non-STS host", with(func(p *presign) { p.host = "evil.us-west-2.amazonaws.com" }), 0, "", "unexpected hostname"},
		{"bad region label", with(func(p *presign) { p.host, p.region = "sts.-x.amazonaws.com", "-x" }), 0, "", "unexpected hostname"},
		{"scope region differs from host", with(func(p *presign) { p.region = "us-east-1" }), 0, "", "credential scope"},
		{"cluster header not signed", tokenOf(strings.Replace(valid, "host%3Bx-k8s-aws-id", "host", 1)), 0, "", "does not include x-k8s-aws-id"},
		{"extra signed header", with(func(p *presign) { p.extraHeaders = [][2]string{{"x-amz-foo", "1"}} }), 0, "", "cannot be replayed"},
		{"too long", with(func(p *presign) { p.session = strings.Repeat("x", 3000) }), 0, "", "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Options{Partition: tc.partition, Identities: []Identity{v1().identity()}, Now: fixedClock(tc.now)})
			c, err := s.Verify(tc.token)
			if err == nil {
				t.Fatalf("Verify accepted the token as %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify error = %q, want it to contain %q", err, tc.want)
			}
			if st := s.Stats(); st.Rejected != 1 || st.LastRejectReason != err.Error() {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestVerifySessionTokenRequired(t *testing.T) {
	p := v1()
	id := p.identity()
	id.SessionToken = v2Session // the server knows these as temporary credentials
	s := startServer(t, Options{Identities: []Identity{id}, Now: fixedClock(0)})
	if _, err := s.Verify(p.token()); err == nil || !strings.Contains(err.Error(), "security token missing") {
		t.Fatalf("Verify without session token: err = %v", err)
	}
	p.session = "FQoGZXIvYXdzOTHER"
	if _, err := s.Verify(p.token()); err == nil || !strings.Contains(err.Error(), "security token missing or invalid") {
		t.Fatalf("Verify with wrong session token: err = %v", err)
	}
}

func TestAddIdentityAndDistinctTokens(t *testing.T) {
	s := startServer(t, Options{Now: fixedClock(0)})
	if _, err := s.Verify(v1Token); err == nil {
		t.Fatal("Verify accepted a token of an unknown identity")
	}
	s.AddIdentity(v1().identity())
	for range 3 {
		if _, err := s.Verify(v1Token); err != nil {
			t.Fatalf("Verify after AddIdentity: %v", err)
		}
	}
	if st := s.Stats(); st.Authenticated != 3 || st.DistinctTokens != 1 || st.Rejected != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCanonicalARN(t *testing.T) {
	for _, tc := range []struct{ arn, user, session string }{
		{"arn:aws:sts::111122223333:assumed-role/Admin/alice", "arn:aws:iam::111122223333:role/Admin", "alice"},
		{"arn:aws-cn:sts::111122223333:assumed-role/R/EKSGetTokenAuth", "arn:aws-cn:iam::111122223333:role/R", "EKSGetTokenAuth"},
		{"arn:aws:iam::111122223333:user/dev/bob", "arn:aws:iam::111122223333:user/dev/bob", ""},
		{"arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root", ""},
	} {
		if user, _, session := canonicalARN(tc.arn); user != tc.user || session != tc.session {
			t.Errorf("canonicalARN(%q) = %q, %q; want %q, %q", tc.arn, user, session, tc.user, tc.session)
		}
	}
}
