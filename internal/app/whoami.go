package app

import (
	"errors"
	"fmt"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/doctor"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type whoamiOptions struct {
	g      *globalOptions
	in     doctor.WhoamiInput
	output string
}

func (o *whoamiOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.in.Context, "context", "", "kubeconfig context to ask about (default: the current context)")
	f.StringVar(&o.in.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
	r := &o.in.Request
	f.StringVar(&r.ClusterName, "cluster-name", "", "EKS cluster to sign for, instead of a context (only the AWS identity is shown)")
	f.StringVar(&r.ClusterID, "cluster-id", "", "ID of an EKS local cluster on AWS Outposts (instead of --cluster-name)")
	f.StringVar(&r.RoleARN, "role-arn", "", "IAM role to assume, as the token command does")
	f.StringVar(&r.RoleARN, "role", "", "alias of --role-arn")
	_ = f.MarkHidden("role")
	f.StringVar(&r.SessionName, "session-name", "", "role session name with --role-arn")
	f.StringVar(&r.ExternalID, "external-id", "", "external ID with --role-arn")
	f.StringVarP(&o.output, "output", "o", "text", "text or json")
}

func newWhoamiCommand(env *Env, g *globalOptions) *cobra.Command {
	o := &whoamiOptions{g: g}
	c := &cobra.Command{
		Use:   "whoami",
		Short: "Show the AWS identity a context signs with, and the Kubernetes user the cluster makes of it",
		Long: "whoami resolves the credentials the kubeconfig context's ekstoken (or aws eks get-token) user\n" +
			"signs with, asks STS who they are (account, ARN, and the role behind an assumed role), and asks\n" +
			"the cluster with a fresh token which Kubernetes user and groups that identity maps to, as\n" +
			"kubectl auth whoami does. With the token command's flags (--cluster-name, --region, --profile,\n" +
			"--role-arn...) instead of a context it shows the AWS identity alone. It writes nothing, and\n" +
			"exits 1 when a check fails, saying what to do.",
		Example: "  ekstoken whoami\n  ekstoken whoami --context prod -o json\n  ekstoken whoami --profile admin --region eu-west-1",
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

func (o *whoamiOptions) validate(c *cobra.Command) error {
	r := o.in.Request
	awsFlags := o.g.region != "" || o.g.profile != "" || r.ClusterName != "" || r.ClusterID != "" ||
		r.RoleARN != "" || r.SessionName != "" || r.ExternalID != ""
	kubeFlags := o.in.Context != "" || o.in.Kubeconfig != ""
	switch {
	case o.output != "text" && o.output != "json":
		return usageError{cmd: c.CommandPath(), err: fmt.Errorf("--output %q: use text or json", o.output)}
	case awsFlags && kubeFlags:
		return usageError{cmd: c.CommandPath(), err: errors.New("--context and --kubeconfig take the region, profile and cluster from the context's user: drop them, or the token flags")}
	case r.ClusterName != "" && r.ClusterID != "":
		return usageError{cmd: c.CommandPath(), err: errors.New("--cluster-name and --cluster-id cannot be used together")}
	case r.RoleARN == "" && (r.SessionName != "" || r.ExternalID != ""):
		return usageError{cmd: c.CommandPath(), err: errors.New("--session-name and --external-id need --role-arn")}
	}
	o.in.FromKubeconfig = !awsFlags
	return nil
}

func (o *whoamiOptions) run(c *cobra.Command, env *Env) error {
	o.in.Request.Region, o.in.Request.Profile = o.g.region, o.g.profile
	denv := doctor.WhoamiEnv{Getenv: env.Getenv, Home: env.Home, Now: env.Now, Resolve: awsauth.Resolve}
	if env.IsTerminal != nil && env.IsTerminal() {
		denv.MFACode = awsauth.TerminalPrompt(env.Stdin, env.Stderr)
	}
	res, err := doctor.Whoami(c.Context(), denv, o.in)
	if err != nil {
		return err
	}
	if err := doctor.WriteWhoami(env.Stdout, res, o.output == "json"); err != nil {
		return err
	}
	if f, failed := res.Failed(); failed {
		msg := f.Name + ": " + f.Detail
		if f.Fix != "" {
			msg += "\n  next: " + f.Fix
		}
		return errors.New(msg)
	}
	return nil
}
