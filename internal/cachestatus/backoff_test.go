package cachestatus

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/google/go-cmp/cmp"
)

// Backoff records with the same hash as the token entries of fill, and
// one whose identity has no token.
const (
	boA      = "backoff-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	boB      = "backoff-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	boOrphan = "backoff-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	boOver   = "backoff-ffffffffffffffffffffffffffffffffffffffff"
)

var now = signedAt.Add(2 * time.Minute)

// fillBackoffs is fill with a backoff in force for tokA, one over for tokB,
// one in force with no token, and one over with no token.
func fillBackoffs(t *testing.T) cache.Store {
	t.Helper()
	s := fill(t)
	// A token's record holds its identity's Key, as the token entry does
	// (fill's tokens are both of key "k").
	for name, bo := range map[string]tokencache.Backoff{
		boA: {Key: "k", Failures: 2, Since: now.Add(-time.Minute), Until: now.Add(time.Minute), Message: "run aws sso login --profile admin",
			NeedsPerson: true, Cluster: "prod", Region: "eu-west-1", Profile: "admin"},
		boB: {Key: "k", Failures: 1, Since: now.Add(-time.Hour), Until: now.Add(-time.Minute), Message: "dial tcp: refused",
			Cluster: "dev", Region: "us-east-1"},
		boOrphan: {Key: "ke", Failures: 4, Since: now.Add(-time.Minute), Until: now.Add(4 * time.Minute), Message: "AccessDenied",
			Cluster: "staging", Region: "eu-central-1", Profile: "ops"},
		boOver: {Key: "kf", Failures: 1, Since: now.Add(-time.Hour), Until: now.Add(-30 * time.Minute), Message: "old",
			Cluster: "gone", Region: "eu-west-1", Profile: "ops"},
	} {
		bo.Format = tokencache.BackoffFormat
		if err := s.Write(name, bo); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func byFile(items []Item, name string) (Item, bool) {
	for _, it := range items {
		if strings.HasSuffix(it.File, "/"+name+".json") || strings.HasSuffix(it.File, `\`+name+".json") {
			return it, true
		}
	}
	return Item{}, false
}

func TestListAttachesBackoffs(t *testing.T) {
	s := fillBackoffs(t)
	items, err := List(s, now)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := byFile(items, tokA)
	want := &Backoff{Until: now.Add(time.Minute), Failures: 2, NeedsPerson: true, Message: "run aws sso login --profile admin"}
	if diff := cmp.Diff(want, a.Backoff); diff != "" {
		t.Errorf("token A's backoff (-want +got):\n%s", diff)
	}
	if b, _ := byFile(items, tokB); b.Backoff != nil {
		t.Errorf("token B shows a backoff that is over: %+v", b.Backoff)
	}
	// A token's record is shown with it, not as an item of its own.
	for _, n := range []string{boA, boB} {
		if it, ok := byFile(items, n); ok {
			t.Errorf("%s listed apart from its token: %+v", n, it)
		}
	}
	orphan, ok := byFile(items, boOrphan)
	if !ok {
		t.Fatalf("the backoff without a token is not listed: %+v", items)
	}
	wantOrphan := Item{Kind: KindBackoff, Cluster: "staging", Region: "eu-central-1", Profile: "ops",
		Expires: now.Add(4 * time.Minute), ExpiresIn: 240, File: s.Path(boOrphan),
		Backoff: &Backoff{Until: now.Add(4 * time.Minute), Failures: 4, Message: "AccessDenied"}}
	if diff := cmp.Diff(wantOrphan, orphan, cmp.AllowUnexported(Item{}), ignoreNames); diff != "" {
		t.Errorf("backoff without token (-want +got):\n%s", diff)
	}
	over, ok := byFile(items, boOver)
	if !ok || over.Kind != KindBackoff || over.Backoff != nil {
		t.Errorf("a backoff that is over, without token: %+v, %v", over, ok)
	}
	// Tokens say when a hit starts their refresh: the default
	// --refresh-ahead before they stop being served.
	for _, it := range items {
		switch {
		case it.Kind == KindToken && !it.RefreshFrom.Equal(it.Expires.Add(-tokencache.DefaultRefreshAhead)):
			t.Errorf("%s: refresh from %v, served until %v", it.File, it.RefreshFrom, it.Expires)
		case it.Kind != KindToken && !it.RefreshFrom.IsZero():
			t.Errorf("%s (%s) has a refresh time", it.File, it.Kind)
		}
	}
}

var ignoreNames = cmp.FilterPath(func(p cmp.Path) bool {
	f, ok := p.Last().(cmp.StructField)
	return ok && (f.Name() == "name" || f.Name() == "backoffName")
}, cmp.Ignore())

// A backoff whose identity key is not its token's, or whose format is not
// ekstoken's backoff, is not shown as in force.
func TestListIgnoresForeignBackoffs(t *testing.T) {
	s := fill(t)
	if err := s.Write(boA, map[string]any{"format": tokencache.BackoffFormat, "key": "", "failures": 1,
		"since": now.Add(-time.Minute), "until": now.Add(time.Minute), "message": "m"}); err != nil {
		t.Fatal(err)
	}
	items, err := List(s, now)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := byFile(items, tokA); a.Backoff != nil {
		t.Errorf("a record without identity shown in force: %+v", a.Backoff)
	}
}

// A backoff record of ekstoken's that does not parse is listed as
// unreadable, saying so, and a bare clear removes it.
func TestListShowsBrokenBackoffs(t *testing.T) {
	s := fill(t)
	if err := s.Write(boA, map[string]any{"format": tokencache.BackoffFormat, "failures": "three"}); err != nil {
		t.Fatal(err)
	}
	items, err := List(s, now)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range items {
		if it.File == s.Path(boA) {
			found = true
			if it.Kind != KindUnreadable || !strings.HasPrefix(it.Error, "backoff record: ") {
				t.Errorf("a broken backoff record is listed as %+v", it)
			}
		}
	}
	if !found {
		t.Fatal("a broken backoff record is not listed")
	}
	if _, err := Clear(s, Filter{}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadBytes(boA); err == nil {
		t.Error("clear left the broken backoff record")
	}
}

func TestClearTakesBackoffsWithTheirTokens(t *testing.T) {
	for _, tt := range []struct {
		name        string
		filter      Filter
		left        []string
		wantRemoved int
	}{
		{"everything", Filter{}, nil, 6},
		{"one cluster", Filter{Cluster: "prod"}, []string{boB, boOrphan, boOver, credC, tokB, tokBad}, 1},
		{"a region", Filter{Region: "us-east-1"}, []string{boA, boOrphan, boOver, credC, tokA, tokBad}, 1},
		{"a profile", Filter{Profile: "ops"}, []string{boA, boB, credC, tokA, tokB, tokBad}, 2},
		{"the cluster of a backoff without token", Filter{Cluster: "staging"}, []string{boA, boB, boOver, credC, tokA, tokB, tokBad}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := fillBackoffs(t)
			res, err := Clear(s, tt.filter, now)
			if err != nil {
				t.Fatal(err)
			}
			left, _ := s.Names()
			if diff := cmp.Diff(tt.left, left); diff != "" {
				t.Errorf("left (-want +got):\n%s", diff)
			}
			if res.Removed != tt.wantRemoved {
				t.Errorf("removed %d, want %d", res.Removed, tt.wantRemoved)
			}
		})
	}
}

func TestJSONShowsRefreshAndBackoff(t *testing.T) {
	s := fillBackoffs(t)
	items, err := List(s, now)
	if err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, items); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, it := range got {
		f, _ := it["file"].(string)
		for _, n := range []string{tokA, tokB, credC, boOrphan, boOver} {
			if strings.HasSuffix(f, n+".json") {
				byName[n] = it
			}
		}
	}
	a := byName[tokA]
	if a["refreshFrom"] != signedAt.Add(4*time.Minute).Format(time.RFC3339) {
		t.Errorf("token A refreshFrom %v, want the 5 min before its served end (capped at +9m)", a["refreshFrom"])
	}
	wantBackoff := map[string]any{"until": now.Add(time.Minute).Format(time.RFC3339), "failures": 2.0, "needsPerson": true,
		"message": "run aws sso login --profile admin"}
	if diff := cmp.Diff(wantBackoff, a["backoff"]); diff != "" {
		t.Errorf("token A's backoff in JSON (-want +got):\n%s", diff)
	}
	if _, ok := byName[tokB]["backoff"]; ok {
		t.Errorf("token B's JSON has a backoff that is over: %v", byName[tokB])
	}
	c := byName[credC]
	if _, ok := c["refreshFrom"]; ok {
		t.Errorf("credentials have a refreshFrom: %v", c)
	}
	if _, ok := c["backoff"]; ok {
		t.Errorf("credentials have a backoff: %v", c)
	}
	if o := byName[boOrphan]; o["kind"] != KindBackoff || o["backoff"] == nil || o["cluster"] != "staging" {
		t.Errorf("backoff without token in JSON: %v", o)
	}
}

// The table says when a backoff without a token is over, and what holds
// a token's refresh off.
func TestTableShowsBackoffs(t *testing.T) {
	s := fillBackoffs(t)
	items, err := List(s, now)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, items, now); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		tokA:     "backing off until " + now.Add(time.Minute).Local().Format(time.TimeOnly) + ": needs a person",
		boOrphan: "backing off until " + now.Add(4*time.Minute).Local().Format(time.TimeOnly) + ": failed 4 times",
		boOver:   "backoff over",
		tokB:     "in 7m", // served until +14m, refresh from +9m, now +2m
	} {
		var line string
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.Contains(l, name) {
				line = l
			}
		}
		if !strings.Contains(line, want) {
			t.Errorf("%s: line %q does not say %q", name, line, want)
		}
	}
}
