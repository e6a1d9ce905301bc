package tokencache

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
)

func TestExpandHome(t *testing.T) {
	for in, want := range map[string]string{
		"~": "/home/me", "~/.aws/alt": "/home/me/.aws/alt", "/etc/x": "/etc/x", "~bob/x": "~bob/x", "": "", "a~/b": "a~/b",
	} {
		// Compared cleaned: on Windows the result may join with either
		// separator ("/home/me\\.aws/alt"), which names the same file.
		if got := ExpandHome(in, "/home/me"); filepath.Clean(got) != filepath.Clean(filepath.FromSlash(want)) && got != want {
			t.Errorf("ExpandHome(%q) = %q, want %q", in, got, want)
		}
	}
}

// AWS_SHARED_CREDENTIALS_FILE=~/... is the file under the home directory,
// as the aws CLI reads it: rotating the keys in it makes a new identity.
func TestTildeCredentialsFileIsRead(t *testing.T) {
	home := tmpdir.New(t)
	path := filepath.Join(home, "alt")
	getenv := env(map[string]string{"AWS_SHARED_CREDENTIALS_FILE": "~/alt"})
	if err := os.WriteFile(path, []byte("[default]\naws_access_key_id = AKIDA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := NewIdentity(Request{ClusterName: "c", Region: "r"}, getenv, home)
	if before.Credentials.Path != path || before.Credentials.Digest == "" {
		t.Fatalf("credentials file %q (digest %q), want %q read", before.Credentials.Path, before.Credentials.Digest, path)
	}
	if err := os.WriteFile(path, []byte("[default]\naws_access_key_id = AKIDB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if after := NewIdentity(Request{ClusterName: "c", Region: "r"}, getenv, home); after.Key() == before.Key() {
		t.Error("new keys in ~/alt did not change the identity")
	}
}
