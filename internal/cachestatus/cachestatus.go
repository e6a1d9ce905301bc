// Package cachestatus lists and clears what ekstoken keeps in its cache:
// tokens and the expiring credentials that signed them. It reads only the
// metadata of credential entries, never their secret keys.
//
// The cache directory may be shared with other programs (EKSTOKEN_CACHE_DIR
// pointed at ~/.aws/sso/cache, --cache-dir at a project), so a file counts
// as ekstoken's only when its name has ekstoken's pattern, it is a regular
// file of the user's, and it says it holds one of ekstoken's formats.
// Nothing else is listed or removed.
package cachestatus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/execcache"
	"github.com/ekstoken/ekstoken/internal/gettoken"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// Kinds of entries.
const (
	KindToken       = "token"
	KindCredentials = "credentials"
	// KindBackoff is a backoff record whose identity has no cached token.
	KindBackoff = "backoff"
	// KindExec is the credential of a plugin that `ekstoken exec` wraps.
	KindExec       = "exec"
	KindUnreadable = "unreadable"
)

// Item describes one cache entry without any secret.
type Item struct {
	Kind        string `json:"kind"`
	Cluster     string `json:"cluster,omitempty"`
	Region      string `json:"region,omitempty"`
	Profile     string `json:"profile,omitempty"`
	RoleARN     string `json:"roleArn,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	Source      string `json:"credentialSource,omitempty"`
	// Command is, for an exec entry, the plugin that answered it.
	Command string `json:"command,omitempty"`
	// Expires is when ekstoken stops serving the entry (with the default
	// refresh margin): for a token, its reported expirationTimestamp; for
	// credentials, their expiry less the margin and the window that keeps
	// a token signed with them alive.
	Expires time.Time `json:"expires,omitzero"`
	// CredentialsExpire is when cached credentials themselves expire.
	CredentialsExpire time.Time `json:"credentialsExpire,omitzero"`
	// ExpiresIn is Expires less now, in whole seconds; negative once past.
	ExpiresIn int64 `json:"expiresInSeconds"`
	// CappedByCredentials: the signing credentials end before the 15
	// minutes STS gives a token.
	CappedByCredentials bool `json:"cappedByCredentials,omitempty"`
	// RefreshFrom is, for a token, when a hit starts its background
	// refresh (with the default --refresh-ahead).
	RefreshFrom time.Time `json:"refreshFrom,omitzero"`
	// Backoff is the backoff in force for the token's identity, if any.
	Backoff *Backoff `json:"backoff,omitempty"`
	File    string   `json:"file"`
	Error   string   `json:"error,omitempty"`

	name string
	// key is a token's identity Key: its backoff record counts only when
	// it is that identity's, as on the token path.
	key string
	// backoffName is the entry's backoff record, removed with it.
	backoffName string
}

// Backoff is a backoff in force: until when no background refresh starts
// and, when NeedsPerson, runs without a terminal fail at once with Message.
type Backoff struct {
	Until       time.Time `json:"until"`
	Failures    int       `json:"failures"`
	NeedsPerson bool      `json:"needsPerson,omitempty"`
	Message     string    `json:"message"`
}

// formats are the entry formats ekstoken writes and wrote, by kind.
// Entries of older versions are ekstoken's too: listed, and removed by
// clear.
var formats = map[string]string{
	tokencache.EntryFormat:    KindToken,
	tokencache.BackoffFormat:  KindBackoff,
	"ekstoken/token/v1":       KindToken,
	awsauth.CredentialsFormat: KindCredentials,
	"ekstoken/credentials/v1": KindCredentials,
	execcache.EntryFormat:     KindExec,
}

// SourceEnvironmentKeys is the source of tokens signed with keys from the
// environment, which belong to no profile.
const SourceEnvironmentKeys = gettoken.SourceEnvironmentKeys

// List reads every entry of ekstoken's in the store.
func List(s cache.Store, now time.Time) ([]Item, error) {
	names, err := s.Names()
	if err != nil {
		return nil, err
	}
	items := make([]Item, 0, len(names))
	backoffs := map[string]tokencache.Backoff{}
	for _, name := range names {
		format, err := s.Probe(name)
		if err != nil || formats[format] == "" {
			continue // not ekstoken's: not ours to show or remove
		}
		if format == tokencache.BackoffFormat {
			b, err := s.ReadBytes(name)
			var bo tokencache.Backoff
			if err == nil {
				bo, err = tokencache.ParseBackoff(b)
			}
			if err == nil {
				backoffs[name] = bo
				continue
			}
			items = append(items, Item{Kind: KindUnreadable, File: s.Path(name), Error: "backoff record: " + err.Error(), name: name})
			continue
		}
		items = append(items, describe(s, name, format, now))
	}
	// A backoff record goes with its identity's token entry (the same
	// hash); one without a token is an item of its own.
	for i := range items {
		hash, ok := strings.CutPrefix(items[i].name, KindToken+"-")
		if !ok {
			continue
		}
		name := KindBackoff + "-" + hash
		bo, ok := backoffs[name]
		if !ok {
			continue
		}
		delete(backoffs, name)
		items[i].backoffName = name
		if !bo.InForce(items[i].key, now) {
			continue
		}
		items[i].Backoff = &Backoff{Until: bo.End(), Failures: bo.Failures, NeedsPerson: bo.NeedsPerson, Message: bo.Message}
	}
	for _, name := range slices.Sorted(maps.Keys(backoffs)) {
		bo := backoffs[name]
		it := Item{Kind: KindBackoff, Cluster: bo.Cluster, Region: bo.Region, Profile: bo.Profile, File: s.Path(name), name: name,
			Expires: bo.End(), ExpiresIn: int64(bo.End().Sub(now) / time.Second)}
		if bo.InForce(bo.Key, now) {
			it.Backoff = &Backoff{Until: bo.End(), Failures: bo.Failures, NeedsPerson: bo.NeedsPerson, Message: bo.Message}
		}
		items = append(items, it)
	}
	return items, nil
}

func describe(s cache.Store, name, format string, now time.Time) Item {
	it := Item{File: s.Path(name), name: name}
	switch format {
	case tokencache.EntryFormat:
		var e tokencache.Entry
		if err := s.Read(name, &e); err != nil {
			it.Kind, it.Error = KindUnreadable, err.Error()
			return it
		}
		life, err := e.Lifetime()
		if err != nil {
			it.Kind, it.Error = KindUnreadable, err.Error()
			return it
		}
		it.Kind, it.key = KindToken, e.Key
		it.Cluster, it.Region, it.Profile, it.RoleARN = e.Cluster, e.Region, e.Profile, e.RoleARN
		it.AccessKeyID, it.Source = e.AccessKeyID, e.CredentialSource
		it.Expires, it.CappedByCredentials = life.ServeUntil(tokencache.DefaultMargin), life.CappedByCredentials
		it.RefreshFrom = it.Expires.Add(-tokencache.DefaultRefreshAhead)
	case awsauth.CredentialsFormat:
		// The secret key and the session token are read with the rest but
		// never copied into the Item: they are neither kept nor printed.
		var m awsauth.CredentialsEntry
		if err := s.Read(name, &m); err != nil {
			it.Kind, it.Error = KindUnreadable, err.Error()
			return it
		}
		it.Kind = KindCredentials
		it.Profile, it.RoleARN, it.AccessKeyID, it.Source = m.Profile, m.RoleARN, m.AccessKeyID, m.Source
		it.CredentialsExpire = m.Expires
		it.Expires = gettoken.CredentialsServedUntil(m.Expires, tokencache.DefaultMargin, tokencache.DefaultRefreshAhead)
	case execcache.EntryFormat:
		// The token, certificate and key are read but never copied.
		b, err := s.ReadBytes(name)
		var e execcache.Entry
		if err == nil {
			e, err = execcache.ParseEntry(b)
		}
		if err != nil {
			it.Kind, it.Error = KindUnreadable, err.Error()
			return it
		}
		it.Kind, it.Command = KindExec, e.Command
		it.Expires = e.Expires.Add(-execcache.DefaultMargin)
	default:
		it.Kind, it.Error = KindUnreadable, fmt.Sprintf("format %q of an older ekstoken: replaced on next use", format)
		return it
	}
	it.ExpiresIn = int64(it.Expires.Sub(now) / time.Second)
	return it
}

// Filter selects entries for `ekstoken clear`. Empty fields match all.
type Filter struct {
	Cluster, Profile, Region string
}

// Matches reports whether the filter selects it. Credentials belong to a
// profile, not a cluster or region: a cluster or region filter leaves them.
func (f Filter) Matches(it Item) bool {
	if it.Kind == KindCredentials && (f.Cluster != "" || f.Region != "") {
		return false
	}
	return (f.Cluster == "" || f.Cluster == it.Cluster) &&
		(f.Profile == "" || f.Profile == it.Profile) &&
		(f.Region == "" || f.Region == it.Region)
}

// Cleared is what Clear did.
type Cleared struct {
	// Removed counts removed entries.
	Removed int
	// KeptCredentials counts credential entries a cluster or region filter
	// left: every cluster of a profile shares them.
	KeptCredentials int
	// Temps and Locks count removed leftovers: temp files of crashed writers
	// and lock files nobody held.
	Temps, Locks int
}

// Clear removes the entries the filter selects, unreadable ones of
// ekstoken's included when there is no filter, then every temp file of
// ekstoken's (a crashed writer's holds a secret) and the lock files nobody
// holds. It refuses a directory that others can write, where
// a file could be swapped between the check and the removal.
func Clear(s cache.Store, f Filter, now time.Time) (Cleared, error) {
	var c Cleared
	if err := s.CheckDir(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c, nil
		}
		return c, fmt.Errorf("nothing removed: %w", err)
	}
	items, err := List(s, now)
	if err != nil {
		return c, err
	}
	for _, it := range items {
		if it.Kind == KindUnreadable && f != (Filter{}) {
			continue
		}
		if it.Kind != KindUnreadable && !f.Matches(it) {
			if it.Kind == KindCredentials {
				c.KeptCredentials++
			}
			continue
		}
		if err := s.Remove(it.name); err != nil {
			return c, err
		}
		if it.backoffName != "" {
			if err := s.Remove(it.backoffName); err != nil {
				return c, err
			}
		}
		c.Removed++
	}
	if c.Temps, err = s.RemoveTemps(); err != nil {
		return c, err
	}
	if c.Locks, err = s.RemoveStaleLocks(); err != nil {
		return c, err
	}
	return c, nil
}

// WriteTable prints items for people.
func WriteTable(w io.Writer, items []Item, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCLUSTER\tREGION\tPROFILE / ROLE\tKEY ID\tEXPIRES IN\tCAPPED BY CREDENTIALS\tBACKGROUND REFRESH\tFILE")
	for _, it := range items {
		if it.Kind == KindUnreadable {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t%s (%s)\n", it.Kind, printable(it.File), printable(it.Error))
			continue
		}
		// What an entry says came from a command line or a file: a name
		// with escape sequences or newlines must not drive the terminal.
		it.Cluster, it.Region, it.Profile, it.RoleARN, it.AccessKeyID, it.File =
			printable(it.Cluster), printable(it.Region), printable(it.Profile), printable(it.RoleARN), printable(it.AccessKeyID), printable(it.File)
		who := dash(it.Profile)
		if it.Source == SourceEnvironmentKeys {
			who = "(" + SourceEnvironmentKeys + ")"
		}
		if it.RoleARN != "" {
			who += " / " + it.RoleARN
		}
		if it.Kind == KindExec {
			who = printable(it.Command)
		}
		capped := "-"
		if it.Kind == KindToken {
			capped = map[bool]string{true: "yes", false: "no"}[it.CappedByCredentials]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Kind, dash(it.Cluster), dash(it.Region), who,
			dash(it.AccessKeyID), expiresIn(it.ExpiresIn), capped, refreshText(it, now), it.File)
	}
	return tw.Flush()
}

// refreshText says when a hit starts the entry's background refresh, or
// the backoff that holds it off.
func refreshText(it Item, now time.Time) string {
	switch {
	case it.Backoff != nil:
		why := fmt.Sprintf("failed %d times", it.Backoff.Failures)
		switch {
		case it.Backoff.NeedsPerson:
			why = "needs a person"
		case it.Backoff.Failures == 0:
			why = "credentials end"
		}
		return "backing off until " + it.Backoff.Until.Local().Format(time.TimeOnly) + ": " + why
	case it.Kind == KindBackoff:
		return "backoff over"
	case it.Kind != KindToken || it.RefreshFrom.IsZero():
		return "-"
	case !now.Before(it.Expires):
		return "-"
	case !now.Before(it.RefreshFrom):
		return "due (next hit)"
	}
	return "in " + expiresIn(int64(it.RefreshFrom.Sub(now)/time.Second))
}

// printable is s, or s quoted as Go quotes strings when it holds anything
// a terminal would act on rather than show (control characters, escape
// sequences, tabs that would break the table).
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// WriteJSON prints items for scripts.
func WriteJSON(w io.Writer, items []Item) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(items)
}

// expiresIn prints whole seconds the way people read them: "50s",
// "13m20s", "12m" rather than "12m0s", "1h" rather than "1h0m0s".
func expiresIn(s int64) string {
	if s <= 0 {
		return "expired"
	}
	out := (time.Duration(s) * time.Second).String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
