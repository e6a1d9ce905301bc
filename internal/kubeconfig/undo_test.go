package kubeconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
	"github.com/ekstoken/ekstoken/internal/yamledit"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// setupFile writes src as a kubeconfig, rewrites it as setup does and
// returns its path, the log and what setup wrote. It fails the test when
// the input has nothing to rewrite.
func setupFile(t *testing.T, src []byte) (path string, log UndoLog, written []byte, users []string) {
	t.Helper()
	dir := tmpdir.New(t)
	path = filepath.Join(dir, "config")
	log = UndoLog{Dir: filepath.Join(dir, "home", ".kube", "ekstoken", "undo")}
	writeFile(t, path, src, 0o600)
	out, changes, err := Rewrite(src, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		users = append(users, c.User)
	}
	if _, err := log.WriteSetup(path, src, out, users, t0); err != nil {
		t.Fatal(err)
	}
	return path, log, out, users
}

// rewritable lists the inputs setup changes.
func rewritable(t *testing.T) []string {
	var names []string
	for _, in := range inputs(t) {
		if _, changes, err := Rewrite(read(t, in), testOptions()); err == nil && len(changes) > 0 {
			names = append(names, in)
		}
	}
	if len(names) < 5 {
		t.Fatalf("only %d inputs to rewrite", len(names))
	}
	return names
}

// fakeRecord saves a record for path so that Undo goes on to lock it.
func fakeRecord(t *testing.T, log UndoLog, path string) {
	t.Helper()
	target, err := recordTarget(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.save(undoRecord{Format: recordFormat, Target: target, Time: t0, Original: oldBytes, Written: newBytes}); err != nil {
		t.Fatal(err)
	}
}

// Setup then undo, nothing in between: the original comes back byte for
// byte, the record is gone, and a second undo has nothing to do. Nothing
// is left beside the kubeconfig at any point.
func TestUndoRoundTrip(t *testing.T) {
	for _, in := range rewritable(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src := read(t, in)
			path, log, _, users := setupFile(t, src)
			if names := dirNames(t, filepath.Dir(path)); !slices.Equal(names, []string{"config", "home"}) {
				t.Errorf("beside the kubeconfig after setup: %v", names)
			}
			recs, err := log.Records(path)
			if err != nil || len(recs) != 1 {
				t.Fatalf("records %v %v", recs, err)
			}
			if runtime.GOOS != "windows" {
				if m := modeOf(t, recs[0]); m != 0o600 {
					t.Errorf("record mode %v, want 0600", m)
				}
				if m := modeOf(t, log.Dir); m != 0o700 {
					t.Errorf("record directory mode %v, want 0700", m)
				}
			}
			res, err := log.Undo(path)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Whole || !slices.Equal(res.Restored, users) {
				t.Errorf("Undo = %+v, want the whole file and users %v", res, users)
			}
			if got := mustRead(t, path); !bytes.Equal(got, src) {
				t.Errorf("not restored byte for byte:\n%s", Diff(in, src, got))
			}
			if recs, _ := log.Records(path); len(recs) != 0 {
				t.Errorf("records left: %v", recs)
			}
			if _, err := log.Undo(path); !errors.Is(err, ErrNothingToUndo) {
				t.Errorf("second Undo: %v", err)
			}
			if names := dirNames(t, filepath.Dir(path)); !slices.Equal(names, []string{"config", "home"}) {
				t.Errorf("beside the kubeconfig after undo: %v", names)
			}
		})
	}
}

// What happens after setup is kept: a context switch, a new cluster,
// context and user, written the way update-kubeconfig (or the aws CLI)
// adds them. The result is the same change made to the original file,
// byte for byte.
func TestUndoKeepsLaterChanges(t *testing.T) {
	for _, in := range rewritable(t) {
		switched := newEntry()
		switched.ContextName, switched.UserName, switched.SetCurrent = "switched", "switched-user", true
		for _, e := range []Entry{newEntry(), switched} {
			t.Run(filepath.Base(in)+"/"+e.ContextName, func(t *testing.T) {
				src := read(t, in)
				path, log, written, users := setupFile(t, src)
				later, err := Upsert(written, e)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, path, later, 0o600)
				res, err := log.Undo(path)
				if err != nil {
					t.Fatal(err)
				}
				if res.Whole || !slices.Equal(res.Restored, users) || len(res.Edited)+len(res.Missing)+len(res.Already) != 0 {
					t.Errorf("Undo = %+v, want users %v restored", res, users)
				}
				want, err := Upsert(src, e)
				if err != nil {
					t.Fatal(err)
				}
				if got := mustRead(t, path); !bytes.Equal(got, want) {
					t.Errorf("not the later change made to the original:\n%s", Diff(in, want, got))
				}
				if recs, _ := log.Records(path); len(recs) != 0 {
					t.Errorf("records left: %v", recs)
				}
			})
		}
	}
}

// kubectlRewrite does to a file what `kubectl config use-context ctx`
// does: it decodes and writes the whole file back in its own layout,
// without comments, with `env: null` and `provideClusterInfo: false` in
// every exec user.
func kubectlRewrite(t *testing.T, src []byte, ctx string) []byte {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(src, &m); err != nil {
		t.Fatal(err)
	}
	users, _ := m["users"].([]any)
	for _, u := range users {
		user, _ := u.(map[string]any)["user"].(map[string]any)
		if ex, ok := user["exec"].(map[string]any); ok {
			if _, ok := ex["env"]; !ok {
				ex["env"] = nil
			}
			ex["provideClusterInfo"] = false
		}
	}
	m["current-context"] = ctx
	m["preferences"] = map[string]any{}
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// After kubectl rewrote the whole file in its own layout, undo still puts
// the users back, keeps the context switch, and writes every other entry
// as kubectl left it.
func TestUndoAfterKubectlRewrote(t *testing.T) {
	for _, in := range rewritable(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src := read(t, in)
			path, log, written, users := setupFile(t, src)
			now := kubectlRewrite(t, written, "switched")
			writeFile(t, path, now, 0o600)
			res, err := log.Undo(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Restored, users) {
				t.Errorf("Undo = %+v, want users %v restored", res, users)
			}
			got := mustRead(t, path)
			gd, err := parse(got)
			if err != nil {
				t.Fatalf("result does not parse: %v\n%s", err, got)
			}
			od, _ := parse(src)
			nd, _ := parse(now)
			if diff := cmp.Diff(normalize(od.Root).(map[string]any)["users"], normalize(gd.Root).(map[string]any)["users"]); diff != "" {
				t.Errorf("users are not the original ones (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(withoutUsers(nd.Root), withoutUsers(gd.Root)); diff != "" {
				t.Errorf("the rest is not as kubectl left it (-want +got):\n%s", diff)
			}
			if cur, _ := yamledit.ScalarValue(gd.Root, "current-context"); cur != "switched" {
				t.Errorf("current-context %q, want the switch kept", cur)
			}
		})
	}
}

// A user changed after setup is the user's: undo leaves it alone, names
// it, puts the others back, and keeps the record (which holds that user's
// original) until the user removes it.
func TestUndoLeavesEditedUserAlone(t *testing.T) {
	for _, in := range rewritable(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src := read(t, in)
			path, log, written, users := setupFile(t, src)
			d, _ := parse(written)
			edited := users[len(users)/2]
			it := d.entriesNamed(edited)[0]
			_, user := yamledit.MapGet(it, "user")
			_, ex := yamledit.MapGet(user, "exec")
			_, cmdv := yamledit.MapGet(ex, "command")
			s := d.Start(cmdv)
			e, err := d.End(cmdv, 0)
			if err != nil {
				t.Fatal(err)
			}
			now := slices.Concat(written[:s], []byte(`"/opt/bin/ekstoken"`), written[e:])
			writeFile(t, path, now, 0o600)

			for run := 1; run <= 2; run++ {
				res, err := log.Undo(path)
				if err != nil {
					t.Fatal(err)
				}
				others := slices.DeleteFunc(slices.Clone(users), func(u string) bool { return u == edited })
				wantRestored, wantAlready := others, []string(nil)
				if run == 2 {
					wantRestored, wantAlready = nil, others
				}
				if !slices.Equal(res.Edited, []string{edited}) || !slices.Equal(res.Restored, wantRestored) || !slices.Equal(res.Already, wantAlready) || len(res.Kept) != 1 {
					t.Errorf("Undo %d = %+v, want %q left alone, %v restored, %v already", run, res, edited, wantRestored, wantAlready)
				}
				got := mustRead(t, path)
				gd, err := parse(got)
				if err != nil {
					t.Fatal(err)
				}
				if cmdOf(gd, edited) != "/opt/bin/ekstoken" {
					t.Errorf("Undo %d: the edited user changed:\n%s", run, got)
				}
				od, _ := parse(src)
				for _, u := range others {
					if !reflect.DeepEqual(normalize(gd.entriesNamed(u)[0]), normalize(od.entriesNamed(u)[0])) {
						t.Errorf("Undo %d: user %q not restored", run, u)
					}
				}
			}
			if recs, _ := log.Records(path); len(recs) != 1 {
				t.Errorf("records %v, want the one kept", recs)
			}
		})
	}
}

func cmdOf(d *doc, user string) string {
	_, u := yamledit.MapGet(d.entriesNamed(user)[0], "user")
	_, ex := yamledit.MapGet(u, "exec")
	c, _ := yamledit.ScalarValue(ex, "command")
	return c
}

// Restored by hand (the original copied back, or each user edited back):
// undo says so, changes nothing and forgets the record.
func TestUndoAfterManualRestore(t *testing.T) {
	for _, in := range rewritable(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src := read(t, in)
			path, log, _, users := setupFile(t, src)
			by := append(slices.Clone(src), "# restored by hand\n"...)
			writeFile(t, path, by, 0o600)
			res, err := log.Undo(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Already, users) || len(res.Restored) != 0 {
				t.Errorf("Undo = %+v, want all of %v already restored", res, users)
			}
			if got := mustRead(t, path); !bytes.Equal(got, by) {
				t.Errorf("file changed:\n%s", Diff(in, by, got))
			}
			if recs, _ := log.Records(path); len(recs) != 0 {
				t.Errorf("records left: %v", recs)
			}
		})
	}
}

// Several setups of one file (each of some users) are all undone by one
// undo, newest first: the original comes back byte for byte.
func TestUndoSeveralSetups(t *testing.T) {
	for _, in := range rewritable(t) {
		src := read(t, in)
		_, changes, _ := Rewrite(src, testOptions())
		if len(changes) < 2 {
			continue
		}
		t.Run(filepath.Base(in), func(t *testing.T) {
			dir := tmpdir.New(t)
			path := filepath.Join(dir, "config")
			log := UndoLog{Dir: filepath.Join(dir, "undo")}
			writeFile(t, path, src, 0o644)
			cur := src
			for _, c := range changes {
				opts := testOptions()
				opts.Users = []string{c.User}
				out, ch, err := Rewrite(cur, opts)
				if err != nil || len(ch) != 1 {
					t.Fatal(ch, err)
				}
				if _, err := log.WriteSetup(path, cur, out, []string{c.User}, t0); err != nil {
					t.Fatal(err)
				}
				cur = out
			}
			if recs, _ := log.Records(path); len(recs) != len(changes) {
				t.Errorf("%d records, want one per setup: %v", len(recs), recs)
			}
			if _, err := log.Undo(path); err != nil {
				t.Fatal(err)
			}
			if got := mustRead(t, path); !bytes.Equal(got, src) {
				t.Errorf("not restored byte for byte:\n%s", Diff(in, src, got))
			}
			if runtime.GOOS != "windows" && modeOf(t, path) != 0o644 {
				t.Errorf("mode %v, want 0644", modeOf(t, path))
			}
		})
	}
}

// The record is complete and synced before the kubeconfig is touched,
// and dropped when the kubeconfig could not be written.
func TestWriteSetupRecordsFirst(t *testing.T) {
	in := rewritable(t)[0]
	src := read(t, in)
	dir := tmpdir.New(t)
	path := filepath.Join(dir, "config")
	log := UndoLog{Dir: filepath.Join(dir, "undo")}
	writeFile(t, path, src, 0o600)
	out, changes, _ := Rewrite(src, testOptions())
	users := []string{changes[0].User}

	saved := rename
	defer func() { rename = saved }()
	checked := false
	rename = func(from, to string) error {
		if to == path {
			checked = true
			recs, _ := log.Records(path)
			if len(recs) != 1 {
				t.Fatalf("at rename: records %v", recs)
			}
			rec, err := readRecord(recs[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rec.Original, src) || !bytes.Equal(rec.Written, out) || len(rec.Users) != 1 {
				t.Errorf("at rename the record is incomplete: %+v", rec)
			}
			if got := mustRead(t, path); !bytes.Equal(got, src) {
				t.Error("the kubeconfig changed before the record was saved")
			}
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.ENOSPC}
		}
		return saved(from, to)
	}
	if _, err := log.WriteSetup(path, src, out, users, t0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteSetup = %v", err)
	}
	if !checked {
		t.Fatal("rename never called for the kubeconfig")
	}
	if recs, _ := log.Records(path); len(recs) != 0 {
		t.Errorf("a record of a write that did not happen: %v", recs)
	}
	if got := mustRead(t, path); !bytes.Equal(got, src) {
		t.Error("file touched")
	}
}

// A bind-mounted kubeconfig (rename gives EBUSY) is written in place by
// setup and by undo.
func TestSetupUndoInPlace(t *testing.T) {
	failRename(t, syscall.EBUSY)
	for _, in := range rewritable(t) {
		src := read(t, in)
		dir := tmpdir.New(t)
		path := filepath.Join(dir, "config")
		log := UndoLog{Dir: filepath.Join(dir, "undo")}
		writeFile(t, path, src, 0o600)
		before, _ := os.Stat(path)
		out, changes, _ := Rewrite(src, testOptions())
		var users []string
		for _, c := range changes {
			users = append(users, c.User)
		}
		// The record itself is renamed into place by the cache's own
		// writer, which the seam does not reach.
		if _, err := log.WriteSetup(path, src, out, users, t0); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, path); !bytes.Equal(got, out) {
			t.Errorf("%s: setup wrote %q", in, got)
		}
		if _, err := log.Undo(path); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, path); !bytes.Equal(got, src) {
			t.Errorf("%s: undo wrote %q", in, got)
		}
		after, _ := os.Stat(path)
		if !os.SameFile(before, after) {
			t.Errorf("%s: the file was replaced, not written in place", in)
		}
	}
}

// A kubeconfig removed, or broken, since setup: nothing is written, and
// the advice to copy names a file that was checked to hold the original.
func TestUndoAdviceIsChecked(t *testing.T) {
	in := rewritable(t)[0]
	src := read(t, in)
	for _, tc := range []struct {
		name  string
		after func(path string)
	}{
		{"removed", func(path string) { os.Remove(path) }},
		{"broken", func(path string) { writeFile(t, path, []byte("users: [\n"), 0o600) }},
		{"empty", func(path string) { writeFile(t, path, nil, 0o600) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, log, _, _ := setupFile(t, src)
			tc.after(path)
			before, _ := os.ReadFile(path)
			_, err := log.Undo(path)
			if err == nil {
				t.Fatal("Undo succeeded")
			}
			msg := err.Error()
			i := strings.Index(msg, "cp ")
			if i < 0 {
				t.Fatalf("no advice to copy:\n%s", msg)
			}
			f := strings.Fields(msg[i:])
			if len(f) < 3 || f[2] != path {
				t.Fatalf("advice %q does not copy over %s", msg[i:], path)
			}
			if got := mustRead(t, f[1]); !bytes.Equal(got, src) {
				t.Errorf("the advised copy %s does not hold the original", f[1])
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Errorf("Undo changed the file")
			}
			if !strings.HasPrefix(f[1], log.Dir) {
				t.Errorf("the copy %s is not kept with the records in %s", f[1], log.Dir)
			}
		})
	}
	// A record whose original is empty or not a kubeconfig is never
	// offered for copying.
	for _, bad := range [][]byte{nil, []byte("  \n"), []byte("users: [\n")} {
		dir := tmpdir.New(t)
		if err := exportOriginal(filepath.Join(dir, "x.kubeconfig"), bad); err == nil {
			t.Errorf("exportOriginal(%q) succeeded", bad)
		}
	}
}

// kubectl skips files of a KUBECONFIG list that do not exist: so does
// undo, without locking or creating anything.
func TestUndoMissingFile(t *testing.T) {
	dir := tmpdir.New(t)
	log := UndoLog{Dir: filepath.Join(dir, "undo")}
	for _, path := range []string{
		filepath.Join(dir, "missing-dir", "config"),
		filepath.Join(dir, "missing"),
	} {
		if _, err := log.Undo(path); !errors.Is(err, ErrNothingToUndo) {
			t.Errorf("Undo(%s) = %v", path, err)
		}
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("Undo created %v", names)
	}
}

// Records of other users, readable by others, or symlinks are not used.
func TestUndoRefusesForeignRecords(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes mean nothing on Windows")
	}
	src := read(t, rewritable(t)[0])
	for _, tc := range []struct {
		name string
		harm func(rec string)
	}{
		{"readable by others", func(rec string) { os.Chmod(rec, 0o644) }},
		{"symlink", func(rec string) {
			other := rec + ".elsewhere"
			os.Rename(rec, other)
			os.Symlink(other, rec)
		}},
		{"damaged", func(rec string) { os.WriteFile(rec, []byte("{"), 0o600) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, log, written, _ := setupFile(t, src)
			recs, _ := log.Records(path)
			tc.harm(recs[0])
			if _, err := log.Undo(path); err == nil || !strings.Contains(err.Error(), "not using it") {
				t.Errorf("Undo = %v", err)
			}
			if got := mustRead(t, path); !bytes.Equal(got, written) {
				t.Error("file touched")
			}
		})
	}
}

// A file turned into JSON after setup (`kubectl config view --raw -o
// json > config`) cannot take the original YAML text back: undo writes
// the original values in JSON, and the file stays JSON.
func TestUndoIntoJSON(t *testing.T) {
	for _, in := range rewritable(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src := read(t, in)
			path, log, written, users := setupFile(t, src)
			var m map[string]any
			if err := yaml.Unmarshal(written, &m); err != nil {
				t.Fatal(err)
			}
			now, err := json.MarshalIndent(m, "", "    ")
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, now, 0o600)
			res, err := log.Undo(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Restored, users) {
				t.Errorf("Undo = %+v, want users %v restored", res, users)
			}
			got := mustRead(t, path)
			if !json.Valid(got) {
				t.Errorf("the file is no longer JSON:\n%s", got)
			}
			gd, err := parse(got)
			if err != nil {
				t.Fatal(err)
			}
			od, _ := parse(src)
			nd, _ := parse(now)
			if diff := cmp.Diff(normalize(od.Root).(map[string]any)["users"], normalize(gd.Root).(map[string]any)["users"]); diff != "" {
				t.Errorf("users are not the original ones (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(withoutUsers(nd.Root), withoutUsers(gd.Root)); diff != "" {
				t.Errorf("the rest changed (-want +got):\n%s", diff)
			}
		})
	}
}

// entriesNamed returns the entries of the users list called name.
func (d *doc) entriesNamed(name string) []*yaml.Node { return d.usersByName()[name] }

// A failure after the kubeconfig was replaced (here: its lock vanished)
// keeps the record, which is what undoes the change, and says so.
func TestWriteSetupKeepsRecordOnLateFailure(t *testing.T) {
	src := read(t, rewritable(t)[0])
	dir := tmpdir.New(t)
	path := filepath.Join(dir, "config")
	log := UndoLog{Dir: filepath.Join(dir, "undo")}
	writeFile(t, path, src, 0o600)
	out, changes, _ := Rewrite(src, testOptions())
	saved := rename
	defer func() { rename = saved }()
	rename = func(from, to string) error {
		err := saved(from, to)
		if to == path {
			os.Remove(path + ".lock")
		}
		return err
	}
	record, err := log.WriteSetup(path, src, out, []string{changes[0].User}, t0)
	if err == nil || !strings.Contains(err.Error(), "setup --undo") {
		t.Fatalf("WriteSetup = %v, want an error that points to undo", err)
	}
	if recs, _ := log.Records(path); len(recs) != 1 || recs[0] != record {
		t.Fatalf("records %v, want %s kept", recs, record)
	}
	rename = saved
	if _, err := log.Undo(path); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); !bytes.Equal(got, src) {
		t.Error("not restored")
	}
}
