package execcred

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/jsonlite"
	"github.com/google/go-cmp/cmp"
)

func TestReadInfo(t *testing.T) {
	for _, tt := range []struct {
		name, env string
		want      Info
	}{
		{"absent: a run by hand", "", Info{APIVersion: V1beta1}},
		{"v1, interactive", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}`,
			Info{APIVersion: V1, Interactive: true, Present: true}},
		{"v1beta1", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}`,
			Info{APIVersion: V1beta1, Present: true}},
		{"v1alpha1 is echoed with a warning", `{"apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{}}`,
			Info{APIVersion: V1alpha1, Present: true, Warning: "Kubeconfig user entry is using deprecated API version client.authentication.k8s.io/v1alpha1, which kubectl no longer accepts. Change the user's apiVersion to client.authentication.k8s.io/v1beta1."}},
		{"unknown version", `{"apiVersion":"client.authentication.k8s.io/v2"}`,
			Info{APIVersion: V1beta1, Present: true, Warning: "Unrecognized API version in KUBERNETES_EXEC_INFO, defaulting to client.authentication.k8s.io/v1beta1."}},
		{"not JSON", `{`,
			Info{APIVersion: V1beta1, Present: true, Warning: "Error parsing KUBERNETES_EXEC_INFO, defaulting to client.authentication.k8s.io/v1beta1. This is likely a bug in your Kubernetes client. Please update your Kubernetes client."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ReadInfo(func(k string) string {
				if k == EnvVar {
					return tt.env
				}
				return ""
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	exp := time.Date(2023, 4, 28, 0, 14, 0, 999, time.FixedZone("CEST", 2*3600))
	if err := Write(&b, V1, Credential{Token: "k8s-aws-v1.abc", Expiration: exp}); err != nil {
		t.Fatal(err)
	}
	// The aws CLI's key order; RFC 3339 in UTC, whole seconds, literal Z.
	want := `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{},"status":{"expirationTimestamp":"2023-04-27T22:14:00Z","token":"k8s-aws-v1.abc"}}` + "\n"
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}

// FuzzDecodeInfoAgreesWithEncodingJSON holds the hand-written reader of
// KUBERNETES_EXEC_INFO to json.Unmarshal into the struct it replaces, for
// documents whose keys are written as client-go writes them: exactly, and
// once. (encoding/json also matches keys case-insensitively and merges
// repeated objects; decodeInfo does neither, which can only turn a strange
// document into the v1beta1 default.)
func FuzzDecodeInfoAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}`,
		`{"apiVersion":null,"spec":null}`, `null`, `{"spec":{"interactive":"yes"}}`, `{"apiVersion":1}`, `[]`, `"x"`,
		`{"spec":{"cluster":{"server":"https://x","config":{"a":[1,2]}},"interactive":false}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !exactOnceKeys(raw) {
			t.Skip()
		}
		var in struct {
			APIVersion string `json:"apiVersion"`
			Spec       struct {
				Interactive bool `json:"interactive"`
			} `json:"spec"`
		}
		jerr := json.Unmarshal([]byte(raw), &in)
		api, interactive, ok := decodeInfo(raw)
		if ok != (jerr == nil) {
			t.Fatalf("decodeInfo(%q) ok=%v; encoding/json: %v", raw, ok, jerr)
		}
		if ok && (api != in.APIVersion || interactive != in.Spec.Interactive) {
			t.Fatalf("decodeInfo(%q) = %q, %v; encoding/json %q, %v", raw, api, interactive, in.APIVersion, in.Spec.Interactive)
		}
	})
}

// exactOnceKeys reports whether raw is valid JSON in which no object holds
// a key twice or a key that only case-folds to apiVersion, spec or
// interactive.
func exactOnceKeys(raw string) bool {
	v, err := jsonlite.Parse([]byte(raw))
	if err != nil {
		return true // invalid documents must be refused by both
	}
	var walk func(v jsonlite.Value) bool
	walk = func(v jsonlite.Value) bool {
		seen := map[string]bool{}
		for _, m := range v.Members {
			k := strings.ToLower(m.Key)
			if seen[k] || (k == "apiversion" || k == "spec" || k == "interactive" || strings.ContainsAny(m.Key, "\u212a\u017f")) && m.Key != "apiVersion" && m.Key != "spec" && m.Key != "interactive" {
				return false
			}
			seen[k] = true
			if !walk(m.Value) {
				return false
			}
		}
		for _, it := range v.Items {
			if !walk(it) {
				return false
			}
		}
		return true
	}
	return walk(v)
}

func TestMarshalAgreesWithEncodingJSON(t *testing.T) {
	type status struct {
		ExpirationTimestamp string `json:"expirationTimestamp"`
		Token               string `json:"token"`
	}
	type envelope struct {
		Kind       string   `json:"kind"`
		APIVersion string   `json:"apiVersion"`
		Spec       struct{} `json:"spec"`
		Status     status   `json:"status"`
	}
	exp := time.Date(2026, 11, 29, 12, 0, 0, 5, time.UTC)
	for _, api := range []string{V1, V1beta1, V1alpha1, `odd "<&>" version`} {
		for _, tok := range []string{"k8s-aws-v1.aHR0cHM6Ly9zdHM_-", "", "\u2028\x01\xff"} {
			want, err := json.Marshal(envelope{Kind: "ExecCredential", APIVersion: api,
				Status: status{ExpirationTimestamp: exp.Format(TimeFormat), Token: tok}})
			if err != nil {
				t.Fatal(err)
			}
			if got := Marshal(api, Credential{Token: tok, Expiration: exp}); string(got) != string(want)+"\n" {
				t.Errorf("Marshal(%q, %q)\n got %s\nwant %s", api, tok, got, want)
			}
		}
	}
}
