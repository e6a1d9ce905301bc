// Package gettoken is the `ekstoken token` use case, one story: look up the
// cache → still fresh? → lock → look up again → resolve credentials → sign →
// save → write the ExecCredential. A cache hit resolves no credentials and
// touches no network: it reads one file and prints.
package gettoken

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/signer"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// Input is what the command line asked for.
type Input struct {
	tokencache.Request

	NoCache      bool
	ForceRefresh bool
	// NoCredentialCache keeps resolved credentials out of the cache.
	NoCredentialCache bool
	// SSOLogin runs `aws sso login` when the SSO session has expired and a
	// person is there to complete it, then tries again.
	SSOLogin bool
	// Margin is how long before a token's real end ekstoken stops serving
	// it and tells kubectl it has expired.
	Margin time.Duration
	// RefreshAhead is how long before the end of a token's served life a
	// hit starts a background refresh; 0 never does.
	RefreshAhead time.Duration
	// Background makes the run the background refresh that a hit started
	// (see Background).
	Background bool
}

// Env is the boundary to the operating system, passed in whole.
type Env struct {
	Now    func() time.Time
	Getenv func(string) string
	Home   string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Log    *slog.Logger
	// IsTerminal reports whether stdin is a terminal; it decides whether a
	// run by hand (without KUBERNETES_EXEC_INFO) may prompt.
	IsTerminal func() bool
	// SSOLogin runs `aws sso login --profile p` with the terminal.
	SSOLogin func(ctx context.Context, profile string) error
	// Store is the token cache; nil when caching is off.
	Store *cache.Store
	// Resolve gets credentials; tests count its calls.
	Resolve func(context.Context, awsauth.Options) (awsauth.Result, error)
	// LockTimeout bounds the wait for another process's refresh while it
	// waits for a person; one that does not is waited for much less.
	LockTimeout time.Duration
	// StartRefresh starts the background refresh of the identity whose
	// lock file is lockPath, with its debug log in logPath when set (see
	// internal/background); nil never starts one.
	StartRefresh func(lockPath, logPath string) (bool, error)
	// HandedLock is the lock a starter handed down to a background
	// refresh, nil when none was.
	HandedLock func() *os.File
	// staticWait and networkWait, when set, replace staticLockWait and
	// networkLockWait (tests: the product's bounds are seconds long).
	staticWait, networkWait time.Duration
	// backgroundLimit, when set, replaces backgroundLimit (tests).
	backgroundLimit time.Duration
}

// Run prints one ExecCredential for in, or returns an error and prints
// nothing on stdout.
func Run(ctx context.Context, env Env, in Input) error {
	start := env.Now()
	info := execcred.ReadInfo(env.Getenv)
	if info.Warning != "" {
		fmt.Fprintln(env.Stderr, info.Warning)
	}
	id := tokencache.NewIdentity(in.Request, env.Getenv, env.Home)
	name := id.Name()
	store := env.store()
	// Prompts need a person: kubectl says so in KUBERNETES_EXEC_INFO and
	// then connects the terminal to stdin; a run by hand has a terminal.
	interactive := info.Interactive || (!info.Present && env.IsTerminal != nil && env.IsTerminal())
	wait := env.lockWait(id.EnvKeys())
	if store != nil && !in.ForceRefresh {
		// One refresh for many parallel kubectl runs: wait for whoever is
		// refreshing, then look again before doing the work ourselves. A
		// run without a person also stops at a failure that only a person
		// can end, recorded by an earlier run: trying again would fail the
		// same way, after another network call or process.
		var c execcred.Credential
		var blocked error
		looks := 0
		found, unlock, lockErr := store.LookLockLook(ctx, name, wait, func() bool {
			looks++
			var ok bool
			if c, ok = env.lookup(*store, id, in.Margin); ok {
				return true
			}
			blocked = nil
			if !interactive {
				blocked = env.blockedBy(*store, id)
			}
			return blocked != nil
		})
		if blocked != nil {
			return blocked
		}
		if found {
			msg := "cache hit"
			if looks > 1 {
				msg = "cache hit after waiting for another refresh"
			}
			env.Log.Debug(msg, "remaining", c.Expiration.Sub(env.Now()).Round(time.Second), "file", store.Path(name),
				"credentialSource", env.signedBy(ctx, *store, name), "took", env.Now().Sub(start))
			if err := execcred.Write(env.Stdout, info.APIVersion, c); err != nil {
				return err
			}
			env.refreshAhead(*store, id, c, in)
			return nil
		}
		if lockErr != nil {
			env.Log.Debug("refreshing without the lock", "err", lockErr)
		}
		defer unlock()
	}

	cred, err := env.refresh(ctx, in, id, store, interactive, info.Present)
	if store != nil {
		env.noteOutcome(*store, id, in, err, interactive)
	}
	if err != nil {
		return err
	}
	env.Log.Debug("done", "took", env.Now().Sub(start))
	return execcred.Write(env.Stdout, info.APIVersion, cred)
}

// Background is the refresh a hit started (see internal/background): it
// signs a new token for in under the identity's lock, renewing cached
// credentials first when they near their end, and never asks a person
// anything. Nobody waits for it and nobody sees its output: a failure
// goes to the debug log and into the identity's backoff record.
func Background(ctx context.Context, env Env, in Input) error {
	store := env.store()
	if store == nil {
		return errors.New("--background needs the cache")
	}
	id := tokencache.NewIdentity(in.Request, env.Getenv, env.Home)
	name := id.Name()
	var lock *cache.Lock
	if f := env.handedLock(); f != nil {
		l, err := store.Adopt(name, f)
		if err != nil {
			env.Log.Debug("background refresh: lock not adopted", "err", err)
		}
		lock = l
	}
	if lock == nil {
		// No lock handed down (Windows, or run by hand): take it without
		// waiting; a holder is already refreshing.
		l, err := store.Lock(ctx, name, cache.Wait{})
		if err != nil {
			env.Log.Debug("background refresh: not started", "err", err)
			return nil
		}
		lock = l
	}
	defer lock.Unlock()
	now := env.Now()
	if c, ok := env.lookup(*store, id, in.Margin); ok && !tokencache.RefreshDue(c.Expiration, now, in.RefreshAhead) {
		env.Log.Debug("background refresh: another process refreshed already", "servedUntil", c.Expiration)
		return nil
	}
	if bo, ok := tokencache.ReadBackoff(*store, id.Key()); ok && bo.InForce(id.Key(), now) {
		env.Log.Debug("background refresh: backing off", "until", bo.Until, "failures", bo.Failures)
		return nil
	}
	in.Background = true
	// The refresh inherits kubectl's KUBERNETES_EXEC_INFO: its messages,
	// which a backoff record hands to later runs, speak of kubectl then.
	err := env.refreshWithin(ctx, in, id, store, execcred.ReadInfo(env.Getenv).Present)
	env.noteOutcome(*store, id, in, err, false)
	if err != nil {
		env.Log.Debug("background refresh failed", "err", err)
		return nil
	}
	env.Log.Debug("background refresh done", "took", env.Now().Sub(now))
	return nil
}

// backgroundLimit bounds a background refresh. It holds the identity's
// locks while it runs: without a bound, one credential_process or network
// call that never returns would keep every later hit from starting a
// refresh and make every foreground miss wait out both locks, for good.
const backgroundLimit = 2 * time.Minute

// stuckError says a background refresh gave up at its time limit.
type stuckError struct{ limit time.Duration }

func (e *stuckError) Error() string {
	return "the background refresh took longer than " + e.limit.String() +
		" (a credential_process or a network call did not return); the next kubectl call after the token's end refreshes in the foreground"
}

// refreshWithin is refresh, given up at backgroundLimit. Cancelling the
// context is not enough: the SDK kills a credential_process's shell at
// its own timeout, then waits for whatever still holds the process's
// output, possibly forever. So the refresh runs aside and the run returns
// at the limit; the process then exits, which releases the locks and ends
// the refresh with it (a cache write is a rename: atomic).
func (env Env) refreshWithin(ctx context.Context, in Input, id tokencache.Identity, store *cache.Store, fromKubectl bool) error {
	limit := cmp.Or(env.backgroundLimit, backgroundLimit)
	stuck := &stuckError{limit: limit}
	ctx, cancel := context.WithTimeoutCause(ctx, limit, stuck)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := env.refresh(ctx, in, id, store, false, fromKubectl)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && context.Cause(ctx) == stuck {
			return stuck
		}
		return err
	case <-ctx.Done():
		if context.Cause(ctx) == stuck {
			return stuck
		}
		return ctx.Err()
	}
}

// store is the run's copy of the cache store, with its own Holds: while it
// prompts, the locks it holds say so to the processes waiting for them.
func (env Env) store() *cache.Store {
	if env.Store == nil {
		return nil
	}
	s := *env.Store
	s.Holds = &cache.Holds{}
	return &s
}

func (env Env) handedLock() *os.File {
	if env.HandedLock == nil {
		return nil
	}
	return env.HandedLock()
}

// refresh resolves credentials, signs a token and caches it.
func (env Env) refresh(ctx context.Context, in Input, id tokencache.Identity, store *cache.Store, interactive, fromKubectl bool) (execcred.Credential, error) {
	start := env.Now()
	opts := awsauth.Options{
		Region: in.Region, Profile: in.Profile,
		RoleARN: in.RoleARN, SessionName: in.SessionName, ExternalID: in.ExternalID,
		EffectiveProfile: id.Profile, ConfigFile: id.Config.Path, CredentialsFile: id.Credentials.Path,
		FromKubectl: fromKubectl, LoginCommand: env.loginCommand(in, id),
		Getenv: env.Getenv, Now: env.Now, Log: env.Log,
	}
	var holds *cache.Holds
	if store != nil {
		holds = store.Holds
	}
	if interactive {
		prompt := awsauth.TerminalPrompt(env.Stdin, env.Stderr)
		opts.MFACode = func(serial string) (string, error) {
			defer holds.WaitingForPerson("the MFA code of " + serial)()
			return prompt(serial)
		}
	}
	// Keys from the environment cost nothing to resolve: nothing to cache.
	envKeys := id.EnvKeys()
	if store != nil && !in.NoCredentialCache && !envKeys {
		key := id.CredentialsKey()
		opts.Cache = &awsauth.FileCache{
			Store: *store, Name: tokencache.CredentialsName(key), Key: key, Profile: id.Profile, RoleARN: in.RoleARN, Now: env.Now,
			Window: CredentialsWindow(in.Margin, in.RefreshAhead), Wait: env.lockWait(envKeys), Log: env.Log,
			Renew: in.ForceRefresh,
		}
	}
	res, err := env.Resolve(ctx, opts)
	if err != nil && !interactive && opts.Cache != nil && awsauth.NeedsPerson(err) {
		// Renewing the cached credentials early needs a person, and none
		// is here. While they still give a token the life they always
		// gave (the window without refresh-ahead), sign with them: an
		// early renewal must never cost a run that would have worked.
		narrow := *opts.Cache
		narrow.Window = CredentialsWindow(in.Margin, 0)
		if narrow.Serves() {
			env.Log.Debug("renewing the credentials needs a person; signing with the cached ones", "err", err)
			opts.Cache = &narrow
			res, err = env.Resolve(ctx, opts)
		}
	}
	var sso *awsauth.SSOLoginError
	if errors.As(err, &sso) && in.SSOLogin && interactive && env.SSOLogin != nil {
		res, err = env.ssoLogin(ctx, store, sso, func() (awsauth.Result, error) { return env.Resolve(ctx, opts) })
	}
	if errors.As(err, &sso) {
		switch {
		case !in.SSOLogin:
			sso.Hint = "or add --sso-login to the kubeconfig user's args to have ekstoken run it"
		case !interactive:
			// kubectl does not say why it lent no terminal: name both causes.
			sso.Hint = "--sso-login runs it only when kubectl lends a terminal, and this run had none: kubectl ran in a pipe or an IDE, " +
				"or the kubeconfig user says `interactiveMode: Never` (then set `interactiveMode: IfAvailable`)"
		}
	}
	if err != nil {
		return execcred.Credential{}, err
	}
	// Whatever resolved them, credentials that have ended sign nothing:
	// STS would refuse the token while kubectl believed it.
	if c := res.Credentials; c.CanExpire && !c.Expires.After(env.Now()) {
		return execcred.Credential{}, &awsauth.ExpiredError{Source: c.Source, Profile: id.Profile, Expires: c.Expires, Now: env.Now()}
	}
	env.Log.Debug("credentials resolved", "source", res.Credentials.Source, "accessKeyId", res.Credentials.AccessKeyID,
		"expires", expiresText(res.Credentials), "took", env.Now().Sub(start))

	signedAt := env.Now().UTC().Truncate(time.Second)
	tok, err := signer.Sign(ctx, res.Config, res.Credentials, id.Cluster, signedAt)
	if err != nil {
		return execcred.Credential{}, err
	}
	entry := tokencache.NewEntry(id.Key(), tok)
	entry.Cluster, entry.Region, entry.Profile, entry.RoleARN = id.Cluster, res.Config.Region, id.Profile, in.RoleARN
	entry.AccessKeyID, entry.CredentialSource = res.Credentials.AccessKeyID, res.Credentials.Source
	entry.SSOTokenFile = res.SSOTokenFile
	if envKeys {
		// No profile was involved: say so rather than show "default".
		entry.Profile, entry.CredentialSource = "", SourceEnvironmentKeys
	}
	if res.Credentials.CanExpire {
		entry.CredentialsExpire = res.Credentials.Expires.UTC()
	}
	life, err := entry.Lifetime()
	if err != nil {
		return execcred.Credential{}, fmt.Errorf("read back the new token: %w", err)
	}
	cred := execcred.Credential{Token: tok, Expiration: life.ServeUntil(in.Margin)}
	switch {
	case !cred.Expiration.After(signedAt):
		// The credentials end within the margin: report their real end,
		// and keep the token out of the cache, where it would be stale.
		cred.Expiration = life.End
		env.Log.Debug("credentials expire within the margin; not caching", "credentialsExpire", life.End)
	case store == nil:
	case in.Background && env.cachedOutlives(*store, id, in.Margin, cred.Expiration):
		// The credentials could not be renewed beyond the cached token's:
		// keep the token that lives longer.
		env.Log.Debug("background refresh: the cached token outlives the new one; kept", "newServedUntil", cred.Expiration)
	default:
		if err := store.WriteUnsynced(id.Name(), entry); err != nil {
			// A cache that cannot be written still yields the token. But
			// every call is a miss until it can: say so, and how to stop
			// trying (a refused directory's error says what to pass).
			env.Log.Debug("cache not written", "err", err)
			if errors.Is(err, cache.ErrUnsafeDir) {
				fmt.Fprintf(env.Stderr, "ekstoken: not caching: %v\n", err)
			} else {
				fmt.Fprintf(env.Stderr, "ekstoken: not caching: %v; pass --cache-dir with a directory you can write, or --no-cache to stop trying\n", err)
			}
		}
	}
	env.Log.Debug("token signed", "cluster", id.Cluster, "region", res.Config.Region, "expires", cred.Expiration,
		"cappedByCredentials", life.CappedByCredentials, "took", env.Now().Sub(start))
	if in.Background && tokencache.RefreshDue(cred.Expiration, env.Now(), in.RefreshAhead) {
		// A token that is due for refresh the moment it is signed would
		// have every hit start another refresh: its credentials cannot be
		// renewed without a person (an MFA session, an SSO login ending).
		return cred, &cannotExtendError{until: cred.Expiration}
	}
	return cred, nil
}

// cachedOutlives reports whether the cached token of id is served beyond
// until.
func (env Env) cachedOutlives(s cache.Store, id tokencache.Identity, margin time.Duration, until time.Time) bool {
	c, _, ok := tokencache.Lookup(s, id, env.Now(), margin)
	return ok && c.Expiration.After(until)
}

// cannotExtendError says a background refresh could not give the token a
// life beyond its refresh window: the credentials that sign it end too
// soon, and renewing them needs a person.
type cannotExtendError struct{ until time.Time }

func (e *cannotExtendError) Error() string {
	return "the signing credentials end at " + e.until.UTC().Format(time.RFC3339) +
		" and cannot be renewed without a person: the next kubectl call after that renews them"
}

// credentialsWindow is how long before their expiry, beyond the refresh
// margin and the refresh-ahead window, cached credentials are renewed: a
// token signed with them then lives at least this long before its own
// refresh is due.
const credentialsWindow = 5 * time.Minute

// CredentialsWindow is how long before their expiry cached credentials
// stop being used, with the refresh margin and the refresh-ahead window in
// force: a background refresh that finds them inside it renews them first.
func CredentialsWindow(margin, ahead time.Duration) time.Duration {
	return margin + ahead + credentialsWindow
}

// SourceEnvironmentKeys is the credential source that token entries signed
// with keys from the environment record.
const SourceEnvironmentKeys = "environment keys"

// CredentialsServedUntil is when cached credentials that expire at expires
// stop being used, with the refresh margin and refresh-ahead window in
// force: `ekstoken status` shows it.
func CredentialsServedUntil(expires time.Time, margin, ahead time.Duration) time.Time {
	return expires.Add(-CredentialsWindow(margin, ahead))
}

// lookup is tokencache.Lookup with the miss explained in the debug log.
func (env Env) lookup(s cache.Store, id tokencache.Identity, margin time.Duration) (execcred.Credential, bool) {
	c, why, ok := tokencache.Lookup(s, id, env.Now(), margin)
	if !ok {
		env.Log.Debug("cache miss", "reason", why, "file", s.Path(id.Name()))
	}
	return c, ok
}

// How long a cold run waits for another process refreshing the same
// identity before it refreshes on its own: about as long as its own
// refresh could take. Keys from the environment involve no network, so a
// holder taking longer is stuck; other sources may call STS, SSO, IMDS or
// a credential_process. Only a holder that says it waits for a person (an
// MFA code, an SSO login) is waited for up to LockTimeout.
const (
	staticLockWait  = time.Second
	networkLockWait = 10 * time.Second
)

func (env Env) lockWait(envKeys bool) cache.Wait {
	short := cmp.Or(env.networkWait, networkLockWait)
	if envKeys {
		short = cmp.Or(env.staticWait, staticLockWait)
	}
	var once sync.Once
	return cache.Wait{
		Short: min(short, env.LockTimeout),
		Long:  env.LockTimeout,
		Waiting: func(what string) {
			once.Do(func() {
				fmt.Fprintf(env.Stderr, "ekstoken: another ekstoken is waiting for %s in another terminal; waiting up to %v for it\n",
					what, env.LockTimeout.Round(time.Second))
			})
		},
	}
}

// signedBy names, for the debug log of a hit, the credentials that signed
// the cached token: one more read, only when debugging.
func (env Env) signedBy(ctx context.Context, s cache.Store, name string) string {
	if !env.Log.Enabled(ctx, slog.LevelDebug) {
		return ""
	}
	var e tokencache.Entry
	if err := s.Read(name, &e); err != nil {
		return "unknown"
	}
	return e.CredentialSource
}

// loginCommand is the command that, run once in a terminal, does what this
// run could not (an MFA prompt) and leaves the result in the cache this
// run reads: the same cluster, region, profile, role and cache directory.
func (env Env) loginCommand(in Input, id tokencache.Identity) string {
	args := []string{"ekstoken", "token"}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag, shellQuote(v))
		}
	}
	add("--cluster-name", in.ClusterName)
	add("--cluster-id", in.ClusterID)
	add("--region", id.Region)
	add("--profile", id.Profile)
	add("--role-arn", in.RoleARN)
	if in.SessionName != tokencache.DefaultSessionName {
		add("--session-name", in.SessionName)
	}
	add("--external-id", in.ExternalID)
	if env.Store != nil && env.Store.Dir != tokencache.DefaultDir(env.Getenv, env.Home) {
		add("--cache-dir", env.Store.Dir)
	}
	return strings.Join(args, " ")
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	if strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=+,", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

func expiresText(c aws.Credentials) string {
	if !c.CanExpire {
		return "never"
	}
	return c.Expires.UTC().Format(time.RFC3339)
}
