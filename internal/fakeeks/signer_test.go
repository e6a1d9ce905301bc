package fakeeks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// presign describes a presigned GetCallerIdentity URL. It is a test-only
// signer, written independently of the server code (docs/token.md#signing) and checked
// against the golden vector V1, so that malformed tokens can be built that
// fail for exactly one reason.
type presign struct {
	host, region, akid, secret, session, cluster string
	date                                         time.Time
	expires                                      string      // "" omits X-Amz-Expires (docs/token.md#v4)
	extraParams                                  [][2]string // signed extra query parameters
	extraHeaders                                 [][2]string // signed extra headers (lower-case names)
}

// v1 returns the inputs of test vector V1 (docs/token.md#v1).
func v1() presign {
	return presign{
		host: "sts.us-west-2.amazonaws.com", region: "us-west-2",
		akid: "ASIAR2TG44V6AS3ZZE7C", secret: "4KD5cntGcVmLWRdF5wvNRuzNL5Qxmp6OKVY6Fz/Q",
		cluster: "test-cluster", date: time.Date(2023, 4, 28, 0, 0, 0, 0, time.UTC), expires: "60",
	}
}

func (p presign) identity() Identity {
	return Identity{AccessKeyID: p.akid, SecretAccessKey: p.secret, SessionToken: p.session,
		ARN: "arn:aws:sts::111122223333:assumed-role/Admin/alice"}
}

// url returns the presigned URL with the query sorted, as Go's SDK lays it out.
func (p presign) url() string {
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	amzDate := p.date.UTC().Format("20060102T150405Z")
	scope := amzDate[:8] + "/" + p.region + "/sts/aws4_request"
	headers := append([][2]string{{"host", p.host}, {"x-k8s-aws-id", p.cluster}}, p.extraHeaders...)
	slices.SortFunc(headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	var names []string
	var canonHeaders string
	for _, h := range headers {
		names = append(names, h[0])
		canonHeaders += h[0] + ":" + h[1] + "\n"
	}
	params := [][2]string{{"Action", "GetCallerIdentity"}, {"Version", "2011-06-15"},
		{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"}, {"X-Amz-Credential", p.akid + "/" + scope},
		{"X-Amz-Date", amzDate}, {"X-Amz-SignedHeaders", strings.Join(names, ";")}}
	if p.expires != "" {
		params = append(params, [2]string{"X-Amz-Expires", p.expires})
	}
	if p.session != "" {
		params = append(params, [2]string{"X-Amz-Security-Token", p.session})
	}
	params = append(params, p.extraParams...)
	var q []string
	for _, kv := range params {
		q = append(q, enc(kv[0])+"="+enc(kv[1]))
	}
	slices.Sort(q) // fine here: no allow-listed key is a prefix of another
	cq := strings.Join(q, "&")
	payload := sha256.Sum256(nil)
	creq := "GET\n/\n" + cq + "\n" + canonHeaders + "\n" + strings.Join(names, ";") + "\n" + hex.EncodeToString(payload[:])
	creqSum := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creqSum[:])
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	k := mac(mac(mac(mac([]byte("AWS4"+p.secret), amzDate[:8]), p.region), "sts"), "aws4_request")
	return "https://" + p.host + "/?" + cq + "&X-Amz-Signature=" + hex.EncodeToString(mac(k, sts))
}

func (p presign) token() string { return tokenOf(p.url()) }

func tokenOf(u string) string { return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(u)) }

// The test signer must reproduce golden vectors V1 and V2 (Go order) byte for byte.
func TestSignerMatchesGoldenVectors(t *testing.T) {
	if got := v1().url(); got != v1URL {
		t.Fatalf("signer V1 url:\n got %s\nwant %s", got, v1URL)
	}
	p := v1()
	p.session = v2Session
	if got := p.url(); got != v2GoURL {
		t.Fatalf("signer V2 url:\n got %s\nwant %s", got, v2GoURL)
	}
}
