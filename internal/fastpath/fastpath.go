// Package fastpath serves a cache hit before the AWS SDK is initialized.
//
// Go runs the init of every linked package before main. aws-sdk-go-v2's
// config, STS, SSO and sign-in clients build endpoint tables and schemas
// there: about 3.5 ms on the machines we measured, more than a whole cache
// hit. Since Go 1.21 the spec fixes the order of package initialization:
// repeatedly, the first package in import-path order whose imports are
// all initialized. Serve is called from the init of cmd/ekstoken/internal/hit,
// which imports only this package; the hit path's whole import graph is a
// few light standard-library packages (os, time, strconv, unicode/utf8,
// encoding/base64, hash/crc64) and this module's stdlib-light packages
// (tokencache, entryfile, execcred, token, jsonlite, strlite, sha256lite,
// debugenv). Nothing on it waits on package unicode, crypto or reflect, so
// that init runs right after package os, before the SDK's packages and the
// standard library's heavy ones. TestHitSkipsSDKInit and
// TestImportsStayLight in cmd/ekstoken check that on every CI run.
//
// Serve declines, having written nothing, whenever the full program must
// run: a miss, --help, a flag it does not know, --no-cache, --force-refresh,
// --debug. The full program then parses the same arguments with cobra and
// looks the cache up again; FuzzFastPathParsesLikeCobra in internal/app
// keeps the two parsers in step.
package fastpath

import (
	"io"
	"time"

	"github.com/ekstoken/ekstoken/internal/debugenv"
	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/strlite"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// Env is the part of the operating system the hit path needs.
type Env struct {
	Args   []string // without the program name
	Getenv func(string) string
	// Environ is the whole environment, which keys `exec` entries; nil
	// is an empty one.
	Environ func() []string
	Stdout  io.Writer
	Stderr  io.Writer
	Now     func() time.Time
	Home    string
	// StartRefresh starts the background refresh of the identity whose
	// lock file is lockPath (see internal/background); nil never starts one.
	StartRefresh func(lockPath string) (bool, error)
	// StartExecRefresh is StartRefresh for `exec`, whose flag goes before
	// the wrapped plugin's arguments.
	StartExecRefresh func(lockPath string) (bool, error)
}

// Request is a token request as the command line gives it.
type Request struct {
	tokencache.Request
	Margin       time.Duration
	RefreshAhead time.Duration
	CacheDir     string
	Debug        bool
	NoCache      bool
	ForceRefresh bool
}

// Serve prints the ExecCredential for a cache hit and reports true, or
// reports false having printed nothing. A failed write to stdout still
// reports true, with the error: the full program could do no better.
func Serve(env Env) (bool, error) {
	if len(env.Args) > 0 && env.Args[0] == "exec" {
		if debugenv.Enabled(env.Getenv) {
			return false, nil
		}
		return serveExec(env)
	}
	r, ok := Parse(env.Args)
	// --debug runs take the full program, which logs the hit as well; this
	// keeps log/slog, and the time it takes to initialize, off the hit.
	if !ok || r.NoCache || r.ForceRefresh || r.Debug || debugenv.Enabled(env.Getenv) {
		return false, nil
	}
	if r.CacheDir == "" {
		r.CacheDir = tokencache.DefaultDir(env.Getenv, env.Home)
		if r.CacheDir == "" {
			return false, nil
		}
	}
	id := tokencache.NewIdentity(r.Request, env.Getenv, env.Home)
	dir, now := entryfile.Dir(r.CacheDir), env.Now()
	cred, _, ok := tokencache.Lookup(dir, id, now, r.Margin)
	if !ok {
		return false, nil
	}
	// Build the whole answer before printing any of it: past this point
	// nothing may fall back to the full program.
	info := execcred.ReadInfo(env.Getenv)
	out := execcred.Marshal(info.APIVersion, cred)
	if info.Warning != "" {
		_, _ = io.WriteString(env.Stderr, info.Warning+"\n")
	}
	_, err := env.Stdout.Write(out)
	if err == nil && env.StartRefresh != nil && tokencache.RefreshDue(cred.Expiration, now, r.RefreshAhead) {
		// Printed first: kubectl has its token whatever happens here. A
		// refresh that cannot start costs nothing but the next miss.
		key := id.Key()
		if bo, ok := tokencache.ReadBackoff(dir, key); !ok || !bo.InForce(key, now) {
			_, _ = env.StartRefresh(dir.LockPath(id.Name()))
		}
	}
	return true, err
}

// valueFlags and boolFlags are every flag of `token`, `eks get-token` and
// the root command. A flag outside them makes Parse decline.
var (
	valueFlags = map[string]bool{
		"region": true, "profile": true, "cache-dir": true,
		"cluster-name": true, "cluster-id": true, "role-arn": true, "role": true,
		"session-name": true, "external-id": true, "refresh-margin": true, "refresh-ahead": true, "output": true,
	}
	// globalFlags are the root's persistent flags, valid anywhere.
	globalFlags = map[string]bool{"region": true, "profile": true, "cache-dir": true, "debug": true}
	// no-credential-cache and sso-login only matter on a miss. The hidden
	// --background, the refresh a hit starts, is left to the full program:
	// it is not a request for a token.
	boolFlags = map[string]bool{"debug": true, "no-cache": true, "force-refresh": true, "no-credential-cache": true, "sso-login": true}
)

// Flags lists the flags Parse understands, for the parity test.
func Flags() []string {
	names := []string{"background"}
	for n := range valueFlags {
		names = append(names, n)
	}
	for n := range boolFlags {
		names = append(names, n)
	}
	return names
}

func commandComplete(words []string) bool {
	switch len(words) {
	case 1:
		return words[0] == "token"
	case 2:
		return words[0] == "eks" && words[1] == "get-token"
	}
	return false
}

// Parse reads `token ...` and `[globals] eks get-token ...` command lines
// the way the cobra tree does, and declines anything unusual: an unknown or
// repeated flag, a short flag, a positional argument, --help, a bad value.
func Parse(args []string) (Request, bool) {
	r := Request{Margin: tokencache.DefaultMargin, RefreshAhead: tokencache.DefaultRefreshAhead}
	r.SessionName = tokencache.DefaultSessionName
	var words []string
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		long, isLong := strlite.CutPrefix(a, "--")
		name, value, hasValue := strlite.Cut(long, "=")
		switch {
		case !strlite.HasPrefix(a, "-"):
			words = append(words, a)
			continue
		case !isLong || a == "--" || seen[name]:
			return Request{}, false
		case boolFlags[name] && !hasValue:
			value = "true"
		case valueFlags[name] && !hasValue:
			if i+1 >= len(args) {
				return Request{}, false
			}
			i++
			value = args[i]
		case !valueFlags[name]:
			return Request{}, false
		}
		// Cobra knows a command's own flags only once the command words
		// are complete; before that only the root's are flags.
		if !globalFlags[name] && !commandComplete(words) {
			return Request{}, false
		}
		seen[name] = true
		if !r.set(name, value) {
			return Request{}, false
		}
	}
	if !commandComplete(words) {
		return Request{}, false
	}
	if (r.ClusterName == "") == (r.ClusterID == "") || tokencache.CheckRefresh(r.Margin, r.RefreshAhead) != "" {
		return Request{}, false
	}
	r.RefreshAhead = tokencache.EffectiveAhead(r.Margin, r.RefreshAhead)
	// Role flags without the role are a usage error of the full program.
	if r.RoleARN == "" && (r.ExternalID != "" || r.SessionName != tokencache.DefaultSessionName) {
		return Request{}, false
	}
	return r, true
}

func (r *Request) set(name, value string) bool {
	switch name {
	case "region":
		r.Region = value
	case "profile":
		r.Profile = value
	case "cache-dir":
		r.CacheDir = value
	case "cluster-name":
		r.ClusterName = value
	case "cluster-id":
		r.ClusterID = value
	case "role-arn", "role":
		if r.RoleARN != "" {
			return false
		}
		r.RoleARN = value
	case "session-name":
		r.SessionName = value
	case "external-id":
		r.ExternalID = value
	case "output":
		return value == "json"
	case "refresh-margin":
		m, err := time.ParseDuration(value)
		if err != nil {
			return false
		}
		r.Margin = m
	case "refresh-ahead":
		a, err := time.ParseDuration(value)
		if err != nil {
			return false
		}
		r.RefreshAhead = a
	case "debug":
		r.Debug = true
	case "no-cache":
		r.NoCache = true
	case "force-refresh":
		r.ForceRefresh = true
	}
	return true
}
