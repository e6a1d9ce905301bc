//go:build unix

package entryfile

import (
	"path/filepath"
	"testing"
)

func TestJoinAgreesWithFilepath(t *testing.T) {
	for _, elems := range [][]string{
		{"/home/u", ".kube", "cache", "ekstoken"},
		{"/home/u/", ".aws", "config"},
		{"/tmp/cache//", "token-1.json"},
		{"relative", "x.json"},
		{"", "x.json"},
		{"/", "x.json"},
		{"/", ".kube", "cache"},
		{"a", "", "b"},
		{"/"},
	} {
		if got, want := Join(elems...), filepath.Join(elems...); got != want {
			t.Errorf("Join(%q) = %q, filepath.Join = %q", elems, got, want)
		}
	}
}
