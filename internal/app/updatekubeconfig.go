package app

import (
	"errors"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/kubectllookup"
	"github.com/ekstoken/ekstoken/internal/updatekubeconfig"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type updateKubeconfigOptions struct {
	g  *globalOptions
	in updatekubeconfig.Input
}

func (o *updateKubeconfigOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.in.Name, "name", "", "name of the EKS cluster")
	f.BoolVar(&o.in.All, "all", false, "every cluster in the region")
	f.StringVar(&o.in.Alias, "alias", "", "context name (default: the cluster ARN)")
	f.StringVar(&o.in.UserAlias, "user-alias", "", "user name (default: the cluster ARN)")
	f.StringVar(&o.in.RoleARN, "role-arn", "", "role for ekstoken to assume when signing (also used to describe the cluster)")
	f.StringVar(&o.in.Kubeconfig, "kubeconfig", "", "kubeconfig to write (default: the first file in KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&o.in.Endpoint, "endpoint-url", "", "EKS API endpoint (default: AWS_ENDPOINT_URL_EKS, AWS_ENDPOINT_URL, then the region's)")
	f.BoolVar(&o.in.DryRun, "dry-run", false, "print the unified diff and change nothing")
	addCommandFlags(f, &o.in.Absolute, &o.in.Command)
	f.BoolVar(&o.in.SetCurrent, "set-current", false, "make the new context the current-context (default: true with --name, as the aws CLI does; false with --all)")
}

func newUpdateKubeconfigCommand(env *Env, g *globalOptions) *cobra.Command {
	o := &updateKubeconfigOptions{g: g}
	c := &cobra.Command{
		Use:   "update-kubeconfig",
		Short: "Add an EKS cluster to your kubeconfig, served by ekstoken (like aws eks update-kubeconfig)",
		Long: "update-kubeconfig reads the cluster's endpoint and certificate authority with eks:DescribeCluster\n" +
			"and adds or replaces its cluster, user and context in the kubeconfig, with a user that runs\n" +
			"ekstoken. Local clusters on AWS Outposts get --cluster-id. The rest of the file is kept byte for\n" +
			"byte; like the aws CLI's, it keeps no copy of the file. A user it replaces keeps its\n" +
			"interactiveMode. Clusters whose endpoint or certificate kubectl could not use are refused,\n" +
			"and then nothing is written.\n\n" +
			"With --name the new context becomes the current-context, as with the aws CLI\n" +
			"(--set-current=false keeps yours). --all leaves current-context alone unless --set-current\n" +
			"is given, which makes the last cluster listed current.",
		Example: "  ekstoken update-kubeconfig --name prod --region eu-west-1\n" +
			"  ekstoken update-kubeconfig --all --region eu-west-1 --profile admin",
		Args: noArgs,
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

func (o *updateKubeconfigOptions) validate(c *cobra.Command) error {
	in := &o.in
	switch {
	case (in.Name == "") == !in.All:
		return usageError{cmd: c.CommandPath(), err: errors.New("give either --name or --all")}
	case in.All && (in.Alias != "" || in.UserAlias != ""):
		return usageError{cmd: c.CommandPath(), err: errors.New("--alias and --user-alias name one cluster: not with --all")}
	}
	if err := kubectllookup.CheckFlags(in.Command, in.Absolute); err != nil {
		return usageError{cmd: c.CommandPath(), err: err}
	}
	if !c.Flags().Changed("set-current") {
		// As the aws CLI does with one cluster; --all adds clusters
		// without choosing one.
		in.SetCurrent = !in.All
	}
	return nil
}

func (o *updateKubeconfigOptions) run(c *cobra.Command, env *Env) error {
	o.in.Region, o.in.Profile = o.g.region, o.g.profile
	run := env.UpdateKubeconfig
	if run == nil {
		run = updatekubeconfig.Run
	}
	return run(c.Context(), updatekubeconfig.Env{
		Getenv: env.Getenv, Home: env.Home, Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr,
		Now: env.Now, IsTerminal: env.IsTerminal, Executable: env.Executable, Resolve: awsauth.Resolve,
	}, o.in)
}
