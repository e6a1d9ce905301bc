package kubeconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/yamledit"
	"gopkg.in/yaml.v3"
)

// ErrNothingToUndo is returned (wrapped) by Undo when setup recorded no
// change of the file.
var ErrNothingToUndo = errors.New("nothing to undo")

// UndoLog is the directory where setup keeps what `setup --undo` needs:
// one record per setup run per kubeconfig, named after the kubeconfig's
// absolute path. Records hold kubeconfig content (client keys, maybe), so
// they are private files written like cache entries.
type UndoLog struct {
	Dir string
}

// recordFormat changes when the record's meaning does; older or newer
// records are named, never guessed at.
const recordFormat = 1

// maxRecord bounds what a record read takes in: far above any kubeconfig
// kubectl itself would load in reasonable time.
const maxRecord = 256 << 20

// undoRecord is what one setup run changed in one kubeconfig.
type undoRecord struct {
	Format     int        `json:"format"`
	Kubeconfig string     `json:"kubeconfig"` // the path setup was given, made absolute
	Target     string     `json:"target"`     // the file written, symlinks resolved
	Time       time.Time  `json:"time"`
	Original   []byte     `json:"original"` // the whole file before setup
	Written    []byte     `json:"written"`  // the whole file setup wrote
	Users      []undoUser `json:"users"`
}

// undoUser is one entry of the users list that setup rewrote: its text
// from its first key to its end, before and after.
type undoUser struct {
	Name     string `json:"name"`
	Column   int    `json:"column"` // 0-based column of the entry's first key in Original
	Original []byte `json:"original"`
	Written  []byte `json:"written"`
}

// UndoResult is what Undo did to one kubeconfig.
type UndoResult struct {
	Whole    bool     // the file was as setup left it: the original is back byte for byte
	Restored []string // users put back as they were before setup
	Already  []string // users that were already back as they were before setup
	Edited   []string // users changed since setup: left alone
	Missing  []string // users no longer in the file
	Kept     []string // records kept because they hold a user left alone
}

// Records lists the records kept for the kubeconfig at path, oldest first.
func (l UndoLog) Records(path string) ([]string, error) {
	target, err := recordTarget(path)
	if err != nil {
		return nil, err
	}
	return l.records(target)
}

// recordTarget is the absolute, symlink-resolved file that setup writes
// for path: records are found by it.
func recordTarget(path string) (string, error) {
	t, err := resolve(path)
	if err != nil {
		return "", err
	}
	return filepath.Abs(t)
}

func recordKey(target string) string {
	sum := sha256.Sum256([]byte(target))
	return hex.EncodeToString(sum[:8])
}

func (l UndoLog) records(target string) ([]string, error) {
	des, err := os.ReadDir(l.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list undo records: %w", err)
	}
	prefix := recordKey(target) + "-"
	var names []string
	for _, de := range des {
		n, ok := strings.CutSuffix(de.Name(), ".json")
		if ok && strings.HasPrefix(n, prefix) {
			names = append(names, filepath.Join(l.Dir, de.Name()))
		}
	}
	// The time in the name sorts as it reads; a second record at the same
	// time ("<time>.01.json") sorts after the first ("<time>.json").
	slices.SortFunc(names, func(a, b string) int {
		return strings.Compare(strings.TrimSuffix(a, ".json"), strings.TrimSuffix(b, ".json"))
	})
	return names, nil
}

// WriteSetup is Write for `ekstoken setup`: before the kubeconfig is
// touched, it saves a record of the whole file and of each user entry
// it rewrites (users, by name) into the log, complete and synced, so
// that a crash at any point leaves either the old file or a record that
// puts it back. It returns the record's path ("" when nothing changed).
func (l UndoLog) WriteSetup(path string, original, content []byte, users []string, now time.Time) (record string, err error) {
	spans, err := userSpans(original, content, users)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var target string
	wrote, err := writeLocked(path, original, content, func(resolved string, _ fs.FileMode) error {
		target = resolved
		t, err := filepath.Abs(resolved)
		if err != nil {
			return err
		}
		record, err = l.save(undoRecord{
			Format: recordFormat, Kubeconfig: abs, Target: t, Time: now.UTC(),
			Original: original, Written: content, Users: spans,
		})
		return err
	})
	var inPlace *InPlaceError
	switch {
	case errors.As(err, &inPlace):
		return record, fmt.Errorf("%w; the file may be damaged: `ekstoken setup --undo --kubeconfig %s` puts back the original (kept in %s)", err, path, record)
	case err != nil && record != "":
		if cur, rerr := os.ReadFile(target); rerr == nil && bytes.Equal(cur, original) {
			// The kubeconfig was not touched: the record would undo nothing.
			os.Remove(record)
			return "", err
		}
		// It was replaced, and only what followed failed (syncing the
		// directory, releasing the lock): the record is what undoes it.
		return record, fmt.Errorf("%w; the file was rewritten: `ekstoken setup --undo --kubeconfig %s` puts back the original (kept in %s)", err, path, record)
	case err != nil:
		return "", err
	case !wrote:
		return "", nil
	}
	return record, nil
}

// save writes rec as a new record, private and atomic, and syncs the
// directory so the record survives a crash that follows.
func (l UndoLog) save(rec undoRecord) (string, error) {
	if l.Dir == "" {
		return "", errors.New("no directory for undo records: set HOME")
	}
	store := cache.Store{Dir: l.Dir}
	key := recordKey(rec.Target)
	l.removeStaleTemps(rec.Target)
	base := key + "-" + rec.Time.Format("20060102T150405.000000000Z")
	name := base
	for n := 1; ; n++ {
		// The kubeconfig's lock is held: no other setup of this file is
		// choosing a name now.
		if _, err := os.Lstat(store.Path(name)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if n == 100 {
			return "", fmt.Errorf("too many undo records for %s at %s", rec.Target, base)
		}
		name = fmt.Sprintf("%s.%02d", base, n)
	}
	if err := store.Write(name, rec); err != nil {
		return "", fmt.Errorf("save undo record: %w", err)
	}
	if err := syncDir(l.Dir); err != nil {
		os.Remove(store.Path(name))
		return "", fmt.Errorf("save undo record: %w", err)
	}
	// The directory itself may be new: make its own entry durable too.
	_ = syncDir(filepath.Dir(l.Dir))
	return store.Path(name), nil
}

// removeStaleTemps removes what a setup of target killed while saving its
// record left: the kubeconfig's lock is held, so no live run is writing
// one.
func (l UndoLog) removeStaleTemps(target string) {
	tmps, _ := filepath.Glob(filepath.Join(l.Dir, "."+recordKey(target)+"-*.tmp"))
	for _, t := range tmps {
		os.Remove(t)
	}
}

// readRecord reads a record, refusing what setup cannot have written:
// symlinks, files of other users or readable by them, other formats.
func readRecord(path string) (*undoRecord, error) {
	lst, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := entryfile.CheckPrivate(lst); err != nil {
		return nil, fmt.Errorf("undo record %s: %w; not using it", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(lst, st) {
		return nil, fmt.Errorf("undo record %s changed while being read; not using it", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRecord {
		return nil, fmt.Errorf("undo record %s is larger than %d bytes; not using it", path, maxRecord)
	}
	var rec undoRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("undo record %s is damaged (%w); not using it", path, err)
	}
	if rec.Format != recordFormat {
		return nil, fmt.Errorf("undo record %s has format %d, this ekstoken reads %d; not using it", path, rec.Format, recordFormat)
	}
	return &rec, nil
}

// userSpans finds the entries of users in original and content. Rewrite
// adds and removes no entry, so the i-th entry of a name in one is the
// i-th entry of that name in the other.
func userSpans(original, content []byte, users []string) ([]undoUser, error) {
	if len(users) == 0 {
		return nil, nil
	}
	od, err := parseNodes(original)
	if err != nil {
		return nil, err
	}
	nd, err := parseNodes(content)
	if err != nil {
		return nil, err
	}
	var spans []undoUser
	oldByName, newByName := od.usersByName(), nd.usersByName()
	for _, name := range users {
		olds, news := oldByName[name], newByName[name]
		if len(olds) != len(news) {
			return nil, fmt.Errorf("internal error: user %q appears %d times before and %d after", name, len(olds), len(news))
		}
		for i := range olds {
			ob, err := od.entryText(olds[i])
			if err != nil {
				return nil, fmt.Errorf("user %q: %w", name, err)
			}
			nb, err := nd.entryText(news[i])
			if err != nil {
				return nil, fmt.Errorf("user %q: %w", name, err)
			}
			if !bytes.Equal(ob, nb) {
				spans = append(spans, undoUser{Name: name, Column: olds[i].Column - 1, Original: ob, Written: nb})
			}
		}
	}
	return spans, nil
}

// parseNodes is parse for a file Rewrite has already checked: positions
// only, without decoding the whole tree again.
func parseNodes(src []byte) (*doc, error) {
	yd, err := yamledit.Parse(src)
	if err != nil {
		return nil, err
	}
	d := &doc{yd}
	if d.Root != nil && d.Root.Kind != yaml.MappingNode {
		d.Root = nil
	}
	if _, seq := yamledit.MapGet(d.Root, "users"); seq != nil && seq.Kind != yaml.SequenceNode {
		return nil, errors.New("users is not a list")
	}
	return d, nil
}

// usersByName indexes the entries of the users list by name, in file
// order: one pass, so that files with thousands of users stay fast.
func (d *doc) usersByName() map[string][]*yaml.Node {
	m := map[string][]*yaml.Node{}
	for _, u := range d.userEntries() {
		n, _ := yamledit.ScalarValue(u, "name")
		m[n] = append(m[n], u)
	}
	return m
}

// entrySpan is where the text of entry it of the users list starts and ends.
func (d *doc) entrySpan(it *yaml.Node) (start, end int, err error) {
	if err := yamledit.CheckPlain(it); err != nil {
		return 0, 0, err
	}
	_, seq := yamledit.MapGet(d.Root, "users")
	ind := 0
	if seq.Style&yaml.FlowStyle == 0 {
		ind = seq.Column - 1
	}
	end, err = d.End(it, ind)
	return d.Start(it), end, err
}

func (d *doc) entryText(it *yaml.Node) ([]byte, error) {
	s, e, err := d.entrySpan(it)
	if err != nil {
		return nil, err
	}
	return slices.Clone(d.Src[s:e]), nil
}

// Undo puts back, in the kubeconfig at path, the user entries that setup
// rewrote, as they were before, keeping everything else as it is now:
// contexts switched since, clusters and users added since. When the file
// is still exactly as setup left it, the whole original comes back, byte
// for byte. An entry edited since setup is left alone and reported. Every
// record of path is used, newest first; a record is removed once nothing
// in it is left to restore.
//
// With no record it returns ErrNothingToUndo without touching, or
// locking, anything.
func (l UndoLog) Undo(path string) (UndoResult, error) {
	var res UndoResult
	target, err := recordTarget(path)
	if err != nil {
		return res, err
	}
	names, err := l.records(target)
	if err != nil {
		return res, err
	}
	if len(names) == 0 {
		// A setup killed before its record was saved changed nothing, but
		// may have left its lock, which keeps kubectl from changing the
		// file, or the makings of one.
		removeStaleLockTemps(path + ".lock")
		if err := staleLock(path); err != nil {
			return res, fmt.Errorf("nothing to undo, but %w", err)
		}
		return res, fmt.Errorf("%s: %w: setup has not changed it (no record in %s)", path, ErrNothingToUndo, l.Dir)
	}
	recs := make([]*undoRecord, len(names))
	for i, n := range names {
		if recs[i], err = readRecord(n); err != nil {
			return res, err
		}
	}
	newest := recs[len(recs)-1]
	if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("%s was removed after setup wrote it; nothing restored. %s\nIf you removed it on purpose, forget what setup kept: rm %s",
			path, l.restoreAdvice(path, names[len(names)-1], newest), strings.Join(append(slices.Clone(names), exportPath(names[len(names)-1])), " "))
	}
	err = locked(path, func() error {
		l.removeStaleTemps(target)
		removeStaleTemps(target)
		cur, err := os.ReadFile(target)
		if err != nil {
			return err
		}
		out := cur
		var done []string
		for i := len(recs) - 1; i >= 0; i-- {
			next, r, err := undoRecordIn(out, recs[i])
			if err != nil {
				return fmt.Errorf("cannot put the users back into the file as it is now (%w); nothing restored. %s", err, l.restoreAdvice(path, names[i], recs[i]))
			}
			out = next
			res.Whole = res.Whole || r.Whole
			res.Restored = append(res.Restored, r.Restored...)
			res.Already = append(res.Already, r.Already...)
			res.Edited = append(res.Edited, r.Edited...)
			res.Missing = append(res.Missing, r.Missing...)
			if len(r.Edited)+len(r.Missing) == 0 {
				done = append(done, names[i])
			} else {
				res.Kept = append(res.Kept, names[i])
			}
		}
		if !bytes.Equal(out, cur) {
			st, err := os.Stat(target)
			if err != nil {
				return err
			}
			if err := replace(target, out, st.Mode().Perm(), st); err != nil {
				return err
			}
		}
		// Only now that the kubeconfig is back are the records dropped: a
		// crash before leaves records whose users read as already restored.
		for _, n := range done {
			if err := os.Remove(n); err != nil {
				return fmt.Errorf("remove used undo record: %w", err)
			}
			os.Remove(exportPath(n)) // a copy an earlier undo offered, if any
		}
		return syncDir(l.Dir)
	})
	return res, err
}

// restoreAdvice tells how to get the whole original back by hand, naming
// a copy only after checking that it holds a kubeconfig: never advise
// copying an empty or broken file over the user's kubeconfig.
func (l UndoLog) restoreAdvice(path, record string, rec *undoRecord) string {
	copyPath := exportPath(record)
	if err := exportOriginal(copyPath, rec.Original); err != nil {
		return fmt.Sprintf("The undo record %s holds the original, but it could not be saved as a file to copy (%v)", record, err)
	}
	return fmt.Sprintf("The whole file as it was before setup is in %s (checked: a kubeconfig, %d bytes); to go back to it and lose every change made since setup: cp %s %s", copyPath, len(rec.Original), copyPath, path)
}

// exportPath is where the original of record is copied for a person.
func exportPath(record string) string { return strings.TrimSuffix(record, ".json") + ".kubeconfig" }

// exportOriginal writes the original kubeconfig of a record to path,
// private, and reads it back to check it before anyone is told to copy it.
func exportOriginal(path string, original []byte) error {
	if len(bytes.TrimSpace(original)) == 0 {
		return errors.New("the recorded original is empty")
	}
	if _, err := parse(original); err != nil {
		return fmt.Errorf("the recorded original does not parse as a kubeconfig: %w", err)
	}
	if err := replace(path, original, 0o600, nil); err != nil {
		return err
	}
	back, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(back, original) {
		return errors.New("the copy does not read back as written")
	}
	return nil
}

// undoRecordIn puts the users of rec back into cur.
func undoRecordIn(cur []byte, rec *undoRecord) ([]byte, UndoResult, error) {
	var res UndoResult
	users := make([]string, len(rec.Users))
	for i, u := range rec.Users {
		users[i] = u.Name
	}
	if bytes.Equal(cur, rec.Written) {
		res.Whole, res.Restored = true, users
		return rec.Original, res, nil
	}
	if len(rec.Users) == 0 {
		// A record of `ekstoken discover`, which adds contexts rather than
		// rewrite users: only the whole original can be put back, and
		// only over the file as discover left it. Keeping the record and
		// saying so loses nothing.
		return nil, res, errors.New("the file was changed after `ekstoken discover` wrote it, and a discovery is undone only as a whole")
	}
	d, err := parse(cur)
	if err != nil {
		return nil, res, err
	}
	if d.Root == nil {
		return nil, res, errors.New("the file is empty now")
	}
	byName := d.usersByName()
	used := map[*yaml.Node]bool{}
	var edits []yamledit.Edit
	var restored []restoredEntry
	restyle := false
	for _, u := range rec.Users {
		var orig, written any // parsed only when the bytes do not tell
		value := func(v *any, text []byte) (any, error) {
			if *v == nil {
				n, err := entryValue(text, u.Column)
				if err != nil {
					return nil, fmt.Errorf("undo record, user %q: %w", u.Name, err)
				}
				*v = n
			}
			return *v, nil
		}
		var it *yaml.Node
		state := "missing"
		for _, e := range byName[u.Name] {
			if used[e] {
				continue
			}
			s, end, err := d.entrySpan(e)
			if err != nil {
				return nil, res, fmt.Errorf("user %q: %w", u.Name, err)
			}
			if bytes.Equal(d.Src[s:end], u.Written) {
				it, state = e, "written" // as setup left it, to the byte
				break
			}
			v := normalize(e)
			w, err := value(&written, u.Written)
			if err != nil {
				return nil, res, err
			}
			o, err := value(&orig, u.Original)
			if err != nil {
				return nil, res, err
			}
			switch {
			case reflect.DeepEqual(v, w):
				it, state = e, "written"
			case reflect.DeepEqual(v, o):
				it, state = e, "original"
			case state == "missing":
				state = "edited"
			}
			if it != nil {
				break
			}
		}
		switch state {
		case "missing":
			res.Missing = append(res.Missing, u.Name)
			continue
		case "edited":
			res.Edited = append(res.Edited, u.Name)
			continue
		case "original":
			used[it] = true
			res.Already = append(res.Already, u.Name)
			continue
		}
		used[it] = true
		s, e, err := d.entrySpan(it)
		if err != nil {
			return nil, res, fmt.Errorf("user %q: %w", u.Name, err)
		}
		text := yamledit.Reindent(u.Original, it.Column-1-u.Column)
		// A JSON entry back in a file that has become block YAML since
		// (update-kubeconfig writes a JSON file out as YAML) would read
		// right but look foreign: it is written in the file's style.
		restyle = restyle || bytes.HasPrefix(u.Original, []byte("{")) && it.Style&yaml.FlowStyle == 0
		edits = append(edits, yamledit.Replace(s, e, text))
		restored = append(restored, restoredEntry{u: u, it: it, text: text})
		res.Restored = append(res.Restored, u.Name)
	}
	if len(edits) == 0 {
		return cur, res, nil
	}
	out, err := yamledit.Apply(cur, edits)
	if err == nil {
		err = verifySplice(d, out, restored)
	}
	if err != nil || restyle {
		// The original text does not fit where the entry is now (a block
		// entry in a file kubectl or a person made JSON, say): write the
		// same values in the style of the file as it is now.
		out, err = rerender(d, restored)
	}
	if err != nil {
		return nil, res, err
	}
	return out, res, nil
}

type restoredEntry struct {
	u    undoUser
	it   *yaml.Node // the entry in the current file
	text string     // what replaces it
}

// rerender writes the original entries' values in the current file's own
// style, as Upsert writes new entries.
func rerender(d *doc, restored []restoredEntry) ([]byte, error) {
	var edits []yamledit.Edit
	_, seq := yamledit.MapGet(d.Root, "users")
	flow := seq.Style&yaml.FlowStyle != 0
	origs := map[*yaml.Node]any{}
	for _, r := range restored {
		n, err := entryNode(r.u.Original, r.u.Column)
		if err != nil {
			return nil, err
		}
		origs[r.it] = normalize(n)
		s, e, err := d.entrySpan(r.it)
		if err != nil {
			return nil, err
		}
		var text string
		if flow || r.it.Style&yaml.FlowStyle != 0 {
			colon, comma := d.FlowSpacing(d.Root)
			text = yamledit.JSON(n, colon, comma)
		} else {
			if n.Style&yaml.FlowStyle != 0 {
				n = plainCopy(n) // JSON's quotes are not YAML's style
			}
			text = yamledit.Emitter{Layout: d.DetectLayout(), NL: d.NL}.Node(n, r.it.Column-1)
		}
		edits = append(edits, yamledit.Replace(s, e, text))
	}
	out, err := yamledit.Apply(d.Src, edits)
	if err != nil {
		return nil, err
	}
	nd, err := parseResult(d, out)
	if err != nil {
		return nil, err
	}
	cur, got := d.userEntries(), nd.userEntries()
	for i, u := range got {
		want, ok := origs[cur[i]]
		if !ok {
			want = normalize(cur[i])
		}
		if !reflect.DeepEqual(normalize(u), want) {
			return nil, fmt.Errorf("%w: user entry %d differs from what was meant", ErrInPlace, i+1)
		}
	}
	return out, nil
}

// parseResult parses out, the current file d with some user entries
// replaced, and checks what must not have changed: the number of users
// and everything outside the users list.
func parseResult(d *doc, out []byte) (*doc, error) {
	nd, err := parse(out)
	if err != nil {
		return nil, fmt.Errorf("%w: the result does not parse: %w", ErrInPlace, err)
	}
	if nd.Root == nil {
		return nil, fmt.Errorf("%w: the result is empty", ErrInPlace)
	}
	if len(nd.userEntries()) != len(d.userEntries()) {
		return nil, fmt.Errorf("%w: the result has %d users, want %d", ErrInPlace, len(nd.userEntries()), len(d.userEntries()))
	}
	if !reflect.DeepEqual(withoutUsers(nd.Root), withoutUsers(d.Root)) {
		return nil, fmt.Errorf("%w: the result differs outside the users list", ErrInPlace)
	}
	return nd, nil
}

// verifySplice checks that out, parsed, holds every user entry exactly
// where and as it was spliced: the restored ones read as their original
// text, the others as they are now, each to the byte.
func verifySplice(d *doc, out []byte, restored []restoredEntry) error {
	nd, err := parseResult(d, out)
	if err != nil {
		return err
	}
	texts := make(map[*yaml.Node]string, len(restored))
	for _, r := range restored {
		texts[r.it] = r.text
	}
	cur, got := d.userEntries(), nd.userEntries()
	for i, u := range got {
		want, ok := texts[cur[i]]
		if !ok {
			s, e, err := d.entrySpan(cur[i])
			if err != nil {
				return err
			}
			want = string(d.Src[s:e])
		}
		s, e, err := nd.entrySpan(u)
		if err != nil {
			return err
		}
		if string(nd.Src[s:e]) != want {
			return fmt.Errorf("%w: user entry %d does not read as spliced", ErrInPlace, i+1)
		}
	}
	return nil
}

// withoutUsers is the meaning of everything in root but the users list.
func withoutUsers(root *yaml.Node) any {
	out := map[string]any{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "users" && !isZero(v) {
			out[k.Value] = normalize(v)
		}
	}
	return out
}

// entryNode parses the text of one user entry on its own. Its first line
// was cut at column col.
func entryNode(text []byte, col int) (*yaml.Node, error) {
	n, err := yamledit.ParseMapping(text, col)
	if err != nil {
		return nil, fmt.Errorf("not a user entry: %w", err)
	}
	return n, nil
}

func entryValue(text []byte, col int) (any, error) {
	n, err := entryNode(text, col)
	if err != nil {
		return nil, err
	}
	return normalize(n), nil
}

// normalize is the meaning of a node as kubectl reads it, so that an
// entry kubectl wrote back unchanged (`kubectl config use-context`
// rewrites the whole file) compares equal to the one setup wrote:
// scalars as their text, and keys whose value is empty, null or false
// dropped, since kubectl writes `env: null` and `provideClusterInfo:
// false` where the file said nothing.
func normalize(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return normalize(n.Content[0])
	case yaml.AliasNode:
		return normalize(n.Alias)
	case yaml.ScalarNode:
		if yamledit.IsNull(n) {
			return nil
		}
		return n.Value
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = normalize(c)
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if isZero(v) {
				continue
			}
			out[k.Value] = normalize(v)
		}
		return out
	}
	return nil
}

func isZero(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return isZero(n.Alias)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return yamledit.IsNull(n) || n.Value == "" || n.Tag == "!!bool" && strings.EqualFold(n.Value, "false")
	case yaml.SequenceNode, yaml.MappingNode:
		return len(n.Content) == 0
	}
	return false
}
