package app

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/background"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/execcache"
	"github.com/ekstoken/ekstoken/internal/execwrap"
	"github.com/spf13/cobra"
)

func newExecCommand(env *Env, g *globalOptions) *cobra.Command {
	var (
		r            execcache.Request
		noCache      bool
		inBackground bool
	)
	c := &cobra.Command{
		Use:   "exec [flags] -- COMMAND [ARGS...]",
		Short: "Cache the ExecCredential of any kubectl exec credential plugin (gke-gcloud-auth-plugin, kubelogin, ...)",
		Long: "exec runs COMMAND, a kubectl exec credential plugin, with the environment kubectl gave, and caches the\n" +
			"ExecCredential it prints until its expirationTimestamp less --refresh-margin. Later runs with the same\n" +
			"identity are answered from the cache without running COMMAND. The identity is COMMAND (resolved on PATH),\n" +
			"its arguments, the cluster and apiVersion kubectl passes, and these environment variables (by prefix):\n" +
			knownEnvHelp() +
			"plus every --key-env NAME. A credential without expirationTimestamp is not cached unless --ttl is given.",
		Example: "  ekstoken exec -- gke-gcloud-auth-plugin\n" +
			"  ekstoken exec --key-env CORP_SSO_ROLE -- corp-sso kube-token --cluster prod",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{cmd: c.CommandPath(), err: errors.New("missing the plugin to run: ekstoken exec -- COMMAND [ARGS...]")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if g.region != "" || g.profile != "" {
				return usageError{cmd: c.CommandPath(), err: errors.New("--region and --profile are for EKS tokens: pass them to the wrapped plugin, after --")}
			}
			if r.Margin < 0 || r.TTL < 0 {
				return usageError{cmd: c.CommandPath(), err: errors.New("--refresh-margin and --ttl cannot be negative")}
			}
			for _, n := range r.KeyEnv {
				if n == "" || strings.ContainsAny(n, "=\x00") {
					return usageError{cmd: c.CommandPath(), err: fmt.Errorf("--key-env %q is not a variable name", n)}
				}
			}
			r.Command, r.Args = args[0], args[1:]
			xenv := execwrap.Env{
				Now: env.Now, Getenv: env.Getenv,
				Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr,
				Log: g.logger(env),
				// A browser login in another terminal can take minutes.
				LockWait: cache.Wait{Short: lockTimeout, Long: 5 * time.Minute, Waiting: func(what string) {
					fmt.Fprintf(env.Stderr, "ekstoken: another ekstoken is waiting for %s in another terminal; waiting up to 5m for it\n", what)
				}},
			}
			if env.Environ != nil {
				xenv.Environ = env.Environ()
			}
			if !noCache {
				dir, err := g.resolveCacheDir(env)
				if err != nil {
					xenv.Log.Debug("cache off", "err", err)
				} else {
					xenv.Store = &cache.Store{Dir: dir}
				}
			}
			xenv.HandedLock = env.HandedLock
			run := env.Exec
			switch {
			case run != nil:
			case inBackground:
				run = execwrap.Background
			default:
				run = execwrap.Run
			}
			return run(c.Context(), xenv, r)
		},
	}
	f := c.Flags()
	// Everything after COMMAND is the plugin's, flags included.
	f.SetInterspersed(false)
	f.StringArrayVar(&r.KeyEnv, "key-env", nil, "another environment variable that changes who the plugin authenticates as (repeatable)")
	f.DurationVar(&r.TTL, "ttl", 0, "keep a credential without expirationTimestamp this long (default: not cached)")
	f.DurationVar(&r.Margin, "refresh-margin", execcache.DefaultMargin, "stop serving a credential this long before it expires")
	f.BoolVar(&noCache, "no-cache", false, "run the plugin every time, neither reading nor writing the cache")
	// The background refresh a hit starts is this command with this flag.
	f.BoolVar(&inBackground, strings.TrimPrefix(background.Flag, "--"), false, "run as the background refresh a cache hit starts")
	_ = f.MarkHidden(strings.TrimPrefix(background.Flag, "--"))
	return c
}

func knownEnvHelp() string {
	known := execcache.KnownPlugins()
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %s: %s*\n", n, strings.Join(known[n], "*, "))
	}
	return b.String()
}
