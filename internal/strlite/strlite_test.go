package strlite

import (
	"strings"
	"testing"
)

func FuzzAgreesWithStrings(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"token", "to"}, {"a/b//", "/"}, {"https://sts.x/?a=b", "/?"}, {"é", "\xa9"}, {"aaa", "aa"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, s, sep string) {
		if got, want := HasPrefix(s, sep), strings.HasPrefix(s, sep); got != want {
			t.Errorf("HasPrefix(%q, %q) = %v, strings says %v", s, sep, got, want)
		}
		if got, want := HasSuffix(s, sep), strings.HasSuffix(s, sep); got != want {
			t.Errorf("HasSuffix(%q, %q) = %v, strings says %v", s, sep, got, want)
		}
		if got, want := Index(s, sep), strings.Index(s, sep); got != want {
			t.Errorf("Index(%q, %q) = %v, strings says %v", s, sep, got, want)
		}
		a1, f1 := CutPrefix(s, sep)
		a2, f2 := strings.CutPrefix(s, sep)
		if a1 != a2 || f1 != f2 {
			t.Errorf("CutPrefix(%q, %q) = %q, %v; strings says %q, %v", s, sep, a1, f1, a2, f2)
		}
		b1, c1, g1 := Cut(s, sep)
		b2, c2, g2 := strings.Cut(s, sep)
		if b1 != b2 || c1 != c2 || g1 != g2 {
			t.Errorf("Cut(%q, %q) = %q, %q, %v; strings says %q, %q, %v", s, sep, b1, c1, g1, b2, c2, g2)
		}
		var cutset []byte
		for i := 0; i < len(sep); i++ {
			if sep[i] < 0x80 {
				cutset = append(cutset, sep[i])
			}
		}
		if got, want := TrimRightByte(s, cutset...), strings.TrimRight(s, string(cutset)); got != want {
			t.Errorf("TrimRightByte(%q, %q) = %q, strings says %q", s, cutset, got, want)
		}
	})
}
