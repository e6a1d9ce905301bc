package app

import (
	"fmt"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/cachestatus"
	"github.com/spf13/cobra"
)

func newStatusCommand(env *Env, g *globalOptions) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "status",
		Short: "List cached tokens and credentials, and when they expire",
		Long: "status lists what ekstoken keeps in its cache directory: one token per cluster and identity,\n" +
			"and the expiring credentials (assumed roles, MFA, SSO, credential_process) that signed them.\n" +
			"It shows key IDs, never secret keys or tokens.",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{cmd: c.CommandPath(), err: fmt.Errorf("--output %q: use table or json", output)}
			}
			dir, err := g.resolveCacheDir(env)
			if err != nil {
				return err
			}
			items, err := cachestatus.List(cache.Store{Dir: dir}, env.Now())
			if err != nil {
				return err
			}
			if output == "json" {
				return cachestatus.WriteJSON(env.Stdout, items)
			}
			if len(items) == 0 {
				_, err := fmt.Fprintf(env.Stdout, "no cached entries in %s\n", dir)
				return err
			}
			return cachestatus.WriteTable(env.Stdout, items, env.Now())
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return c
}

func newClearCommand(env *Env, g *globalOptions) *cobra.Command {
	var cluster string
	c := &cobra.Command{
		Use:   "clear",
		Short: "Remove cached tokens and credentials (all, or by --cluster, --profile, --region)",
		Long: "clear removes ekstoken's cache entries and their lock files, and the temp files of interrupted runs.\n" +
			"It removes only what ekstoken wrote: files of its name pattern and format, owned by you; anything else in\n" +
			"the directory stays. With no filter it removes every entry, cached credentials and unreadable entries\n" +
			"included. --profile also removes that profile's cached credentials; --cluster and --region keep them, since\n" +
			"every cluster of a profile shares them. To renew one token instead, run the token command with --force-refresh.",
		Example: "  ekstoken clear\n  ekstoken clear --cluster prod\n  ekstoken clear --profile dev",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			dir, err := g.resolveCacheDir(env)
			if err != nil {
				return err
			}
			res, err := cachestatus.Clear(cache.Store{Dir: dir},
				cachestatus.Filter{Cluster: cluster, Profile: g.profile, Region: g.region}, env.Now())
			if err != nil {
				return err
			}
			n := res.Removed
			msg := fmt.Sprintf("removed %d cache %s from %s", n, plural(n, "entry", "entries"), dir)
			if left := res.Temps + res.Locks; left > 0 {
				msg += fmt.Sprintf(", and %d %s left by interrupted runs", left, plural(left, "file", "files"))
			}
			if k := res.KeptCredentials; k > 0 {
				msg += fmt.Sprintf("\nkept %d cached credential %s: every cluster of a profile shares them; to remove them too, run `ekstoken clear --profile NAME` (or `ekstoken clear` for everything)",
					k, plural(k, "session", "sessions"))
			}
			_, err = fmt.Fprintln(env.Stderr, msg)
			return err
		},
	}
	c.Flags().StringVar(&cluster, "cluster", "", "only entries of this cluster name or ID")
	return c
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
