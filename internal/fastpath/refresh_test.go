package fastpath

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// starts records the background refreshes a hit asks for, and how much of
// the hit's output kubectl had by then.
type starts struct {
	locks       []string
	outAtStart  []int
	result      bool
	err         error
	servedBytes func() int
}

func (s *starts) start(lockPath string) (bool, error) {
	s.locks = append(s.locks, lockPath)
	s.outAtStart = append(s.outAtStart, s.servedBytes())
	return s.result, s.err
}

// serveRefreshing is serve with a StartRefresh recorder.
func (w *world) serveRefreshing(line string, st *starts) bool {
	w.t.Helper()
	w.out.Reset()
	w.err.Reset()
	st.servedBytes = w.out.Len
	served, err := Serve(Env{
		Args: strings.Fields(line), Getenv: w.getenv,
		Stdout: &w.out, Stderr: &w.err,
		Now: func() time.Time { return w.now }, Home: w.home,
		StartRefresh: st.start,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return served
}

func (w *world) identity() tokencache.Identity {
	return tokencache.NewIdentity(tokencache.Request{ClusterName: "prod", Region: "eu-west-1", SessionName: tokencache.DefaultSessionName},
		w.getenv, w.home)
}

func (w *world) store() cache.Store {
	return cache.Store{Dir: filepath.Join(w.home, ".kube", "cache", "ekstoken")}
}

// The cached token (signed at signedAt) is served until signedAt+14m with
// the default margin: with the default 5 min ahead, a hit from +9m starts
// a refresh.
func TestHitStartsRefreshWhenDue(t *testing.T) {
	const line = "token --cluster-name prod --region eu-west-1"
	backoff := func(key string, until time.Duration, needsPerson bool) func(*world) {
		return func(w *world) {
			if key == "" {
				key = w.identity().Key()
			}
			bo := tokencache.Backoff{Format: tokencache.BackoffFormat, Key: key, Failures: 2,
				Since: w.now.Add(-time.Minute), Until: w.now.Add(until), Message: "m", NeedsPerson: needsPerson}
			if err := w.store().Write(tokencache.BackoffName(w.identity().Key()), bo); err != nil {
				w.t.Fatal(err)
			}
		}
	}
	for name, tc := range map[string]struct {
		line      string
		at        time.Duration // after signedAt
		setup     func(*world)
		wantStart bool
	}{
		"fresh":                        {at: 5 * time.Minute},
		"just before the window":       {at: 9*time.Minute - time.Nanosecond},
		"window opens":                 {at: 9 * time.Minute, wantStart: true},
		"last second":                  {at: 14*time.Minute - time.Second, wantStart: true},
		"refresh-ahead 0":              {line: line + " --refresh-ahead 0", at: 14*time.Minute - time.Second},
		"refresh-ahead 0s":             {line: line + " --refresh-ahead=0s", at: 10 * time.Minute},
		"refresh-ahead 2m, early":      {line: line + " --refresh-ahead 2m", at: 11*time.Minute + 59*time.Second},
		"refresh-ahead 2m, due":        {line: line + " --refresh-ahead 2m", at: 12 * time.Minute, wantStart: true},
		"refresh-ahead 10m, capped":    {line: line + " --refresh-ahead=10m", at: 7*time.Minute - time.Second},
		"refresh-ahead 10m, due":       {line: line + " --refresh-ahead=10m", at: 7 * time.Minute, wantStart: true},
		"ahead capped by margin":       {line: line + " --refresh-margin 10m --refresh-ahead 10m", at: 2 * time.Minute},
		"ahead capped by margin, due":  {line: line + " --refresh-margin 10m --refresh-ahead 10m", at: 150 * time.Second, wantStart: true},
		"backoff in force":             {at: 10 * time.Minute, setup: backoff("", time.Minute, false)},
		"backoff needing a person":     {at: 10 * time.Minute, setup: backoff("", time.Minute, true)},
		"backoff over":                 {at: 10 * time.Minute, setup: backoff("", 0, false), wantStart: true},
		"backoff of another identity":  {at: 10 * time.Minute, setup: backoff("someone else", time.Minute, false), wantStart: true},
		"unreadable backoff":           {at: 10 * time.Minute, setup: corruptBackoff, wantStart: true},
		"drop-in form due":             {line: "--region eu-west-1 eks get-token --cluster-name prod --output json", at: 10 * time.Minute, wantStart: true},
		"drop-in form refresh-ahead 0": {line: "--region eu-west-1 eks get-token --cluster-name prod --refresh-ahead 0", at: 10 * time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.now = signedAt.Add(tc.at)
			if tc.setup != nil {
				tc.setup(w)
			}
			l := tc.line
			if l == "" {
				l = line
			}
			st := &starts{result: true}
			if !w.serveRefreshing(l, st) {
				t.Fatalf("%q at +%v: not served", l, tc.at)
			}
			if !tc.wantStart {
				if len(st.locks) != 0 {
					t.Errorf("%q at +%v started a refresh: %q", l, tc.at, st.locks)
				}
				return
			}
			want := filepath.Join(w.store().Dir, w.identity().Name()+".lock")
			if len(st.locks) != 1 || st.locks[0] != want {
				t.Fatalf("%q at +%v: refreshes started %q, want one on %q", l, tc.at, st.locks, want)
			}
			if st.outAtStart[0] == 0 || st.outAtStart[0] != w.out.Len() {
				t.Errorf("the refresh started with %d of the %d bytes of the ExecCredential written", st.outAtStart[0], w.out.Len())
			}
		})
	}
}

func corruptBackoff(w *world) {
	if err := w.store().Write(tokencache.BackoffName(w.identity().Key()), map[string]any{"format": tokencache.BackoffFormat, "until": 1}); err != nil {
		w.t.Fatal(err)
	}
}

// A refresh that cannot start, or is already under way, costs the hit
// nothing: the token is served, nothing is said, no error.
func TestHitServesWhateverStartRefreshSays(t *testing.T) {
	for _, st := range []*starts{{result: false}, {result: false, err: errors.New("fork: resource temporarily unavailable")}} {
		w := newWorld(t)
		w.now = signedAt.Add(10 * time.Minute)
		if !w.serveRefreshing("token --cluster-name prod --region eu-west-1", st) {
			t.Fatal("not served")
		}
		if len(st.locks) != 1 || !strings.Contains(w.out.String(), `"token":"`+fakeToken()) || w.err.Len() != 0 {
			t.Errorf("StartRefresh = %v, %v: %d starts, stdout %q, stderr %q", st.result, st.err, len(st.locks), w.out.String(), w.err.String())
		}
	}
}

// --refresh-ahead is parsed as cobra parses it, and values cobra's
// validation refuses are declined to the full program, which says why.
func TestParseRefreshAhead(t *testing.T) {
	for _, tc := range []struct {
		args string
		want time.Duration
	}{
		{"", tokencache.DefaultRefreshAhead},
		{"--refresh-ahead 0", 0},
		{"--refresh-ahead 90s", 90 * time.Second},
		{"--refresh-ahead=1m30s", 90 * time.Second},
		{"--refresh-ahead 7m", 7 * time.Minute},
		{"--refresh-ahead 10m", 7 * time.Minute},
		// At most half a token's served life with the margin in force.
		{"--refresh-margin 10m", 150 * time.Second},
		{"--refresh-margin 13m --refresh-ahead 10m", time.Minute},
		{"--refresh-margin 0s --refresh-ahead 10m", 7*time.Minute + 30*time.Second},
	} {
		line := "token --cluster-name a " + tc.args
		r, ok := Parse(strings.Fields(line))
		if !ok {
			t.Errorf("Parse(%q) declined", line)
			continue
		}
		if r.RefreshAhead != tc.want {
			t.Errorf("Parse(%q).RefreshAhead = %v, want %v", line, r.RefreshAhead, tc.want)
		}
	}
	for _, args := range []string{
		"--refresh-ahead", "--refresh-ahead x", "--refresh-ahead 5", "--refresh-ahead -1s", "--refresh-ahead=-1ns",
		"--refresh-ahead 10m1s", "--refresh-ahead 1h", "--refresh-ahead 1m --refresh-ahead 2m",
		"--refresh-margin 14m --refresh-ahead 1m", "--refresh-margin -1s",
		"--background", "--background --refresh-ahead 1m",
	} {
		line := "token --cluster-name a " + args
		if r, ok := Parse(strings.Fields(line)); ok {
			t.Errorf("Parse(%q) = %+v, want a decline", line, r)
		}
	}
}
