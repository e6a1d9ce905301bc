package sha256lite

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func FuzzAgreesWithCryptoSHA256(f *testing.F) {
	for _, s := range []string{"", "abc", "ekstoken secret;wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", string(make([]byte, 55)), string(make([]byte, 56)), string(make([]byte, 64)), string(make([]byte, 200))} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		want := sha256.Sum256(data)
		if got := Sum256(data); got != want {
			t.Fatalf("Sum256(%q) = %x, crypto/sha256 %x", data, got, want)
		}
		// Written in two pieces, and summed halfway, it agrees too.
		cut := int(split) % (len(data) + 1)
		d := New()
		d.Write(data[:cut])
		if got, want := d.Sum(), sha256.Sum256(data[:cut]); got != want {
			t.Fatalf("Sum after %d bytes = %x, want %x", cut, got, want)
		}
		d.Write(data[cut:])
		if got := d.Sum(); got != want {
			t.Fatalf("Sum of %q written at %d = %x, want %x", data, cut, got, want)
		}
		if got := Hex(want[:]); got != hex.EncodeToString(want[:]) {
			t.Fatalf("Hex(%x) = %s", want, got)
		}
	})
}

// The FIPS 180-2 example.
func TestKnownDigest(t *testing.T) {
	sum := Sum256([]byte("abc"))
	if got := Hex(sum[:]); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("SHA-256(abc) = %s", got)
	}
}

func BenchmarkSum256(b *testing.B) {
	data := make([]byte, 4096)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Sum256(data)
	}
}
