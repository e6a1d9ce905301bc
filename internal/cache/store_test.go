package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
	"github.com/gofrs/flock"
	"github.com/google/go-cmp/cmp"
)

// entry stands in for what callers store: a secret and some metadata.
type entry struct {
	Token string `json:"token"`
	N     int    `json:"n"`
	Pad   string `json:"pad,omitempty"`
}

// newStore returns a store whose directory does not exist yet.
func newStore(t *testing.T) Store {
	t.Helper()
	return Store{Dir: filepath.Join(tmpdir.New(t), "cache")}
}

// dirNames lists every name in dir, hidden files and temp files included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read dir %s: %v", dir, err)
	}
	names := []string{}
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// tempFiles returns the names in dir that look like Write's temp files.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var tmps []string
	for _, n := range dirNames(t, dir) {
		if strings.HasSuffix(n, ".tmp") {
			tmps = append(tmps, n)
		}
	}
	return tmps
}

// writeRaw puts data at path as a private file, bypassing Store.Write.
func writeRaw(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// WriteFile keeps the mode of a file that already exists.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		key   string
		value entry
	}{
		{"simple", K, entry{Token: "k8s-aws-v1.abc", N: 1}},
		{"zero value", "zero", entry{}},
		{"hash-like key", "0123456789abcdef0123456789abcdef", entry{Token: "t", N: 42}},
		{"key with dots and dashes", "a.b-c_d", entry{Token: "x", N: -7}},
		{"unicode and escapes", "u", entry{Token: "ü\"\\\n\t<>&", N: 3}},
		{"large but under limit", "big", entry{Token: "t", Pad: strings.Repeat("p", 60<<10)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if err := s.Write(tc.key, tc.value); err != nil {
				t.Fatalf("Write: %v", err)
			}
			var got entry
			if err := s.Read(tc.key, &got); err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(tc.value, got); diff != "" {
				t.Errorf("Read after Write (-want +got):\n%s", diff)
			}
			if got, want := s.Path(tc.key), filepath.Join(s.Dir, tc.key+".json"); got != want {
				t.Errorf("Path = %q, want %q", got, want)
			}
			if tmps := tempFiles(t, s.Dir); len(tmps) != 0 {
				t.Errorf("temp files left behind: %v", tmps)
			}
		})
	}
}

func TestWriteOverwrites(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for i := range 5 {
		want := entry{Token: fmt.Sprintf("token-%d", i), N: i}
		if i == 3 {
			// A shorter value after a longer one must not keep a tail of
			// the old one (an O_TRUNC-less rewrite would).
			want.Pad = strings.Repeat("x", 4096)
		}
		if err := s.Write(K, want); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		var got entry
		if err := s.Read(K, &got); err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after write %d (-want +got):\n%s", i, diff)
		}
	}
	if diff := cmp.Diff([]string{K + ".json"}, dirNames(t, s.Dir)); diff != "" {
		t.Errorf("dir contents (-want +got):\n%s", diff)
	}
}

func TestWriteUnencodable(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := s.Write(K, entry{Token: "old"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(K, map[string]any{"f": func() {}}); err == nil {
		t.Fatal("Write of an unencodable value succeeded")
	}
	var got entry
	if err := s.Read(K, &got); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if diff := cmp.Diff(entry{Token: "old"}, got); diff != "" {
		t.Errorf("entry changed by a failed Write (-want +got):\n%s", diff)
	}
	if tmps := tempFiles(t, s.Dir); len(tmps) != 0 {
		t.Errorf("temp files left behind: %v", tmps)
	}
}

func TestReadMissing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, s Store)
	}{
		{"dir does not exist", func(*testing.T, Store) {}},
		{"dir empty", func(t *testing.T, s Store) {
			if err := os.MkdirAll(s.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"other entries only", func(t *testing.T, s Store) {
			if err := s.Write(otherN, entry{Token: "o"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"only the lock exists", func(t *testing.T, s Store) {
			unlock, err := s.Lock(context.Background(), K, forever)
			if err != nil {
				t.Fatal(err)
			}
			unlock.Unlock()
		}},
		{"removed", func(t *testing.T, s Store) {
			if err := s.Write(K, entry{Token: "t"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Remove(K); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			tc.setup(t, s)
			got := entry{Token: "untouched"}
			err := s.Read(K, &got)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Read = %v, want ErrNotFound", err)
			}
			if got.Token != "untouched" {
				t.Errorf("Read of a missing entry changed v to %+v", got)
			}
		})
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, s Store)
		want  []string
	}{
		{"dir does not exist", func(*testing.T, Store) {}, nil},
		{"empty dir", func(t *testing.T, s Store) {
			if err := os.MkdirAll(s.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"entries sorted", func(t *testing.T, s Store) {
			for _, n := range []string{"token-cccccccccccccccc", "token-aaaaaaaaaaaaaaaa", "token-bbbbbbbbbbbbbbbb"} {
				if err := s.Write(n, entry{Token: n}); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"token-aaaaaaaaaaaaaaaa", "token-bbbbbbbbbbbbbbbb", "token-cccccccccccccccc"}},
		{"skips locks, temp files, dotfiles and other files", func(t *testing.T, s Store) {
			if err := s.Write(K, entry{Token: "a"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(keepN, entry{Token: "b"}); err != nil {
				t.Fatal(err)
			}
			// A lock with and without an entry.
			for _, n := range []string{K, otherN} {
				unlock, err := s.Lock(context.Background(), n, forever)
				if err != nil {
					t.Fatal(err)
				}
				unlock.Unlock()
			}
			// A temp file exactly as Write names them, left by a crash.
			f, err := os.CreateTemp(s.Dir, "."+K0+".*.tmp")
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			writeRaw(t, filepath.Join(s.Dir, ".hidden.json"), []byte(`{}`))
			writeRaw(t, filepath.Join(s.Dir, "notes.txt"), []byte(`x`))
			writeRaw(t, filepath.Join(s.Dir, "c.json.tmp"), []byte(`{}`))
			// Files of other programs that happen to end in .json, or to
			// look almost like ekstoken's.
			for _, n := range []string{"package.json", "tsconfig.json", "token-.json", "token-xyz0123456789abcdef.json",
				"token-0123.json", "TOKEN-0123456789abcdef0123.json", "kubeconfig-0123456789abcdef0123.json",
				"token-0123456789abcdef0123.json.bak", "credentials-0123456789abcdef0123.JSON"} {
				writeRaw(t, filepath.Join(s.Dir, n), []byte(`{"format":"ekstoken/token/v2"}`))
			}
			// A directory with an entry's name.
			if err := os.Mkdir(filepath.Join(s.Dir, K0+".json"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, []string{keepN, K}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			tc.setup(t, s)
			got, err := s.Names()
			if err != nil {
				t.Fatalf("Names: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNamesDirIsFile(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	writeRaw(t, s.Dir, []byte("not a dir"))
	if names, err := s.Names(); err == nil {
		t.Fatalf("Names on a regular file = %v, nil; want an error", names)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		writeKey  bool
		lockKey   bool
		wantAfter []string
	}{
		{"entry and lock", true, true, []string{keepN + ".json", keepN + ".lock"}},
		{"entry only", true, false, []string{keepN + ".json", keepN + ".lock"}},
		{"lock only", false, true, []string{keepN + ".json", keepN + ".lock"}},
		{"neither", false, false, []string{keepN + ".json", keepN + ".lock"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			// A neighbour that must survive.
			if err := s.Write(keepN, entry{Token: keepN}); err != nil {
				t.Fatal(err)
			}
			unlock, err := s.Lock(context.Background(), keepN, forever)
			if err != nil {
				t.Fatal(err)
			}
			unlock.Unlock()
			if tc.writeKey {
				if err := s.Write(K, entry{Token: K}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.lockKey {
				unlock, err := s.Lock(context.Background(), K, forever)
				if err != nil {
					t.Fatal(err)
				}
				unlock.Unlock()
			}
			if err := s.Remove(K); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if diff := cmp.Diff(tc.wantAfter, dirNames(t, s.Dir)); diff != "" {
				t.Errorf("dir after Remove (-want +got):\n%s", diff)
			}
			if err := s.Read(K, new(entry)); !errors.Is(err, ErrNotFound) {
				t.Errorf("Read after Remove = %v, want ErrNotFound", err)
			}
			var kept entry
			if err := s.Read(keepN, &kept); err != nil || kept.Token != keepN {
				t.Errorf("neighbour after Remove = %+v, %v", kept, err)
			}
			// Removing again is fine.
			if err := s.Remove(K); err != nil {
				t.Errorf("second Remove: %v", err)
			}
		})
	}
}

func TestRemoveMissingDir(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := s.Remove(K); err != nil {
		t.Errorf("Remove in a missing dir = %v, want nil", err)
	}
}

// TestReadCorrupt: anything that is not one whole, sane entry is an error
// (a miss for the caller), never a panic and never a partial decode that
// reports success.
func TestReadCorrupt(t *testing.T) {
	t.Parallel()
	valid := mustJSON(t, entry{Token: "k8s-aws-v1.abcdefghijklmnopqrstuvwxyz", N: 12345, Pad: "0123456789"})
	oversized := mustJSON(t, entry{Token: "t", Pad: strings.Repeat("A", entryfile.MaxSize)})
	if len(oversized) <= entryfile.MaxSize {
		t.Fatalf("oversized entry is only %d bytes", len(oversized))
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty file", nil},
		{"whitespace only", []byte(" \n\t ")},
		{"invalid JSON", []byte(`{"token": nope}`)},
		{"binary garbage", []byte{0x00, 0xff, 0xfe, 0x7b, 0x01}},
		{"truncated to half", valid[:len(valid)/2]},
		{"truncated by one byte", valid[:len(valid)-1]},
		{"first byte only", valid[:1]},
		{"trailing garbage", append(slices.Clone(valid), []byte(`garbage`)...)},
		{"two entries", append(slices.Clone(valid), valid...)},
		{"wrong type for field", []byte(`{"token": 5, "n": "x"}`)},
		{"array instead of object", []byte(`[1,2,3]`)},
		{"valid JSON just over the size limit", oversized},
		{"over the size limit of spaces", append(slices.Clone(valid), []byte(strings.Repeat(" ", entryfile.MaxSize))...)},
		{"huge", append([]byte(`{"token":"`), []byte(strings.Repeat("B", 4*entryfile.MaxSize))...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			writeRaw(t, s.Path(K), tc.data)
			var got entry
			err := s.Read(K, &got)
			if err == nil {
				t.Fatalf("Read of %d corrupt bytes succeeded with %+v", len(tc.data), got)
			}
			if errors.Is(err, ErrNotFound) {
				// Not wrong for callers, but the message should say why.
				t.Logf("Read error is ErrNotFound: %v", err)
			}
		})
	}
}

// TestReadSizeLimitBoundary: an entry of exactly entryfile.MaxSize bytes is read;
// one more byte is refused.
func TestReadSizeLimitBoundary(t *testing.T) {
	t.Parallel()
	base := mustJSON(t, entry{Token: "t"})
	// {"token":"t","n":0} with spaces before the closing brace is still
	// one valid object.
	pad := func(n int) []byte {
		b := slices.Clone(base[:len(base)-1])
		b = append(b, []byte(strings.Repeat(" ", n-len(base)))...)
		return append(b, '}')
	}
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"exactly the limit", entryfile.MaxSize, false},
		{"one over the limit", entryfile.MaxSize + 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			data := pad(tc.size)
			if len(data) != tc.size {
				t.Fatalf("built %d bytes, want %d", len(data), tc.size)
			}
			writeRaw(t, s.Path(K), data)
			var got entry
			err := s.Read(K, &got)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Read of %d bytes = %v, wantErr %v", tc.size, err, tc.wantErr)
			}
			if err == nil && got.Token != "t" {
				t.Errorf("decoded %+v", got)
			}
		})
	}
}

func TestEntryIsDirectory(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := os.MkdirAll(s.Path(K), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Read(K, new(entry)); err == nil {
		t.Error("Read of a directory succeeded")
	}
	if err := s.Write(K, entry{Token: "t"}); err == nil {
		t.Error("Write over a directory succeeded")
	}
	st, err := os.Lstat(s.Path(K))
	if err != nil || !st.IsDir() {
		t.Errorf("directory at the entry path was replaced: %v, %v", st, err)
	}
	if tmps := tempFiles(t, s.Dir); len(tmps) != 0 {
		t.Errorf("temp files left behind: %v", tmps)
	}
}

func TestDirProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// dir builds the store's directory under base and returns it.
		dir func(t *testing.T, base string) string
	}{
		{"no dir configured", func(*testing.T, string) string { return "" }},
		{"dir is a regular file", func(t *testing.T, base string) string {
			p := filepath.Join(base, "file")
			writeRaw(t, p, []byte("precious"))
			return p
		}},
		{"parent is a regular file", func(t *testing.T, base string) string {
			p := filepath.Join(base, "file")
			writeRaw(t, p, []byte("precious"))
			return filepath.Join(p, "cache")
		}},
		{"grandparent is a regular file", func(t *testing.T, base string) string {
			p := filepath.Join(base, "file")
			writeRaw(t, p, []byte("precious"))
			return filepath.Join(p, "a", "cache")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := tmpdir.New(t)
			s := Store{Dir: tc.dir(t, base)}
			if err := s.Write(K, entry{Token: "t"}); err == nil {
				t.Error("Write succeeded")
			}
			if unlock, err := s.Lock(context.Background(), K, forever); err == nil {
				unlock.Unlock()
				t.Error("Lock succeeded")
			}
			if err := s.Read(K, new(entry)); err == nil {
				t.Error("Read succeeded")
			}
			// The regular file in the way is untouched.
			if b, err := os.ReadFile(filepath.Join(base, "file")); err == nil && string(b) != "precious" {
				t.Errorf("file in the way now holds %q", b)
			}
		})
	}
}

func TestWriteCreatesMissingParents(t *testing.T) {
	t.Parallel()
	s := Store{Dir: filepath.Join(tmpdir.New(t), "a", "b", "cache")}
	if err := s.Write(K, entry{Token: "t"}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	var got entry
	if err := s.Read(K, &got); err != nil || got.Token != "t" {
		t.Fatalf("Read = %+v, %v", got, err)
	}
}

// TestConcurrentWriteRead: readers racing writers on one entry see one
// whole written value every time, never an error and never a mix. On
// Windows a reader may be refused while a rename replaces the entry, and a
// rename may be refused, after two seconds of retries, while readers hold
// the entry (sharingRefused): the reader takes it as a miss and the writer
// still prints its token, so neither is wrong, only slower; a mixed or
// unknown value still fails the test.
func TestConcurrentWriteRead(t *testing.T) {
	t.Parallel()
	const (
		writers = 20
		readers = 20
		rounds  = 15
	)
	s := newStore(t)
	// Values of very different sizes, so a torn or truncated read would
	// not decode, or decode to something not in the set.
	values := map[string]entry{}
	valueOf := func(w, r int) entry {
		return entry{
			Token: fmt.Sprintf("token-%02d-%02d", w, r),
			N:     w*1000 + r,
			Pad:   strings.Repeat(string(rune('a'+w)), 100+(w*977+r*131)%8000),
		}
	}
	for w := range writers {
		for r := range rounds {
			v := valueOf(w, r)
			values[v.Token] = v
		}
	}
	initial := valueOf(0, 0)
	if err := s.Write("same", initial); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds+readers*rounds*4)
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for r := range rounds {
				if err := s.Write("same", valueOf(w, r)); err != nil && !sharingRefused(err) {
					errs <- fmt.Errorf("writer %d round %d: %w", w, r, err)
				}
			}
		})
	}
	for rd := range readers {
		wg.Go(func() {
			<-start
			for i := range rounds * 4 {
				var got entry
				if err := s.Read("same", &got); err != nil {
					if !sharingRefused(err) {
						errs <- fmt.Errorf("reader %d read %d: %w", rd, i, err)
					}
					continue
				}
				want, ok := values[got.Token]
				if !ok {
					errs <- fmt.Errorf("reader %d read %d: unknown value %q", rd, i, got.Token)
					continue
				}
				if diff := cmp.Diff(want, got); diff != "" {
					errs <- fmt.Errorf("reader %d read %d: torn value (-want +got):\n%s", rd, i, diff)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 10 {
			t.Error(err)
		}
	}
	if n > 10 {
		t.Errorf("... and %d more errors", n-10)
	}

	var last entry
	if err := s.Read("same", &last); err != nil {
		t.Fatalf("final Read: %v", err)
	}
	if _, ok := values[last.Token]; !ok {
		t.Errorf("final value %q was never written", last.Token)
	}
	if diff := cmp.Diff([]string{"same.json"}, dirNames(t, s.Dir)); diff != "" {
		t.Errorf("dir after concurrent writes (-want +got):\n%s", diff)
	}
}

// TestConcurrentWriteDifferentKeys: parallel writers of different keys do
// not disturb each other.
func TestConcurrentWriteDifferentKeys(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.Write(fmt.Sprintf("token-%016d", i), entry{Token: fmt.Sprint(i), N: i}); err != nil {
				t.Errorf("Write %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	names, err := s.Names()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("token-%016d", i))
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	for i := range n {
		var got entry
		if err := s.Read(fmt.Sprintf("token-%016d", i), &got); err != nil || got.N != i {
			t.Errorf("Read k%02d = %+v, %v", i, got, err)
		}
	}
}

func TestLockExcludes(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	unlock, err := s.Lock(context.Background(), K, forever)
	if err != nil {
		t.Fatalf("first Lock: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	unlock2, err := s.Lock(ctx, K, forever)
	took := time.Since(start)
	if err == nil {
		unlock2.Unlock()
		t.Fatal("second Lock on a held lock succeeded")
	}
	if took < 90*time.Millisecond {
		t.Errorf("second Lock gave up after %v, before its 100ms context ended", took)
	}
	if took > 5*time.Second {
		t.Errorf("second Lock took %v to honour a 100ms context", took)
	}

	// An already-ended context fails at once.
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if u, err := s.Lock(done, K, forever); err == nil {
		u.Unlock()
		t.Error("Lock with a cancelled context succeeded while held")
	}

	// Other names are independent.
	ctxOther, cancelOther := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelOther()
	unlockOther, err := s.Lock(ctxOther, otherN, forever)
	if err != nil {
		t.Errorf("Lock of another name while k is held: %v", err)
	} else {
		unlockOther.Unlock()
	}

	unlock.Unlock()
	ctx3, cancel3 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel3()
	unlock3, err := s.Lock(ctx3, K, forever)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock3.Unlock()
}

// TestLockWaitsForRelease: a waiter gets the lock once the holder lets go,
// within its context.
func TestLockWaitsForRelease(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	unlock, err := s.Lock(context.Background(), K, forever)
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan time.Time, 1)
	go func() {
		time.Sleep(150 * time.Millisecond)
		released <- time.Now()
		unlock.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unlock2, err := s.Lock(ctx, K, forever)
	if err != nil {
		t.Fatalf("waiting Lock: %v", err)
	}
	got := time.Now()
	unlock2.Unlock()
	if r := <-released; got.Before(r) {
		t.Errorf("waiter got the lock at %v, before the holder released it at %v", got, r)
	}
}

// TestLockSerializes: many goroutines taking the same lock never overlap.
func TestLockSerializes(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var (
		mu      sync.Mutex
		inside  int
		maxSeen int
		wg      sync.WaitGroup
	)
	for i := range 10 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			unlock, err := s.Lock(ctx, K, forever)
			if err != nil {
				t.Errorf("Lock %d: %v", i, err)
				return
			}
			mu.Lock()
			inside++
			maxSeen = max(maxSeen, inside)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			unlock.Unlock()
		})
	}
	wg.Wait()
	if maxSeen != 1 {
		t.Errorf("%d holders at once, want 1", maxSeen)
	}
}

// TestLockIsSeparateFromEntry: the lock lives in "<name>.lock"; the entry
// is never locked or created by Lock, and can be written and replaced while
// the lock is held (Windows refuses to rename over a locked file).
func TestLockIsSeparateFromEntry(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	unlock, err := s.Lock(context.Background(), K, forever)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock.Unlock()

	lockPath := filepath.Join(s.Dir, K+".lock")
	if lockPath == s.Path(K) {
		t.Fatal("lock path is the entry path")
	}
	if _, err := os.Stat(lockPath); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	if _, err := os.Lstat(s.Path(K)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Lock created the entry file: %v", err)
	}
	if err := s.Read(K, new(entry)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Read with only a lock = %v, want ErrNotFound", err)
	}

	// Writing and re-reading the entry works while the lock is held.
	for i := range 3 {
		if err := s.Write(K, entry{Token: "t", N: i}); err != nil {
			t.Fatalf("Write under the lock: %v", err)
		}
		var got entry
		if err := s.Read(K, &got); err != nil || got.N != i {
			t.Fatalf("Read under the lock = %+v, %v", got, err)
		}
	}

	// The entry itself is not locked: another locker gets it at once...
	fe := flock.New(s.Path(K))
	ok, err := fe.TryLock()
	if err != nil || !ok {
		t.Errorf("entry file is locked while Lock is held: ok=%v err=%v", ok, err)
	}
	_ = fe.Unlock()
	// ...while the lock file is still held, even after the renames.
	fl := flock.New(lockPath)
	ok, err = fl.TryLock()
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		_ = fl.Unlock()
		t.Error("lock file is not locked while Lock is held")
	}
	names, err := s.Names()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{K}, names); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
}

// forever waits for a lock as long as the context lets it.
var forever = Wait{Short: time.Hour, Long: time.Hour}

// Entry names as ekstoken gives them: only those are listed or removed.
const (
	K      = "token-0123456789abcdef0123456789abcdef01234567"
	K0     = "token-1123456789abcdef0123456789abcdef01234567"
	keepN  = "credentials-2123456789abcdef0123456789abcdef0123"
	otherN = "token-3123456789abcdef0123456789abcdef01234567"
)

// Every write sweeps away entries of ekstoken's that nobody wrote for a
// day (identities that are gone), and nothing else: recent entries, files
// that are not ekstoken's, whatever their age.
func TestWriteSweepsUnusedEntries(t *testing.T) {
	s := newStore(t)
	old := time.Now().Add(-UnusedAfter - time.Hour)
	stale := "token-" + strings.Repeat("a", 40)
	recent := "token-" + strings.Repeat("b", 40)
	for _, n := range []string{stale, recent} {
		if err := s.Write(n, map[string]string{"format": "ekstoken/token/v2"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(s.Path(stale), old, old); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(s.Dir, "token-"+strings.Repeat("c", 40)+".json")
	if err := os.WriteFile(foreign, []byte(`{"format":"someone else's"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(foreign, old, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Write("credentials-"+strings.Repeat("d", 40), map[string]string{"format": "ekstoken/credentials/v2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path(stale)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the entry unused for a day is still there: %v", err)
	}
	for _, p := range []string{s.Path(recent), foreign} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
}
