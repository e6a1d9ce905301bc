package jsonlite

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// plain turns a Value into what json.Unmarshal gives for `any`, so the two
// readings can be compared.
func plain(t *testing.T, v Value) any {
	t.Helper()
	switch v.Kind {
	case Null:
		return nil
	case Bool:
		return v.Bool
	case Number:
		return json.Number(v.Str)
	case String:
		return v.Str
	case Array:
		out := []any{}
		for _, it := range v.Items {
			out = append(out, plain(t, it))
		}
		return out
	case Object:
		out := map[string]any{}
		for _, m := range v.Members {
			out[m.Key] = plain(t, m.Value)
		}
		return out
	}
	t.Fatalf("unknown kind %d", v.Kind)
	return nil
}

var seeds = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0.5e+10`, `"x"`, ` {"a" : [1, 2, {"b": null}] } `,
	`{"format":"ekstoken/token/v1","token":"k8s-aws-v1.aHR0cHM6Ly9zdHM","credentialsExpire":"2026-11-29T12:00:00Z"}`,
	`{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"cluster":{"server":"https://x","config":null},"interactive":true}}`,
	`"\u00e9\ud83d\ude00\ud800\udc00\ud800x\udc00\\\"\/\b\f\n\r\t"`, "\"\xff\xfe\"", `{"a":1,"a":2}`,
	`01`, `1.`, `.5`, `-`, `1e`, `{"a"}`, `{"a":}`, `[1,]`, `{,}`, `"\x"`, "\"\x01\"", `{}x`, `tru`, `nul`,
	`"\ud83d\u0041"`, `"\udc00\ud800"`, `[[[[[[[[[[]]]]]]]]]]`,
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		var want any
		jerr := unmarshal(b, &want)
		if err != nil {
			if jerr == nil && depth(want) <= maxDepth {
				t.Fatalf("Parse(%q) failed (%v); encoding/json reads %#v", b, err, want)
			}
			return
		}
		if jerr != nil {
			t.Fatalf("Parse(%q) = %#v; encoding/json refuses it: %v", b, v, jerr)
		}
		if diff := cmp.Diff(want, plain(t, v)); diff != "" {
			t.Fatalf("Parse(%q) differs from encoding/json (-json +jsonlite):\n%s", b, diff)
		}
	})
}

// unmarshal is json.Unmarshal keeping numbers as their literals.
func unmarshal(b []byte, v any) error {
	if !json.Valid(b) {
		return errors.New("invalid JSON")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

func depth(v any) int {
	d := 0
	switch v := v.(type) {
	case []any:
		for _, it := range v {
			d = max(d, depth(it))
		}
		return d + 1
	case map[string]any:
		for _, it := range v {
			d = max(d, depth(it))
		}
		return d + 1
	}
	return 0
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\<>&`, "\b\f\n\r\t\x00\x1f\x7f", "\u2028\u2029é😀", "\xff\xc3", "k8s-aws-v1.abc_-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal = %s", s, got, want)
		}
		// And it reads back as encoding/json reads it back.
		v, err := Parse(want)
		var back string
		if jerr := json.Unmarshal(want, &back); err != nil || jerr != nil || v.Str != back {
			t.Fatalf("round trip of %q: jsonlite %q (%v), encoding/json %q (%v)", s, v.Str, err, back, jerr)
		}
	})
}

func TestGetLastDuplicateWins(t *testing.T) {
	v, err := Parse([]byte(`{"a":"1","b":true,"a":"2"}`))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := v.String("a"); !ok || s != "2" {
		t.Errorf(`String("a") = %q, %v; want "2", true`, s, ok)
	}
	if _, ok := v.String("b"); ok {
		t.Error(`String("b") of a bool reported a string`)
	}
	if _, ok := v.Get("c"); ok {
		t.Error(`Get("c") found a missing key`)
	}
}

func TestDepthBound(t *testing.T) {
	deep := make([]byte, 0, 2*(maxDepth+2))
	for range maxDepth + 2 {
		deep = append(deep, '[')
	}
	for range maxDepth + 2 {
		deep = append(deep, ']')
	}
	if _, err := Parse(deep); err == nil {
		t.Errorf("Parse accepted %d levels of nesting; the bound is %d", maxDepth+2, maxDepth)
	}
	if _, err := Parse(deep[1 : len(deep)-1][1 : 2*maxDepth+1]); err != nil {
		t.Errorf("Parse refused %d levels: %v", maxDepth, err)
	}
}
