package fastpath

import (
	"io"
	"time"

	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/execcache"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/strlite"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// ExecRequest is an `ekstoken exec` command line.
type ExecRequest struct {
	execcache.Request
	CacheDir string
}

// ExecFlags lists the flags of `exec` that ParseExec understands, for the
// parity test; any other declines.
func ExecFlags() []string { return []string{"cache-dir", "refresh-margin", "ttl", "key-env"} }

// ParseExec reads `exec [flags] [--] COMMAND [ARGS...]` as the cobra
// command does (flags stop at the first word that is not one, or at --),
// and declines anything unusual: a flag it does not know (--debug,
// --no-cache, --help), a short flag, a repeated flag other than
// --key-env, a bad or negative duration, no COMMAND.
func ParseExec(args []string) (ExecRequest, bool) {
	if len(args) == 0 || args[0] != "exec" {
		return ExecRequest{}, false
	}
	r := ExecRequest{Request: execcache.Request{Margin: execcache.DefaultMargin}}
	seen := map[string]bool{}
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strlite.HasPrefix(a, "-") {
			break
		}
		long, isLong := strlite.CutPrefix(a, "--")
		name, value, hasValue := strlite.Cut(long, "=")
		if !isLong || (seen[name] && name != "key-env") {
			return ExecRequest{}, false
		}
		switch name {
		case "cache-dir", "refresh-margin", "ttl", "key-env":
		default:
			return ExecRequest{}, false
		}
		if !hasValue {
			if i+1 >= len(args) {
				return ExecRequest{}, false
			}
			i++
			value = args[i]
		}
		seen[name] = true
		switch name {
		case "cache-dir":
			r.CacheDir = value
		case "key-env":
			if value == "" || strlite.Index(value, "=") >= 0 || strlite.Index(value, "\x00") >= 0 {
				return ExecRequest{}, false
			}
			r.KeyEnv = append(r.KeyEnv, value)
		default:
			d, err := time.ParseDuration(value)
			if err != nil || d < 0 {
				return ExecRequest{}, false
			}
			if name == "ttl" {
				r.TTL = d
			} else {
				r.Margin = d
			}
		}
	}
	if i >= len(args) {
		return ExecRequest{}, false
	}
	r.Command, r.Args = args[i], args[i+1:]
	return r, true
}

// serveExec is Serve for `ekstoken exec`: the cached answer of a wrapped
// plugin, or a decline.
func serveExec(env Env) (bool, error) {
	r, ok := ParseExec(env.Args)
	if !ok {
		return false, nil
	}
	if r.CacheDir == "" {
		r.CacheDir = tokencache.DefaultDir(env.Getenv, env.Home)
		if r.CacheDir == "" {
			return false, nil
		}
	}
	var environ []string
	if env.Environ != nil {
		environ = env.Environ()
	}
	id := execcache.NewIdentity(r.Request, env.Getenv, environ)
	st, _, ok := execcache.Lookup(entryfile.Dir(r.CacheDir), id, env.Now(), r.Margin)
	if !ok {
		return false, nil
	}
	info := execcred.ReadInfo(env.Getenv)
	out := execcache.Marshal(info.APIVersion, st)
	if info.Warning != "" {
		_, _ = io.WriteString(env.Stderr, info.Warning+"\n")
	}
	_, err := env.Stdout.Write(out)
	now := env.Now()
	ahead := execcache.RefreshAhead(st.Stored, st.Expiration, r.Margin, tokencache.DefaultRefreshAhead)
	if err == nil && env.StartExecRefresh != nil && tokencache.RefreshDue(st.Expiration.Add(-r.Margin), now, ahead) {
		// Printed first, as for tokens: kubectl has its credential
		// whatever happens here.
		key := id.Key()
		if bo, ok := tokencache.ReadBackoff(entryfile.Dir(r.CacheDir), key); !ok || !bo.InForce(key, now) {
			_, _ = env.StartExecRefresh(entryfile.Dir(r.CacheDir).LockPath(id.Name()))
		}
	}
	return true, err
}
