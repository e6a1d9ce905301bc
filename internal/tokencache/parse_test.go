package tokencache

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/jsonlite"
	"github.com/google/go-cmp/cmp"
)

// FuzzParseEntryAgreesWithEncodingJSON holds the hit path's entry reader
// to json.Unmarshal into Entry, which the full path used before it: on
// entries whose keys are written as ekstoken writes them (exactly, once),
// both accept the same documents and read the same fields.
func FuzzParseEntryAgreesWithEncodingJSON(f *testing.F) {
	full, err := json.Marshal(Entry{Format: EntryFormat, Key: "v=1:2;", Token: "k8s-aws-v1.abc",
		CredentialsExpire: time.Date(2026, 11, 29, 12, 0, 0, 123, time.UTC), Cluster: "prod", Region: "eu-west-1",
		Profile: "dev", RoleARN: "arn:aws:iam::1:role/r", AccessKeyID: "AKID", CredentialSource: "SharedConfigCredentials",
		SSOTokenFile: "/home/x/.aws/sso/cache/a.json"})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(full), `{}`, `null`, `[]`, `{"token":null,"credentialsExpire":null}`,
		`{"token":1}`, `{"credentialsExpire":"yesterday"}`, `{"credentialsExpire":"2026-11-29T12:00:00+02:00"}`,
		`{"format":"ekstoken/token/v2","extra":{"a":[1,{"b":null}]}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !exactOnceKeys(raw) {
			t.Skip()
		}
		var want Entry
		jerr := json.Unmarshal([]byte(raw), &want)
		got, err := ParseEntry([]byte(raw))
		if jerr != nil {
			if err == nil {
				t.Fatalf("ParseEntry(%q) accepts what encoding/json refuses: %v", raw, jerr)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseEntry(%q): %v; encoding/json reads %+v", raw, err, want)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("ParseEntry(%q) (-encoding/json +ParseEntry):\n%s", raw, diff)
		}
	})
}

// entryFields are the JSON names of Entry's fields, as ekstoken writes
// them.
var entryFields = []string{"format", "key", "token", "credentialsExpire", "cluster", "region", "profile", "roleArn", "accessKeyId", "credentialSource", "ssoTokenFile"}

// exactOnceKeys is exactOnceKeysOf for Entry.
func exactOnceKeys(raw string) bool { return exactOnceKeysOf(raw, entryFields) }

// exactOnceKeysOf: raw is not valid JSON (both must refuse it), or no
// object in it repeats a key or holds one that only case-folds to one of
// names, the struct's field names (encoding/json matches those too; the
// hand-written readers do not).
func exactOnceKeysOf(raw string, names []string) bool {
	v, err := jsonlite.Parse([]byte(raw))
	if err != nil {
		return true
	}
	fields, exact := map[string]bool{}, map[string]bool{}
	for _, k := range names {
		fields[strings.ToLower(k)], exact[k] = true, true
	}
	seen := map[string]bool{}
	for _, m := range v.Members {
		k := strings.ToLower(m.Key)
		if seen[k] || fields[k] && !exact[m.Key] || strings.ContainsAny(m.Key, "\u212a\u017f") {
			return false
		}
		seen[k] = true
	}
	return true
}
