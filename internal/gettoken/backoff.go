package gettoken

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// BackoffError is a run without a person stopped by an earlier failure
// that only a person can end (an expired SSO session, an MFA code to
// type): it says what that failure said, without trying again.
type BackoffError struct{ tokencache.Backoff }

func (e *BackoffError) Error() string {
	return fmt.Sprintf("%s [ekstoken failed so at %s and, without a terminal, tries again only after %s or once you have done that]",
		tokencache.Inert(e.Message), e.Since.UTC().Format(time.TimeOnly+"Z"), e.End().UTC().Format(time.TimeOnly+"Z"))
}

// blockedBy returns the BackoffError that stops a run without a person,
// nil when none does.
func (env Env) blockedBy(s cache.Store, id tokencache.Identity) error {
	key := id.Key()
	bo, ok := tokencache.ReadBackoff(s, key)
	if !ok || !bo.NeedsPerson || !bo.InForce(key, env.Now()) {
		return nil
	}
	env.Log.Debug("backing off: an earlier run failed for want of a person", "since", bo.Since, "until", bo.Until, "failures", bo.Failures)
	return &BackoffError{bo}
}

// noteOutcome keeps the identity's backoff record: a success ends it; a
// failure without a person starts or prolongs it. A person's failures (a
// mistyped MFA code) are theirs to see and retry: they are not recorded.
func (env Env) noteOutcome(s cache.Store, id tokencache.Identity, in Input, err error, interactive bool) {
	name := tokencache.BackoffName(id.Key())
	var cannot *cannotExtendError
	switch {
	case err == nil:
		if rerr := s.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			env.Log.Debug("backoff record not removed", "err", rerr)
		}
		return
	case interactive, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return
	}
	now := env.Now().UTC()
	bo := tokencache.Backoff{
		Format: tokencache.BackoffFormat, Key: id.Key(), Since: now, Message: err.Error(),
		Cluster: id.Cluster, Region: id.Region, Profile: id.Profile,
	}
	if errors.As(err, &cannot) {
		// Not a failure: nothing to retry before the token's end.
		bo.Until = cannot.until
	} else {
		if prev, ok := tokencache.ReadBackoff(s, id.Key()); ok {
			bo.Failures = prev.Failures
		}
		bo.Failures++
		bo.Until = now.Add(tokencache.BackoffWait(bo.Failures))
		bo.NeedsPerson = awsauth.NeedsPerson(err)
		var sso *awsauth.SSOLoginError
		if errors.As(err, &sso) && sso.TokenFile != "" {
			// As the file was before this attempt read it: a login that
			// ended meanwhile ends the backoff at once.
			bo.WatchFile, bo.WatchStamp = sso.TokenFile, sso.Stamp()
		}
	}
	if werr := s.WriteUnsynced(name, bo); werr != nil {
		env.Log.Debug("backoff record not written", "err", werr)
		return
	}
	env.Log.Debug("backing off", "until", bo.Until, "failures", bo.Failures, "needsPerson", bo.NeedsPerson)
}

// refreshAhead starts the background refresh of id when its token c, just
// served, is in its last in.RefreshAhead of served life and no backoff
// holds.
func (env Env) refreshAhead(s cache.Store, id tokencache.Identity, c execcred.Credential, in Input) {
	now := env.Now()
	if env.StartRefresh == nil || !tokencache.RefreshDue(c.Expiration, now, in.RefreshAhead) {
		return
	}
	key := id.Key()
	if bo, ok := tokencache.ReadBackoff(s, key); ok && bo.InForce(key, now) {
		env.Log.Debug("refresh ahead: backing off", "until", bo.Until)
		return
	}
	logPath := ""
	if env.Log.Enabled(context.Background(), slog.LevelDebug) {
		logPath = entryfile.Join(s.Dir, BackgroundLog)
	}
	started, err := env.StartRefresh(entryfile.Dir(s.Dir).LockPath(id.Name()), logPath)
	env.Log.Debug("refresh ahead", "servedUntil", c.Expiration, "started", started, "err", err, "log", logPath)
}

// BackgroundLog is the file in the cache directory that receives the debug
// log of background refreshes started by a run with --debug.
const BackgroundLog = "background.log"

// ssoLogin runs `aws sso login` for the session of sso once, however many
// processes ask at once: each takes the session's lock, and one that got
// it after another's login resolves again instead of logging in again.
func (env Env) ssoLogin(ctx context.Context, store *cache.Store, sso *awsauth.SSOLoginError, resolve func() (awsauth.Result, error)) (awsauth.Result, error) {
	var holds *cache.Holds
	if store != nil {
		holds = store.Holds
		session := sso.TokenFile
		if session == "" {
			session = "profile " + sso.Profile
		}
		// The file as the failed attempt found it, not as it is now:
		// another process's login may have ended in between.
		before := sso.Stamp()
		var once sync.Once
		l, lockErr := store.Lock(ctx, tokencache.SSOLoginName(session), cache.Wait{
			Short: env.LockTimeout, Long: env.LockTimeout,
			Waiting: func(what string) {
				once.Do(func() {
					fmt.Fprintf(env.Stderr, "ekstoken: another ekstoken is waiting for %s in another terminal; waiting up to %v for it\n",
						what, env.LockTimeout.Round(time.Second))
				})
			},
		})
		if lockErr != nil {
			env.Log.Debug("SSO login lock not taken", "err", lockErr)
		} else {
			defer l.Unlock()
		}
		if sso.TokenFile != "" && tokencache.WatchStamp(sso.TokenFile) != before {
			env.Log.Debug("another process logged in to the SSO session meanwhile", "tokenFile", sso.TokenFile)
			res, err := resolve()
			var again *awsauth.SSOLoginError
			if !errors.As(err, &again) {
				return res, err
			}
		}
		if errors.Is(lockErr, cache.ErrLockBusy) {
			// Another run's login is still open, in a browser most
			// likely: a second login would only open another tab, and
			// every run waiting would open one.
			return awsauth.Result{}, fmt.Errorf("another ekstoken has been running `aws sso login --profile %s` for more than %v: finish that login, then run this again",
				sso.Profile, env.LockTimeout.Round(time.Second))
		}
	}
	env.Log.Debug("SSO session expired; running aws sso login", "profile", sso.Profile)
	done := holds.WaitingForPerson("aws sso login --profile " + sso.Profile)
	lerr := env.SSOLogin(ctx, sso.Profile)
	done()
	if lerr != nil {
		return awsauth.Result{}, fmt.Errorf("aws sso login --profile %s: %w", sso.Profile, lerr)
	}
	return resolve()
}
