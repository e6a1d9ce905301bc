package app

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
)

// TestClearSaysWhatItKeeps: a cluster or region filter leaves the shared
// credential sessions, and clear says how many and how to remove them.
func TestClearSaysWhatItKeeps(t *testing.T) {
	for _, n := range []int{1, 3} {
		for _, filter := range [][]string{{"--cluster", "prod"}, {"--region", "eu-west-1"}} {
			dir := filepath.Join(t.TempDir(), "c")
			s := cache.Store{Dir: dir}
			for i := range n {
				name := fmt.Sprintf("credentials-%040x", i+1)
				if err := s.Write(name, map[string]any{"format": awsauth.CredentialsFormat, "accessKeyId": "ASIA", "secretAccessKey": "s",
					"expires": time.Now().Add(time.Hour), "profile": fmt.Sprint("p", i)}); err != nil {
					t.Fatal(err)
				}
			}
			_, stderr, code := run(t, append([]string{"clear", "--cache-dir", dir}, filter...)...)
			want := fmt.Sprintf("kept %d cached credential %s", n, map[bool]string{true: "session", false: "sessions"}[n == 1])
			if code != 0 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "ekstoken clear --profile") {
				t.Errorf("clear %v with %d credential entries: exit %d, stderr %q; want %q and how to remove them", filter, n, code, stderr, want)
			}
			if names, _ := s.Names(); len(names) != n {
				t.Errorf("clear %v removed credentials: %v left", filter, names)
			}
			// Without a filter nothing is kept, and nothing is said about it.
			_, stderr, _ = run(t, "clear", "--cache-dir", dir)
			if strings.Contains(stderr, "kept") {
				t.Errorf("clear without a filter: %q", stderr)
			}
		}
	}
}
