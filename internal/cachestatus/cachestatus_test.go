package cachestatus

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/google/go-cmp/cmp"
)

var signedAt = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

const secret = "SECRETsecretSECRETsecret"

func token(akid string) string {
	u := "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=" + akid + "%2F20261127%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261127T090000Z&X-Amz-Expires=60" +
		"&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Security-Token=" + secret + "&X-Amz-Signature=00"
	return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(u))
}

// Entry names as ekstoken gives them.
const (
	tokA   = "token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tokB   = "token-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	credC  = "credentials-cccccccccccccccccccccccccccccccccccccccc"
	tokBad = "token-dddddddddddddddddddddddddddddddddddddddd"
)

// fill writes two tokens (one signed with environment keys), a credentials
// entry and an entry of ours that cannot be read (mode 0644).
func fill(t *testing.T) cache.Store {
	t.Helper()
	s := cache.Store{Dir: filepath.Join(t.TempDir(), "c")}
	prod := tokencache.NewEntry("k", token("ASIAPROD"))
	prod.Cluster, prod.Region, prod.Profile, prod.AccessKeyID = "prod", "eu-west-1", "admin", "ASIAPROD"
	prod.CredentialsExpire = signedAt.Add(10 * time.Minute)
	dev := tokencache.NewEntry("k", token("AKIADEV"))
	dev.Cluster, dev.Region, dev.AccessKeyID, dev.CredentialSource = "dev", "us-east-1", "AKIADEV", SourceEnvironmentKeys
	for name, v := range map[string]any{
		tokA: prod, tokB: dev,
		credC: map[string]any{"format": awsauth.CredentialsFormat, "accessKeyId": "ASIAPROD", "secretAccessKey": secret,
			"sessionToken": secret, "expires": signedAt.Add(10 * time.Minute), "source": "AssumeRoleProvider", "profile": "admin"},
		tokBad: prod,
	} {
		if err := s.Write(name, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(s.Path(tokBad), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestList(t *testing.T) {
	s := fill(t)
	items, err := List(s, signedAt.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, strings.Join([]string{it.Kind, it.Cluster, it.Profile, it.AccessKeyID,
			(time.Duration(it.ExpiresIn) * time.Second).String(), map[bool]string{true: "capped"}[it.CappedByCredentials]}, " "))
	}
	want := []string{
		// Served until they expire less the 60 s margin and 5 min.
		"credentials  admin ASIAPROD -3m0s ",
		"token prod admin ASIAPROD 7m0s capped", // credentials end at +10m, less the 60 s margin
		"token dev  AKIADEV 12m0s ",
		"unreadable    0s ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var table, js bytes.Buffer
	if err := WriteTable(&table, items, signedAt.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, items); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"table": table.String(), "json": js.String()} {
		if strings.Contains(out, secret) || strings.Contains(out, "k8s-aws-v1.") {
			t.Errorf("%s output holds a secret or a token:\n%s", name, out)
		}
		if !strings.Contains(out, tokBad) {
			t.Errorf("%s output does not list the unreadable entry", name)
		}
		if !strings.Contains(out, SourceEnvironmentKeys) {
			t.Errorf("%s output does not say a token was signed with environment keys", name)
		}
	}
}

func TestClear(t *testing.T) {
	for _, tt := range []struct {
		name   string
		filter Filter
		left   []string
	}{
		{"everything", Filter{}, nil},
		{"one cluster keeps credentials", Filter{Cluster: "prod"}, []string{credC, tokB, tokBad}},
		{"a profile takes its credentials", Filter{Profile: "admin"}, []string{tokB, tokBad}},
		{"a region", Filter{Region: "us-east-1"}, []string{credC, tokA, tokBad}},
		{"no match", Filter{Cluster: "none"}, []string{credC, tokA, tokB, tokBad}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := fill(t)
			res, err := Clear(s, tt.filter, signedAt)
			if err != nil {
				t.Fatal(err)
			}
			n := res.Removed
			wantKept := 0
			if slices.Contains(tt.left, credC) && tt.filter != (Filter{}) && (tt.filter.Cluster != "" || tt.filter.Region != "") {
				wantKept = 1
			}
			if res.KeptCredentials != wantKept {
				t.Errorf("kept credentials %d, want %d", res.KeptCredentials, wantKept)
			}
			left, _ := s.Names()
			if diff := cmp.Diff(tt.left, left); diff != "" {
				t.Errorf("left (-want +got):\n%s", diff)
			}
			if n != 4-len(tt.left) {
				t.Errorf("removed %d, want %d", n, 4-len(tt.left))
			}
		})
	}
}

func TestExpiresIn(t *testing.T) {
	for s, want := range map[int64]string{
		-5: "expired", 0: "expired", 10: "10s", 50: "50s", 110: "1m50s", 720: "12m", 800: "13m20s", 3600: "1h", 3660: "1h1m", 3601: "1h0m1s",
	} {
		if got := expiresIn(s); got != want {
			t.Errorf("expiresIn(%d) = %q, want %q", s, got, want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	now := time.Date(2026, 11, 29, 14, 0, 0, 0, time.UTC)
	if err := WriteTable(&b, []Item{
		{Kind: KindToken, Cluster: "prod", Region: "eu-west-1", Profile: "admin", RoleARN: "arn:aws:iam::1:role/r",
			AccessKeyID: "ASIAX", ExpiresIn: 50, CappedByCredentials: true, File: "/c/token-a.json",
			Expires: now.Add(50 * time.Second), RefreshFrom: now.Add(-250 * time.Second)},
		{Kind: KindToken, Cluster: "dev", Region: "eu-west-1", Profile: "admin", AccessKeyID: "ASIAX", ExpiresIn: 600, File: "/c/token-d.json",
			Expires: now.Add(10 * time.Minute), RefreshFrom: now.Add(5 * time.Minute)},
		{Kind: KindToken, Cluster: "sso", Region: "eu-west-1", Profile: "corp", AccessKeyID: "ASIAS", ExpiresIn: 120, File: "/c/token-e.json",
			Expires: now.Add(2 * time.Minute), RefreshFrom: now.Add(-3 * time.Minute),
			Backoff: &Backoff{Until: now.Add(time.Minute), Failures: 2, NeedsPerson: true, Message: "run aws sso login"}},
		{Kind: KindCredentials, Profile: "admin", AccessKeyID: "ASIAX", ExpiresIn: 3600, File: "/c/credentials-b.json"},
		{Kind: KindUnreadable, File: "/c/token-c.json", Error: "not a regular file"},
	}, now); err != nil {
		t.Fatal(err)
	}
	until := now.Add(time.Minute).Local().Format(time.TimeOnly)
	want := `KIND         CLUSTER  REGION     PROFILE / ROLE                 KEY ID  EXPIRES IN  CAPPED BY CREDENTIALS  BACKGROUND REFRESH                          FILE
token        prod     eu-west-1  admin / arn:aws:iam::1:role/r  ASIAX   50s         yes                    due (next hit)                              /c/token-a.json
token        dev      eu-west-1  admin                          ASIAX   10m         no                     in 5m                                       /c/token-d.json
token        sso      eu-west-1  corp                           ASIAS   2m          no                     backing off until ` + until + `: needs a person  /c/token-e.json
credentials  -        -          admin                          ASIAX   1h          -                      -                                           /c/credentials-b.json
unreadable   -        -          -                              -       -           -                      -                                           /c/token-c.json (not a regular file)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A cluster name is whatever the command line said: in the table it is
// shown, never let through as escape sequences or line breaks.
func TestTableShowsNamesInertly(t *testing.T) {
	items := []Item{{Kind: KindToken, Cluster: "evil\x1b[2J\nname\t", Region: "eu-west-1", Profile: "p\x07", File: "/c/token-1.json"}}
	var b strings.Builder
	if err := WriteTable(&b, items, time.Time{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07") || strings.Count(out, "\n") != 2 {
		t.Errorf("the table passes control characters through:\n%q", out)
	}
	if !strings.Contains(out, `evil\x1b[2J\nname\t`) {
		t.Errorf("the name is not shown quoted:\n%s", out)
	}
}

// A token's backoff shows only when the record is its identity's: a
// record of another identity copied under the token's name holds nothing
// on the token path, and status says so too.
func TestBackoffShownOnlyForItsIdentity(t *testing.T) {
	now := signedAt.Add(2 * time.Minute)
	for _, tc := range []struct {
		key  string
		want bool
	}{{"k", true}, {"other", false}, {"", false}, {"k ", false}} {
		s := fill(t)
		bo := tokencache.Backoff{Format: tokencache.BackoffFormat, Key: tc.key, Failures: 1, Since: now, Until: now.Add(time.Minute)}
		if err := s.Write("backoff-"+strings.TrimPrefix(tokA, "token-"), bo); err != nil {
			t.Fatal(err)
		}
		items, err := List(s, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.File == s.Path(tokA) && (it.Backoff != nil) != tc.want {
				t.Errorf("record of key %q under the token of key \"k\": backoff shown %v, want %v", tc.key, it.Backoff != nil, tc.want)
			}
		}
	}
}

// A backoff record that claims to hold far beyond its failure holds at
// most 15 minutes from it on the token path, and status shows that end,
// not the claim.
func TestBackoffShownUntilItsRealEnd(t *testing.T) {
	now := signedAt.Add(2 * time.Minute)
	since := now.Add(-time.Minute)
	for _, until := range []time.Time{now.Add(time.Hour), now.Add(100 * 365 * 24 * time.Hour)} {
		s := fill(t)
		bo := tokencache.Backoff{Format: tokencache.BackoffFormat, Key: "k", Failures: 1, Since: since, Until: until}
		if err := s.Write("backoff-"+strings.TrimPrefix(tokA, "token-"), bo); err != nil {
			t.Fatal(err)
		}
		if err := s.Write("backoff-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", bo); err != nil {
			t.Fatal(err)
		}
		items, err := List(s, now)
		if err != nil {
			t.Fatal(err)
		}
		shown := 0
		for _, it := range items {
			if it.Backoff == nil {
				continue
			}
			shown++
			if it.Backoff.Until.After(since.Add(15 * time.Minute)) {
				t.Errorf("%s: backoff shown until %v, beyond the 15 min after its failure at %v that it holds", it.File, it.Backoff.Until, since)
			}
			if it.Kind == KindBackoff && it.Expires.After(since.Add(15*time.Minute)) {
				t.Errorf("%s: expires %v, beyond the 15 min after its failure", it.File, it.Expires)
			}
		}
		if shown != 2 {
			t.Errorf("%d backoffs shown, want 2 (the token's and the lone record)", shown)
		}
	}
}
