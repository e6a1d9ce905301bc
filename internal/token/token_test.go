package token

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	// A token signed by signer at 2026-11-27T07:30:15Z in eu-west-1.
	at := time.Date(2026, 11, 27, 7, 30, 15, 0, time.UTC)
	tok := Prefix + base64.RawURLEncoding.EncodeToString([]byte("https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAR2TG44V6AS3ZZE7C%2F20261127%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261127T073015Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=00"))
	got, err := Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{SignedAt: at, AccessKeyID: "ASIAR2TG44V6AS3ZZE7C", Host: "sts.eu-west-1.amazonaws.com", Region: "eu-west-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !got.Expires().Equal(at.Add(15 * time.Minute)) {
		t.Errorf("Expires = %v", got.Expires())
	}
	for _, bad := range []string{"", "k8s-aws-v1.", "k8s-aws-v2." + tok[len(Prefix):], Prefix + "!!!", tok + "=",
		Prefix + base64.RawURLEncoding.EncodeToString([]byte("https://sts.amazonaws.com/?X-Amz-Credential=A%2Fx"))} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

// reference reads a token the obvious way, with net/url.
func reference(tok string) (Claims, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, Prefix))
	if err != nil || !strings.HasPrefix(tok, Prefix) {
		return Claims{}, false
	}
	u, err := url.Parse(string(raw))
	if err != nil || u.Scheme != "https" || u.Path != "/" || u.User != nil || u.Fragment != "" {
		return Claims{}, false
	}
	q := u.Query()
	at, err := time.Parse(dateFormat, q.Get("X-Amz-Date"))
	parts := strings.Split(q.Get("X-Amz-Credential"), "/")
	if err != nil || parts[0] == "" {
		return Claims{}, false
	}
	var region string
	if len(parts) > 2 {
		region = parts[2]
	}
	return Claims{SignedAt: at, AccessKeyID: parts[0], Host: u.Host, Region: region}, true
}

func encode(u string) string { return Prefix + base64.RawURLEncoding.EncodeToString([]byte(u)) }

// Real token URLs: Go's sorted order, botocore's order with the session
// token last, the global endpoint, FIPS, dual-stack and China hosts.
var realURLs = []string{
	"https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAR2TG44V6AS3ZZE7C%2F20230428%2Fus-west-2%2Fsts%2Faws4_request&X-Amz-Date=20230428T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=e211dba77aba9dc44b0b6be38b8eaad092599c5157f6314444c5b9d85747f5ce",
	"https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAR2TG44V6AS3ZZE7C%2F20230428%2Fus-west-2%2Fsts%2Faws4_request&X-Amz-Date=20230428T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2B%2F%3Dtoken&X-Amz-Signature=20931caf9220a27b7032d55929dcbe7f28ddd8603f04bc475710cca9ba463ac9",
	"https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261127%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20261127T235959Z&X-Amz-Expires=60&X-Amz-Security-Token=a%2Bb&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=00",
	"https://sts-fips.us-east-1.amazonaws.com/?X-Amz-Date=20261127T090000Z&X-Amz-Credential=AKID%2f20261127%2fus-east-1%2fsts%2faws4_request",
	"https://sts.cn-north-1.amazonaws.com.cn/?X-Amz-Credential=AKID%2F1&X-Amz-Date=20261127T090000Z",
}

func TestParseAgreesWithNetURL(t *testing.T) {
	for _, u := range realURLs {
		got, err := Parse(encode(u))
		want, ok := reference(encode(u))
		if err != nil || !ok {
			t.Errorf("%s: Parse error %v, reference ok %v", u, err, ok)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-net/url +Parse):\n%s", u, diff)
		}
	}
}

// Whatever the input, Parse never panics, and when it accepts a token,
// net/url reads the same claims from it.
func FuzzParse(f *testing.F) {
	for _, u := range realURLs {
		f.Add(encode(u))
	}
	f.Add(encode("https://sts.amazonaws.com/?X-Amz-Date=20261127T090000Z&X-Amz-Credential=A%2F&X-Amz-Date=20200101T000000Z"))
	f.Add(encode("https://user@sts.amazonaws.com/?X-Amz-Date=20261127T090000Z&X-Amz-Credential=A%2F"))
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := Parse(tok)
		if err != nil {
			return
		}
		want, ok := reference(tok)
		if !ok {
			t.Fatalf("Parse accepts %q, net/url does not", tok)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%q (-net/url +Parse):\n%s", tok, diff)
		}
	})
}

// A token is exactly the prefix and base64url: a line break, padding or
// any other byte inside it (which Go's decoder would skip or accept) makes
// it no token of ours.
func TestParseRefusesBytesOutsideBase64URL(t *testing.T) {
	good := encode(realURLs[0])
	if _, err := Parse(good); err != nil {
		t.Fatalf("the good token: %v", err)
	}
	for _, bad := range []string{good + "\n", good[:20] + "\r\n" + good[20:], good + "=", good[:15] + " " + good[15:], good + "+"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse accepted %q", bad)
		}
	}
}
