package tokencache

import (
	"errors"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ekstoken/ekstoken/internal/jsonlite"
	"github.com/ekstoken/ekstoken/internal/token"
)

// DefaultRefreshAhead is --refresh-ahead's default: a hit in the last 5
// minutes of its token's served life starts a background refresh.
const DefaultRefreshAhead = 5 * time.Minute

// MaxRefreshAhead bounds --refresh-ahead.
const MaxRefreshAhead = 10 * time.Minute

// CheckRefresh says what is wrong with a --refresh-margin and
// --refresh-ahead pair, "" when nothing is.
func CheckRefresh(margin, ahead time.Duration) string {
	switch {
	case margin < 0 || margin >= MaxMargin:
		return "--refresh-margin " + margin.String() + ": must be at least 0s and less than 14m (a token lives 15m)"
	case ahead < 0 || ahead > MaxRefreshAhead:
		return "--refresh-ahead " + ahead.String() + ": must be at least 0s (off) and at most 10m"
	}
	return ""
}

// EffectiveAhead is the refresh-ahead window in force with margin: at
// most half of a new token's served life, so that a large margin does not
// leave a token due for refresh as soon as it is signed.
func EffectiveAhead(margin, ahead time.Duration) time.Duration {
	return min(ahead, (15*time.Minute-margin)/2)
}

// RefreshDue says whether a token served until servedUntil is in its last
// ahead of served life at now, when a hit starts a background refresh. An
// ahead of 0 turns refreshing ahead off.
func RefreshDue(servedUntil, now time.Time, ahead time.Duration) bool {
	return ahead > 0 && !now.Before(servedUntil.Add(-ahead))
}

// BackoffFormat marks a backoff record.
const BackoffFormat = "ekstoken/backoff/v1"

// BackoffName is the name of the backoff record of the identity whose Key
// is key: next to its token entry, with the same hash.
func BackoffName(key string) string { return "backoff-" + nameHash(key) }

// Backoff records that getting credentials for an identity failed without
// a person to help (a background refresh, or kubectl without a terminal).
// While it is in force, no background refresh starts, and when the failure
// needs a person (an expired SSO session, an MFA code) runs without one
// fail at once with Message rather than try again. It holds no secret.
type Backoff struct {
	Format string `json:"format"`
	// Key is the identity's Key, compared exactly as a token entry's.
	Key string `json:"key"`
	// Failures counts failures in a row; the wait doubles with each.
	Failures int       `json:"failures"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	// Message is what the failure told the user to do.
	Message string `json:"message"`
	// NeedsPerson says only a person can end the failure: log in, type an
	// MFA code.
	NeedsPerson bool `json:"needsPerson,omitempty"`
	// WatchFile, when set, is the file a person's fix rewrites (the SSO
	// token cache that `aws sso login` writes): once its stamp differs
	// from WatchStamp, the backoff is over.
	WatchFile  string `json:"watchFile,omitempty"`
	WatchStamp string `json:"watchStamp,omitempty"`

	Cluster string `json:"cluster,omitempty"`
	Region  string `json:"region,omitempty"`
	Profile string `json:"profile,omitempty"`
}

// Backoff waits: the first failure holds off backoffBase, each further one
// twice as long, up to backoffMax.
const (
	backoffBase = 30 * time.Second
	backoffMax  = 10 * time.Minute
)

// maxBackoffSpan is the longest a backoff record holds from its Since:
// the longest wait, or a token's whole life for a record that holds until
// the token's end (credentials that cannot be renewed without a person).
const maxBackoffSpan = max(backoffMax, token.Lifetime)

// BackoffWait is how long the failures-th failure in a row holds off.
func BackoffWait(failures int) time.Duration {
	d := backoffBase
	for i := 1; i < failures && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// WatchStamp is what a backoff remembers of path: its size and time of
// last change, "" when it does not exist.
func WatchStamp(path string) string {
	if path == "" {
		return ""
	}
	st, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return strconv.FormatInt(st.Size(), 10) + "@" + strconv.FormatInt(st.ModTime().UnixNano(), 10)
}

// End is when b stops holding: its Until, but never later than the
// longest record ekstoken writes holds from its Since. A record that says
// later (a clock set forward while it was written, a file edited or
// planted) would otherwise hold off refreshes, and fail runs without a
// terminal, until someone cleared it.
func (b Backoff) End() time.Time {
	if limit := b.Since.Add(maxBackoffSpan); limit.Before(b.Until) {
		return limit
	}
	return b.Until
}

// InForce says whether b, read for the identity whose Key is key, holds
// at now.
func (b Backoff) InForce(key string, now time.Time) bool {
	switch {
	case b.Format != BackoffFormat || b.Key != key:
		return false
	case !now.Before(b.End()) || b.Since.After(now.Add(maxFutureSkew)):
		// Over, or written by a clock since set back.
		return false
	case b.WatchFile != "" && WatchStamp(b.WatchFile) != b.WatchStamp:
		return false // the person fixed it: `aws sso login` ran
	}
	return true
}

// ReadBackoff reads the backoff record of the identity whose Key is key;
// ok is false when there is none or it cannot be read.
func ReadBackoff(r Reader, key string) (Backoff, bool) {
	b, err := r.ReadBytes(BackoffName(key))
	if err != nil {
		return Backoff{}, false
	}
	bo, err := ParseBackoff(b)
	if err != nil || bo.Key != key {
		return Backoff{}, false
	}
	return bo, true
}

// ParseBackoff decodes a backoff record as json.Unmarshal into Backoff
// does, without reflection: a hit in its refresh window reads it. Like
// json.Unmarshal it refuses a field of the wrong type and leaves a missing
// or null one zero (a zero Until is a backoff that is over).
func ParseBackoff(b []byte) (Backoff, error) {
	v, err := jsonlite.Parse(b)
	if err != nil {
		return Backoff{}, err
	}
	var bo Backoff
	if v.Kind == jsonlite.Null {
		return bo, nil
	}
	if v.Kind != jsonlite.Object {
		return Backoff{}, errors.New("backoff record is not a JSON object")
	}
	for _, f := range []struct {
		key string
		to  *string
	}{
		{"format", &bo.Format}, {"key", &bo.Key}, {"message", &bo.Message},
		{"watchFile", &bo.WatchFile}, {"watchStamp", &bo.WatchStamp},
		{"cluster", &bo.Cluster}, {"region", &bo.Region}, {"profile", &bo.Profile},
	} {
		m, ok := v.Get(f.key)
		switch {
		case !ok || m.Kind == jsonlite.Null:
		case m.Kind == jsonlite.String:
			*f.to = m.Str
		default:
			return Backoff{}, errors.New("backoff record field " + f.key + " is not a string")
		}
	}
	for _, f := range []struct {
		key string
		to  *time.Time
	}{{"since", &bo.Since}, {"until", &bo.Until}} {
		m, ok := v.Get(f.key)
		switch {
		case !ok || m.Kind == jsonlite.Null:
			continue
		case m.Kind != jsonlite.String:
			return Backoff{}, errors.New("backoff record field " + f.key + " is not a string")
		}
		t, err := time.Parse(time.RFC3339Nano, m.Str)
		if err != nil {
			return Backoff{}, errors.New("backoff record field " + f.key + ": " + err.Error())
		}
		*f.to = t
	}
	if m, ok := v.Get("failures"); ok && m.Kind != jsonlite.Null {
		if m.Kind != jsonlite.Number {
			return Backoff{}, errors.New("backoff record field failures is not a number")
		}
		n, err := strconv.Atoi(m.Str)
		if err != nil {
			return Backoff{}, errors.New("backoff record field failures: " + err.Error())
		}
		bo.Failures = n
	}
	if m, ok := v.Get("needsPerson"); ok && m.Kind != jsonlite.Null {
		if m.Kind != jsonlite.Bool {
			return Backoff{}, errors.New("backoff record field needsPerson is not a boolean")
		}
		bo.NeedsPerson = m.Bool
	}
	return bo, nil
}

// SSOLoginName is the name of the lock that one `aws sso login` at a time
// holds for the SSO session whose token cache file is tokenFile (or, when
// unknown, for the profile).
func SSOLoginName(tokenFile string) string { return "sso-" + nameHash(tokenFile) }

// Inert is s, or s quoted as Go quotes strings (without the quotes) when
// it holds anything a terminal would act on rather than show: control
// characters, escape sequences, bytes that are not UTF-8. What a backoff
// record says is printed (in kubectl's error, by doctor), and the record
// is a file anything running as the user may have written: printed through
// Inert, its escape sequences are shown, never acted on. It uses strconv's
// table of printable runes, not package unicode, too heavy for the hit
// path, which reads backoff records.
func Inert(s string) string {
	if utf8.ValidString(s) {
		printable := true
		for _, r := range s {
			if !strconv.IsPrint(r) {
				printable = false
				break
			}
		}
		if printable {
			return s
		}
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
