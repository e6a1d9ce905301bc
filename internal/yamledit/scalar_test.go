package yamledit

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The fast path of plainSafe says "plain" only where yaml.v3 would write
// the string plain too, for words of every shape kubeconfig args take.
func TestSimpleWordAgreesWithYAML(t *testing.T) {
	words := []string{"token", "--cluster-name", "eu-west-1", "c000123", "prod.v2", "a/b", "x_y",
		"y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "on", "On", "ON", "off", "Off", "true", "True",
		"TRUE", "false", "False", "null", "Null", "NULL", "nan", "NaN", "inf", "Inf", "e1", "E10", "x1e5",
		"a.b.c", "a..b", "a--", "a-", "a.", "a/", "abc/def-1.2_3", "--1", "---", "--", "--a", "--yes", "--.a", "-- a", "--a b", strings.Repeat("a", 300), "tilde~", "b:c"}
	for _, p := range []string{"1", "-1", ".5", "0x1f", "0o17", "1e3", ".inf", ".nan", "~", "-", "0755", "2006-01-02", "1:20"} {
		words = append(words, p, "a"+p)
	}
	for _, w := range words {
		out, err := yaml.Marshal(w)
		marshalPlain := err == nil && string(out) == w+"\n"
		if simpleWord(w) && !marshalPlain {
			t.Errorf("simpleWord(%q) is true, but yaml.v3 writes %q", w, out)
		}
	}
	for _, w := range []string{"token", "--cluster-name", "eu-west-1", "c000123"} {
		if !simpleWord(w) {
			t.Errorf("simpleWord(%q) is false: the fast path is not taken", w)
		}
	}
}

// An entry moved to another column keeps its shape: every line after the
// first moves with it, blank lines stay blank.
func TestReindent(t *testing.T) {
	at := func(col int) string {
		p := strings.Repeat(" ", col)
		return "name: a\n" + p + "user:\n" + p + "  token: x\n\n" + p + "  # note\n" + p + "  exec: {args: [a,\n" + p + "    b]}"
	}
	for _, tc := range []struct{ from, to int }{{2, 2}, {2, 6}, {6, 2}, {4, 0}, {0, 4}} {
		got := Reindent([]byte(at(tc.from)), tc.to-tc.from)
		if got != at(tc.to) {
			t.Errorf("from column %d to %d:\n%q\nwant\n%q", tc.from, tc.to, got, at(tc.to))
		}
		var a, b any
		if err := yaml.Unmarshal([]byte(strings.Repeat(" ", tc.to)+got), &a); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(strings.Repeat(" ", tc.from)+at(tc.from)), &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) || a == nil {
			t.Errorf("from column %d to %d: the entry reads differently: %v, %v", tc.from, tc.to, a, b)
		}
	}
}
