//go:build windows

package cache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
)

// TestCreatedFilesArePrivate: every directory, entry and lock file that the
// store creates, for any kind of entry and at any depth of missing
// parents, has its own security descriptor, read back from the file
// system: the user as owner, a protected DACL (nothing inherited), and
// access for that user alone.
func TestCreatedFilesArePrivate(t *testing.T) {
	user := currentUser(t)
	for _, tc := range []struct {
		missing []string // directories the store must create, outermost first
		name    string
	}{
		{missing: []string{"cache"}, name: K},
		{missing: []string{"a", "b", "cache"}, name: "credentials-2123456789abcdef0123456789abcdef0123"},
		{missing: []string{"x y", "ekstoken"}, name: "backoff-0123456789abcdef"},
	} {
		base := tmpdir.New(t)
		dir := filepath.Join(append([]string{base}, tc.missing...)...)
		s := Store{Dir: dir}
		if err := s.Write(tc.name, entry{Token: "t"}); err != nil {
			t.Fatalf("Write: %v", err)
		}
		l, err := s.Lock(context.Background(), tc.name, Wait{Short: time.Second})
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		l.Unlock()
		paths := []string{s.Path(tc.name), filepath.Join(dir, tc.name+".lock")}
		for i := range tc.missing {
			paths = append(paths, filepath.Join(append([]string{base}, tc.missing[:i+1]...)...))
		}
		for _, p := range paths {
			checkPrivate(t, p, user)
		}
	}
}

// TestExistingDirKeepsItsSecurity: a directory that exists is used as it
// is; ekstoken changes the security of nothing it did not create. Its
// entries are still private.
func TestExistingDirKeepsItsSecurity(t *testing.T) {
	dir := tmpdir.New(t)
	before := sddl(t, dir)
	s := Store{Dir: dir}
	if err := s.Write(K, entry{Token: "t"}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if after := sddl(t, dir); after != before {
		t.Errorf("security of an existing directory changed:\nbefore %s\nafter  %s", before, after)
	}
	checkPrivate(t, s.Path(K), currentUser(t))
}

func currentUser(t *testing.T) *windows.SID {
	t.Helper()
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	sid, err := u.User.Sid.Copy()
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

func sddl(t *testing.T, path string) string {
	t.Helper()
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatalf("read the security of %s: %v", path, err)
	}
	return sd.String()
}

// checkPrivate fails t for every way path is not private; see problems.
func checkPrivate(t *testing.T, path string, user *windows.SID) {
	t.Helper()
	for _, p := range problems(t, path, user) {
		t.Errorf("%s: %s", path, p)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the owner cannot stat %s: %v", path, err)
	}
}

// problems reads the security descriptor of path back and says how it
// falls short of this: user owns it, and its protected DACL allows user,
// and only user, full access, by ACEs of its own (none inherited).
//
// Wine 8 keeps no security descriptor for a file: it turns the DACL it is
// given into Unix mode bits, and reads back one made from them, which
// always allows SYSTEM and is never protected. Under wine, then, what can
// be checked is the owner and that nobody but the user (and SYSTEM, wine's
// own) is allowed anything; docs/decisions.md says so.
func problems(t *testing.T, path string, user *windows.SID) []string {
	t.Helper()
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatalf("read the security of %s: %v", path, err)
	}
	wine := tmpdir.UnderWine()
	var out []string
	owner, _, err := sd.Owner()
	if err != nil || owner == nil || !owner.Equals(user) {
		out = append(out, fmt.Sprintf("owner %v (%v), want %v", owner, err, user))
	}
	control, _, err := sd.Control()
	if !wine && (err != nil || control&windows.SE_DACL_PROTECTED == 0) {
		out = append(out, fmt.Sprintf("DACL not protected from inheritance (control %#x, %v); %s", control, err, sd))
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		// No DACL at all would mean access for everyone.
		return append(out, fmt.Sprintf("no DACL (%v); %s", err, sd))
	}
	system, _ := windows.CreateWellKnownSid(windows.WinLocalSystemSid)
	users := 0
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			t.Fatalf("%s: ACE %d: %v", path, i, err)
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		switch {
		case ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE:
			out = append(out, fmt.Sprintf("ACE %d is of type %d, want only access-allowed ACEs; %s", i, ace.Header.AceType, sd))
		case wine && sid.Equals(system):
			// Wine adds it to every DACL it reads back.
		case !sid.Equals(user):
			out = append(out, fmt.Sprintf("ACE %d gives access to %v, not only to the user %v; %s", i, sid, user, sd))
		case !wine && ace.Header.AceFlags&windows.INHERITED_ACE != 0:
			out = append(out, fmt.Sprintf("ACE %d is inherited; %s", i, sd))
		case !wine && ace.Mask != fileAllAccess:
			out = append(out, fmt.Sprintf("ACE %d grants %#x, want full access %#x; %s", i, ace.Mask, fileAllAccess, sd))
		default:
			users++
		}
	}
	if users == 0 {
		out = append(out, fmt.Sprintf("no ACE for the user; %s", sd))
	}
	return out
}

// TestProblemsSeesDefaultSecurity: the check above finds fault with a
// file created the ordinary way (os.WriteFile in a directory of default
// security), under wine too, so it can fail.
func TestProblemsSeesDefaultSecurity(t *testing.T) {
	p := filepath.Join(tmpdir.New(t), "plain")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := problems(t, p, currentUser(t)); len(got) == 0 {
		t.Errorf("a file of default security passed as private: %s", sddl(t, p))
	}
}

// fileAllAccess is FILE_ALL_ACCESS (winnt.h), the "FA" of SDDL.
const fileAllAccess = windows.STANDARD_RIGHTS_REQUIRED | windows.SYNCHRONIZE | 0x1ff
