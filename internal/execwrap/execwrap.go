// Package execwrap is the miss path of `ekstoken exec`: it runs a wrapped
// kubectl exec credential plugin, checks that it answered an
// ExecCredential, caches it (internal/execcache) and prints it. Hits are
// served by internal/fastpath before this program starts.
package execwrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/execcache"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// Env is what a run takes from the machine.
type Env struct {
	Now     func() time.Time
	Getenv  func(string) string
	Environ []string // the environment kubectl gave, passed to the plugin
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Log     *slog.Logger
	// Store is nil when the cache is off: the plugin runs every time.
	Store *cache.Store
	// HandedLock returns the lock a starting hit handed down to a
	// background refresh (internal/background), or nil.
	HandedLock func() *os.File
	// LockWait bounds the wait for another run of the same identity, which
	// may be waiting on a browser login.
	LockWait cache.Wait
}

// ExitError is a failure of the wrapped plugin: ekstoken exits with its
// code, and has nothing to add to what the plugin printed on stderr.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Run answers one request: from the cache if another run just filled it,
// else from the plugin.
func Run(ctx context.Context, env Env, r execcache.Request) error {
	id := execcache.NewIdentity(r, env.Getenv, env.Environ)
	info := execcred.ReadInfo(env.Getenv)
	if env.Store == nil {
		st, _, err := runPlugin(ctx, env, id, info, r)
		if err != nil {
			return err
		}
		return write(env, info, st)
	}
	// The run's own copy of the store, whose Holds let it say in the lock
	// that an interactive plugin waits for a person.
	store := *env.Store
	store.Holds = &cache.Holds{}
	env.Store = &store
	var hit execcache.Status
	look := func() bool {
		st, why, ok := execcache.Lookup(env.Store, id, env.Now(), r.Margin)
		env.Log.Debug("exec cache lookup", "entry", id.Name(), "hit", ok, "why", why)
		hit = st
		return ok
	}
	found, unlock, lockErr := env.Store.LookLockLook(ctx, id.Name(), env.LockWait, look)
	defer unlock()
	if found {
		return write(env, info, hit)
	}
	if lockErr != nil {
		env.Log.Debug("running the plugin without the lock", "err", lockErr)
	}
	st, cacheable, err := runPlugin(ctx, env, id, info, r)
	if err != nil {
		return err
	}
	if cacheable && !execcache.Fits(id, st) {
		// An entry the hit path could not read back would be a miss, and
		// a rewrite, on every call.
		env.Log.Debug("not cached: the credential is too large for a cache entry")
		cacheable = false
	}
	if cacheable {
		if err := env.Store.Write(id.Name(), execcache.NewEntry(id, st, env.Now())); err != nil {
			// Caching is an optimization: the credential is still good.
			env.Log.Debug("cache write failed", "err", err)
		}
	} else {
		env.Log.Debug("not cached: the plugin gave no expirationTimestamp; --ttl keeps such credentials")
	}
	return write(env, info, st)
}

func write(env Env, info execcred.Info, st execcache.Status) error {
	if info.Warning != "" {
		fmt.Fprintln(env.Stderr, info.Warning)
	}
	_, err := env.Stdout.Write(execcache.Marshal(info.APIVersion, st))
	return err
}

// maxOutput bounds what is read from the plugin's stdout: an
// ExecCredential is a few KiB, client certificates included.
const maxOutput = 1 << 20

// runPlugin runs the plugin with kubectl's environment, stdin and stderr,
// and returns what it answered, and whether that may be cached.
func runPlugin(ctx context.Context, env Env, id execcache.Identity, info execcred.Info, r execcache.Request) (execcache.Status, bool, error) {
	cmd := exec.CommandContext(ctx, id.Path, r.Args...)
	cmd.Env = env.Environ
	cmd.Stdin, cmd.Stderr = env.Stdin, env.Stderr
	var out bytes.Buffer
	cmd.Stdout = &limitWriter{w: &out, n: maxOutput}
	started := env.Now()
	if info.Interactive && env.Store != nil {
		// A plugin with the terminal may be waiting for a browser login or
		// a code: other runs of this identity wait longer for it, rather
		// than start a second login.
		done := env.Store.Holds.WaitingForPerson("a login of " + r.Command)
		defer done()
	}
	err := cmd.Run()
	env.Log.Debug("plugin ran", "command", id.Path, "took", env.Now().Sub(started), "err", err)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			return execcache.Status{}, false, &ExitError{Code: ee.ExitCode(), Err: fmt.Errorf("the wrapped plugin %s failed: %w", id.Path, err)}
		}
		return execcache.Status{}, false, fmt.Errorf("run the wrapped plugin %q (check the command in the kubeconfig and PATH): %w", r.Command, err)
	}
	st, err := Parse(out.Bytes(), info)
	if err != nil {
		return execcache.Status{}, false, fmt.Errorf("the wrapped plugin %s answered no valid ExecCredential: %w", id.Path, err)
	}
	cacheable := !st.Expiration.IsZero()
	if !cacheable && r.TTL > 0 {
		st.Expiration, cacheable = env.Now().Add(r.TTL), true
	}
	if cacheable && !env.Now().Before(st.Expiration.Add(-r.Margin)) {
		// Already within the margin: serve it once, do not keep it.
		env.Log.Debug("not cached: the credential expires within the refresh margin", "expires", st.Expiration)
		cacheable = false
	}
	return st, cacheable, nil
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, errors.New("plugin output larger than 1 MiB")
	}
	l.n -= len(p)
	return l.w.Write(p)
}

// execCredential is the part of client.authentication.k8s.io's
// ExecCredential that ekstoken reads.
type execCredential struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Status     *struct {
		ExpirationTimestamp   *time.Time `json:"expirationTimestamp"`
		Token                 string     `json:"token"`
		ClientCertificateData string     `json:"clientCertificateData"`
		ClientKeyData         string     `json:"clientKeyData"`
	} `json:"status"`
}

// Parse checks a plugin's stdout the way client-go does: one
// ExecCredential of the apiVersion kubectl asked for, with a token or a
// client certificate and key.
func Parse(out []byte, info execcred.Info) (execcache.Status, error) {
	var c execCredential
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&c); err != nil {
		return execcache.Status{}, fmt.Errorf("decode stdout: %w", err)
	}
	if dec.More() {
		return execcache.Status{}, errors.New("more than one JSON value on stdout")
	}
	switch {
	case c.Kind != "ExecCredential":
		return execcache.Status{}, fmt.Errorf("kind is %q, not ExecCredential", c.Kind)
	case info.Present && c.APIVersion != info.APIVersion:
		return execcache.Status{}, fmt.Errorf("apiVersion is %q, but kubectl asked for %q", c.APIVersion, info.APIVersion)
	case !info.Present && c.APIVersion != execcred.V1 && c.APIVersion != execcred.V1beta1:
		return execcache.Status{}, fmt.Errorf("unknown apiVersion %q", c.APIVersion)
	case c.Status == nil:
		return execcache.Status{}, errors.New("no status")
	case c.Status.Token == "" && (c.Status.ClientCertificateData == "" || c.Status.ClientKeyData == ""):
		return execcache.Status{}, errors.New("status holds neither a token nor a client certificate and key")
	case (c.Status.ClientCertificateData == "") != (c.Status.ClientKeyData == ""):
		return execcache.Status{}, errors.New("status holds a client certificate without its key, or a key without its certificate")
	}
	st := execcache.Status{Token: c.Status.Token, ClientCertificateData: c.Status.ClientCertificateData, ClientKeyData: c.Status.ClientKeyData}
	if c.Status.ExpirationTimestamp != nil {
		st.Expiration = *c.Status.ExpirationTimestamp
	}
	return st, nil
}

// backgroundLimit bounds a background refresh, which holds the entry's
// lock: a plugin that waits for a login nobody can see would otherwise
// keep every later miss waiting on it.
const backgroundLimit = 2 * time.Minute

// Background is the refresh a hit near the end of an entry's served life
// starts (internal/background): it runs the plugin without a terminal,
// under the entry's lock, and caches what it answers. It prints nothing;
// a failure is written as a backoff record, which keeps further hits
// from starting refreshes for a while (tokencache.BackoffWait), and the
// next miss runs the plugin in the foreground, where it can speak.
func Background(ctx context.Context, env Env, r execcache.Request) error {
	if env.Store == nil {
		return errors.New("--background needs the cache")
	}
	id := execcache.NewIdentity(r, env.Getenv, env.Environ)
	name := id.Name()
	var lock *cache.Lock
	if env.HandedLock != nil {
		if f := env.HandedLock(); f != nil {
			l, err := env.Store.Adopt(name, f)
			if err != nil {
				env.Log.Debug("background refresh: lock not adopted", "err", err)
			}
			lock = l
		}
	}
	if lock == nil {
		l, err := env.Store.Lock(ctx, name, cache.Wait{})
		if err != nil {
			env.Log.Debug("background refresh: not started", "err", err)
			return nil
		}
		lock = l
	}
	defer lock.Unlock()
	now := env.Now()
	if st, _, ok := execcache.Lookup(env.Store, id, now, r.Margin); ok {
		ahead := execcache.RefreshAhead(st.Stored, st.Expiration, r.Margin, tokencache.DefaultRefreshAhead)
		if !tokencache.RefreshDue(st.Expiration.Add(-r.Margin), now, ahead) {
			env.Log.Debug("background refresh: another process refreshed already")
			return nil
		}
	}
	key := id.Key()
	prev, hadBackoff := tokencache.ReadBackoff(env.Store, key)
	if hadBackoff && prev.InForce(key, now) {
		env.Log.Debug("background refresh: backing off", "until", prev.Until)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, backgroundLimit)
	defer cancel()
	env.Getenv, env.Environ = nonInteractive(env.Getenv, env.Environ)
	env.Stdin, env.Stdout = nil, io.Discard
	info := execcred.ReadInfo(env.Getenv)
	st, cacheable, err := runPlugin(ctx, env, id, info, r)
	if err == nil && (!cacheable || !execcache.Fits(id, st)) {
		err = errors.New("the plugin's new credential cannot be cached (no expirationTimestamp, one within the refresh margin, or too large)")
	}
	if err != nil {
		failures := 1
		if hadBackoff && prev.Key == key {
			failures = prev.Failures + 1
		}
		wait := tokencache.BackoffWait(failures)
		bo := tokencache.Backoff{Format: tokencache.BackoffFormat, Key: key, Failures: failures, Since: now, Until: now.Add(wait),
			Message: "the background refresh of " + r.Command + " failed: " + tokencache.Inert(err.Error())}
		if werr := env.Store.WriteUnsynced(tokencache.BackoffName(key), bo); werr != nil {
			env.Log.Debug("background refresh: backoff not recorded", "err", werr)
		}
		env.Log.Debug("background refresh failed", "err", err, "backoff", wait)
		return nil
	}
	if err := env.Store.Write(name, execcache.NewEntry(id, st, env.Now())); err != nil {
		env.Log.Debug("background refresh: cache write failed", "err", err)
		return nil
	}
	if hadBackoff {
		_ = env.Store.Remove(tokencache.BackoffName(key))
	}
	env.Log.Debug("background refresh done", "took", env.Now().Sub(now))
	return nil
}

// nonInteractive is the environment of a refresh nobody watches: kubectl's
// KUBERNETES_EXEC_INFO with spec.interactive false, so that a plugin that
// reads it does not start a prompt that no one can answer.
func nonInteractive(getenv func(string) string, environ []string) (func(string) string, []string) {
	raw := getenv(execcred.EnvVar)
	if raw == "" {
		return getenv, environ
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(raw), &info); err != nil {
		return getenv, environ
	}
	spec, _ := info["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
	}
	spec["interactive"] = false
	info["spec"] = spec
	b, err := json.Marshal(info)
	if err != nil {
		return getenv, environ
	}
	value := string(b)
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if len(kv) > len(execcred.EnvVar) && kv[:len(execcred.EnvVar)+1] == execcred.EnvVar+"=" {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, execcred.EnvVar+"="+value)
	return func(k string) string {
		if k == execcred.EnvVar {
			return value
		}
		return getenv(k)
	}, out
}
