package app

import (
	"errors"

	"github.com/ekstoken/ekstoken/internal/kubectllookup"
	"github.com/ekstoken/ekstoken/internal/setup"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type setupOptions struct {
	in setup.Input
}

func (o *setupOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.in.Kubeconfig, "kubeconfig", "", "the kubeconfig file to change (default: KUBECONFIG, then ~/.kube/config)")
	f.StringSliceVar(&o.in.Contexts, "context", nil, "only the users of these contexts")
	f.StringSliceVar(&o.in.Users, "user", nil, "only these users")
	f.BoolVar(&o.in.DryRun, "dry-run", false, "print the unified diff and change nothing")
	addCommandFlags(f, &o.in.Absolute, &o.in.Command)
	f.BoolVar(&o.in.Wrap, "wrap", false, "also cache the users of other exec plugins (gke-gcloud-auth-plugin, kubelogin, ...) by running them through ekstoken exec --")
	f.BoolVar(&o.in.Undo, "undo", false, "put back the users setup rewrote, keeping every other change made since")
}

func newSetupCommand(env *Env) *cobra.Command {
	o := &setupOptions{}
	c := &cobra.Command{
		Use:   "setup",
		Short: "Switch the EKS users of your kubeconfig to ekstoken (with --undo to go back)",
		Long: "setup rewrites the kubeconfig users that run `aws eks get-token`, `aws-iam-authenticator token`\n" +
			"or the eks-token-cache.sh script into equivalent ekstoken users: same cluster, region, profile,\n" +
			"role and env. Everything else in the file is kept byte for byte, comments included.\n\n" +
			"With --wrap, the users of other exec plugins (gke-gcloud-auth-plugin, kubelogin, any other) run\n" +
			"`ekstoken exec -- PLUGIN ARGS...` instead, which caches what the plugin prints until it expires;\n" +
			"their env, apiVersion and provideClusterInfo are kept.\n\n" +
			"It works on --kubeconfig, else every file in KUBECONFIG, else ~/.kube/config. Before writing, it\n" +
			"records the users it rewrites in ~/.kube/ekstoken/undo; --undo puts them back and keeps every\n" +
			"other change made since (a context switch, new clusters and users).",
		Example: "  ekstoken setup --dry-run\n  ekstoken setup\n  ekstoken setup --wrap --dry-run\n  ekstoken setup --context prod\n  ekstoken setup --undo",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.validate(c); err != nil {
				return err
			}
			return o.run(c, env)
		},
	}
	o.addFlags(c.Flags())
	return c
}

func (o *setupOptions) validate(c *cobra.Command) error {
	in := o.in
	if in.Undo && (in.DryRun || in.Wrap || in.Absolute || in.Command != "" || len(in.Contexts) > 0 || len(in.Users) > 0) {
		return usageError{cmd: c.CommandPath(), err: errors.New("--undo takes no other flag but --kubeconfig")}
	}
	if err := kubectllookup.CheckFlags(in.Command, in.Absolute); err != nil {
		return usageError{cmd: c.CommandPath(), err: err}
	}
	return nil
}

func (o *setupOptions) run(c *cobra.Command, env *Env) error {
	run := env.Setup
	if run == nil {
		run = setup.Run
	}
	return run(c.Context(), setup.Env{
		Getenv: env.Getenv, Home: env.Home, Stdout: env.Stdout, Stderr: env.Stderr,
		Now: env.Now, Executable: env.Executable,
	}, o.in)
}

// addCommandFlags adds --absolute and --command, which setup and
// update-kubeconfig share.
func addCommandFlags(f *pflag.FlagSet, absolute *bool, command *string) {
	f.BoolVar(absolute, "absolute", false, "write the full path of this ekstoken binary as the command (as PATH names it), even when ekstoken is on PATH")
	f.StringVar(command, "command", "", "write exactly this as the command (default: ekstoken when kubectl would find this binary on PATH, else its full path)")
}
