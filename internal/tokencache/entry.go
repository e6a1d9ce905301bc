// Package tokencache decides which cache entry serves a token request and
// whether it is still fresh. It imports only light standard-library
// packages and internal/entryfile: it is all of the cache-hit path, and
// must stay cheap to link and to start (see internal/fastpath).
package tokencache

import (
	"errors"
	"os"
	"time"

	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/jsonlite"
	"github.com/ekstoken/ekstoken/internal/token"
)

// EntryFormat marks ekstoken's token entries; anything else in the cache
// directory is foreign and read as a miss. v2 entries hold their identity's
// key; v1 entries, which did not, are misses.
const EntryFormat = "ekstoken/token/v2"

// NewEntry starts an entry for tok, signed for the identity whose Key is key.
func NewEntry(key, tok string) Entry { return Entry{Format: EntryFormat, Key: key, Token: tok} }

// DefaultMargin is --refresh-margin's default: stop serving a token 60 s
// before its end, which makes the reported expiry signing time + 14 min, as
// the aws CLI reports it.
const DefaultMargin = time.Minute

// MaxMargin bounds --refresh-margin: a token lives 15 min at most.
const MaxMargin = 14 * time.Minute

// DefaultSessionName is the role session name `aws eks get-token --role-arn`
// uses (docs/token.md#role-session-name); audit logs show it.
const DefaultSessionName = "EKSGetTokenAuth"

// maxFutureSkew is how far in the future a cached token's signing time may
// be before the entry is distrusted. More than that means the clock was set
// back since it was signed; STS judges such a token by a clock we no longer
// agree with, so ekstoken signs a new one.
const maxFutureSkew = time.Minute

// Entry is one cached token. Only the token is secret; the rest is metadata
// for `ekstoken status`, never a secret key.
type Entry struct {
	Format string `json:"format"`
	// Key is Identity.Key of the request the token was signed for, secrets
	// as digests only. A hit compares it with the asking request's, byte
	// for byte: the file name is only an index.
	Key   string `json:"key"`
	Token string `json:"token"`
	// CredentialsExpire is when the signing credentials expire, zero when
	// they do not (long-term keys). The token dies with them
	// (aws-iam-authenticator #401, #590).
	CredentialsExpire time.Time `json:"credentialsExpire,omitzero"`

	Cluster          string `json:"cluster"`
	Region           string `json:"region"`
	Profile          string `json:"profile,omitempty"`
	RoleARN          string `json:"roleArn,omitempty"`
	AccessKeyID      string `json:"accessKeyId"`
	CredentialSource string `json:"credentialSource,omitempty"`
	// SSOTokenFile is, for a token signed with SSO role credentials, the
	// SSO access token file they were got with. `aws sso logout` removes
	// it, and the token is not served after that.
	SSOTokenFile string `json:"ssoTokenFile,omitempty"`
}

// checkToken compares what the token says about itself with the request:
// the region it was signed for, and with keys from the environment, the
// key that signed it. The cluster name is a signed header, not readable
// from the token: the stored key stands for it.
func (e Entry) checkToken(c token.Claims, id Identity) string {
	entryRegion, _ := token.SigningRegion(e.Region)
	asked, _ := token.SigningRegion(id.Region)
	switch {
	case c.Region == "" || c.Region != entryRegion:
		return "token signed for region \"" + c.Region + "\", entry says \"" + e.Region + "\""
	case id.Region != "" && c.Region != asked:
		return "token signed for region \"" + c.Region + "\", not \"" + id.Region + "\""
	case id.EnvKeys() && c.AccessKeyID != id.AccessKeyID:
		return "token signed with another key than the environment's"
	}
	return ""
}

// Lifetime is when an entry's token stops working, and why.
type Lifetime struct {
	SignedAt time.Time
	// End is min(signing time + 15 min, credential expiry): STS refuses the
	// token after either.
	End time.Time
	// CappedByCredentials says the credentials, not STS, set End.
	CappedByCredentials bool
}

// Lifetime reads the signing time from the token itself, never from a
// stored field, so a tampered or foreign entry cannot extend it.
func (e Entry) Lifetime() (Lifetime, error) {
	_, l, err := e.claims()
	return l, err
}

// claims reads the token once, for its lifetime and for checkToken.
func (e Entry) claims() (token.Claims, Lifetime, error) {
	if e.Format != EntryFormat {
		return token.Claims{}, Lifetime{}, errors.New("unknown entry format \"" + e.Format + "\"")
	}
	c, err := token.Parse(e.Token)
	if err != nil {
		return token.Claims{}, Lifetime{}, err
	}
	l := Lifetime{SignedAt: c.SignedAt, End: c.Expires()}
	if !e.CredentialsExpire.IsZero() && e.CredentialsExpire.Before(l.End) {
		l.End, l.CappedByCredentials = e.CredentialsExpire, true
	}
	return c, l, nil
}

// ServeUntil is the expiry ekstoken reports to kubectl and the moment it
// stops serving the token from cache: the end of its life less the margin.
// With the default margin of 60 s this is signing time + 14 min, what the aws
// CLI reports.
func (l Lifetime) ServeUntil(margin time.Duration) time.Time { return l.End.Add(-margin) }

// Fresh says whether a cached token may be served at now.
func (l Lifetime) Fresh(now time.Time, margin time.Duration) (bool, string) {
	switch {
	case l.SignedAt.After(now.Add(maxFutureSkew)):
		return false, "signed " + l.SignedAt.Sub(now).Round(time.Second).String() + " in the future: the clock moved back"
	case !now.Before(l.ServeUntil(margin)):
		return false, "expired"
	}
	return true, ""
}

// Reader reads cache entries: cache.Store on the full path, entryfile.Dir
// on the hit path.
type Reader interface {
	ReadBytes(name string) ([]byte, error)
}

// ParseEntry decodes an entry as json.Unmarshal into Entry does, for the
// entries ekstoken writes (FuzzParseEntryAgreesWithEncodingJSON), without
// reflection: both paths read entries with it. Keys are matched exactly, as
// ekstoken writes them.
func ParseEntry(b []byte) (Entry, error) {
	v, err := jsonlite.Parse(b)
	if err != nil {
		return Entry{}, err
	}
	var e Entry
	if v.Kind == jsonlite.Null {
		return e, nil
	}
	if v.Kind != jsonlite.Object {
		return Entry{}, errors.New("cache entry is not a JSON object")
	}
	for _, f := range []struct {
		key string
		to  *string
	}{
		{"format", &e.Format}, {"key", &e.Key}, {"token", &e.Token},
		{"cluster", &e.Cluster}, {"region", &e.Region}, {"profile", &e.Profile}, {"roleArn", &e.RoleARN},
		{"accessKeyId", &e.AccessKeyID}, {"credentialSource", &e.CredentialSource}, {"ssoTokenFile", &e.SSOTokenFile},
	} {
		m, ok := v.Get(f.key)
		switch {
		case !ok || m.Kind == jsonlite.Null:
		case m.Kind == jsonlite.String:
			*f.to = m.Str
		default:
			return Entry{}, errors.New("cache entry field " + f.key + " is not a string")
		}
	}
	if m, ok := v.Get("credentialsExpire"); ok && m.Kind != jsonlite.Null {
		if m.Kind != jsonlite.String {
			return Entry{}, errors.New("cache entry field credentialsExpire is not a string")
		}
		t, err := time.Parse(time.RFC3339Nano, m.Str)
		if err != nil {
			return Entry{}, errors.New("cache entry field credentialsExpire: " + err.Error())
		}
		e.CredentialsExpire = t
	}
	return e, nil
}

// Lookup returns the cached credential of id if it is fresh at now. Every
// problem with the entry is a miss, whose reason is returned for the debug
// log: an entry stored for another identity (copied or renamed under this
// name, or a name collision) included.
func Lookup(r Reader, id Identity, now time.Time, margin time.Duration) (execcred.Credential, string, bool) {
	key := id.Key()
	b, err := r.ReadBytes(TokenName(key))
	if err != nil {
		if errors.Is(err, entryfile.ErrNotFound) {
			return execcred.Credential{}, "no entry", false
		}
		return execcred.Credential{}, err.Error(), false
	}
	e, err := ParseEntry(b)
	if err != nil {
		return execcred.Credential{}, "decode cache entry: " + err.Error(), false
	}
	if e.Format == EntryFormat && e.Key != key {
		return execcred.Credential{}, "entry belongs to another identity", false
	}
	claims, life, err := e.claims()
	if err != nil {
		return execcred.Credential{}, err.Error(), false
	}
	if why := e.checkToken(claims, id); why != "" {
		return execcred.Credential{}, why, false
	}
	if ok, why := life.Fresh(now, margin); !ok {
		return execcred.Credential{}, why, false
	}
	if e.SSOTokenFile != "" {
		// One stat, for SSO entries only: a logout ends the token.
		if _, err := os.Stat(e.SSOTokenFile); err != nil {
			return execcred.Credential{}, "the SSO login ended (aws sso logout?): " + e.SSOTokenFile + " is gone", false
		}
	}
	return execcred.Credential{Token: e.Token, Expiration: life.ServeUntil(margin)}, "", true
}
