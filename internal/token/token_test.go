package token

import (
	"encoding/base64"
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
	want := Claims{SignedAt: at, AccessKeyID: "ASIAR2TG44V6AS3ZZE7C", Host: "sts.eu-west-1.amazonaws.com"}
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
