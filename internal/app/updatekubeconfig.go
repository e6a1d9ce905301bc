package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/eksapi"
	"github.com/ekstoken/ekstoken/internal/kubeconfig"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/spf13/cobra"
)

type updateKubeconfigOptions struct {
	name, alias, userAlias, roleARN string
	kubeconfig, endpoint            string
	command                         string
	all, dryRun, absolute           bool
}

func newUpdateKubeconfigCommand(env *Env, g *globalOptions) *cobra.Command {
	o := &updateKubeconfigOptions{}
	c := &cobra.Command{
		Use:   "update-kubeconfig",
		Short: "Add an EKS cluster to your kubeconfig, served by ekstoken (like aws eks update-kubeconfig)",
		Long: "update-kubeconfig reads the cluster's endpoint and certificate authority with eks:DescribeCluster\n" +
			"and adds or replaces its cluster, user and context in the kubeconfig, with a user that runs\n" +
			"ekstoken. Local clusters on AWS Outposts get --cluster-id. The rest of the file is kept byte for\n" +
			"byte and the original is saved beside it, as with setup.",
		Example: "  ekstoken update-kubeconfig --name prod --region eu-west-1\n" +
			"  ekstoken update-kubeconfig --all --region eu-west-1 --profile admin",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if (o.name == "") == !o.all {
				return usageError{cmd: c.CommandPath(), err: errors.New("give either --name or --all")}
			}
			if o.all && (o.alias != "" || o.userAlias != "") {
				return usageError{cmd: c.CommandPath(), err: errors.New("--alias and --user-alias name one cluster: not with --all")}
			}
			if err := checkCommandFlags(o.command, o.absolute); err != nil {
				return usageError{cmd: c.CommandPath(), err: err}
			}
			return o.run(c, env, g)
		},
	}
	f := c.Flags()
	f.StringVar(&o.name, "name", "", "name of the EKS cluster")
	f.BoolVar(&o.all, "all", false, "every cluster in the region")
	f.StringVar(&o.alias, "alias", "", "context name (default: the cluster ARN)")
	f.StringVar(&o.userAlias, "user-alias", "", "user name (default: the cluster ARN)")
	f.StringVar(&o.roleARN, "role-arn", "", "role for ekstoken to assume when signing (also used to describe the cluster)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig to write (default: the first file in KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&o.endpoint, "endpoint-url", "", "EKS API endpoint (default: AWS_ENDPOINT_URL_EKS, AWS_ENDPOINT_URL, then the region's)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the unified diff and change nothing")
	addCommandFlags(f, &o.absolute, &o.command)
	return c
}

func (o *updateKubeconfigOptions) run(c *cobra.Command, env *Env, g *globalOptions) error {
	ctx := c.Context()
	id := tokencache.NewIdentity(tokencache.Request{Region: g.region, Profile: g.profile}, env.Getenv, env.Home)
	opts := awsauth.Options{
		Region: g.region, Profile: g.profile, RoleARN: o.roleARN, SessionName: tokencache.DefaultSessionName,
		EffectiveProfile: id.Profile, ConfigFile: id.Config.Path, CredentialsFile: id.Credentials.Path,
	}
	if env.IsTerminal != nil && env.IsTerminal() {
		opts.MFACode = awsauth.TerminalPrompt(env.Stdin, env.Stderr)
	}
	res, err := awsauth.Resolve(ctx, opts)
	if err != nil {
		return err
	}
	api := eksapi.Client{Config: res.Config, Now: env.Now,
		Endpoint: firstNonEmpty(o.endpoint, env.Getenv("AWS_ENDPOINT_URL_EKS"), env.Getenv("AWS_ENDPOINT_URL"))}
	names := []string{o.name}
	if o.all {
		if names, err = api.List(ctx); err != nil {
			return err
		}
		if len(names) == 0 {
			return fmt.Errorf("no EKS clusters in %s", res.Config.Region)
		}
	}
	files, err := kubeconfigFiles(env, o.kubeconfig)
	if err != nil {
		return err
	}
	path := files[0]
	src, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	choice, err := execCommand(env, o.command, o.absolute)
	if err != nil {
		return err
	}
	command := choice.command
	if choice.note != "" {
		fmt.Fprintln(env.Stderr, choice.note)
	}
	out := src
	for i, name := range names {
		cl, err := api.Describe(ctx, name)
		if err != nil {
			return err
		}
		if cl.Endpoint == "" || cl.CertificateAuthority.Data == "" {
			return fmt.Errorf("EKS cluster %q has no endpoint or certificate yet (status %s): wait until it is ACTIVE", name, cl.Status)
		}
		args := []string{"token", "--cluster-name", cl.Name}
		if cl.IsLocalOutposts() {
			args = []string{"token", "--cluster-id", cl.ID}
		}
		args = append(args, "--region", res.Config.Region)
		if o.roleARN != "" {
			args = append(args, "--role-arn", o.roleARN)
		}
		e := kubeconfig.Entry{
			ClusterName: cl.ARN, Server: cl.Endpoint, CAData: cl.CertificateAuthority.Data,
			UserName: firstNonEmpty(o.userAlias, cl.ARN), ContextName: firstNonEmpty(o.alias, cl.ARN),
			SetCurrent: i == len(names)-1,
			Exec:       kubeconfig.Exec{APIVersion: kubeconfig.APIVersionV1Beta1, Command: command, Args: args},
		}
		// As the aws CLI does: a profile in use is written as AWS_PROFILE.
		if p := firstNonEmpty(g.profile, env.Getenv("AWS_PROFILE"), env.Getenv("AWS_DEFAULT_PROFILE")); p != "" {
			e.Exec.Env = []kubeconfig.EnvVar{{Name: "AWS_PROFILE", Value: p}}
		}
		if out, err = kubeconfig.Upsert(out, e); err != nil {
			return fmt.Errorf("%s: %w; the file is left untouched", path, err)
		}
		fmt.Fprintf(env.Stderr, "context %s for cluster %s (%s)\n", e.ContextName, cl.Name, cl.Endpoint)
	}
	if string(out) == string(src) {
		fmt.Fprintf(env.Stderr, "%s: already up to date\n", path)
		return nil
	}
	if o.dryRun {
		fmt.Fprint(env.Stdout, kubeconfig.Diff(path, src, out))
		fmt.Fprintln(env.Stderr, "dry run: nothing was written; run without --dry-run to apply")
		return nil
	}
	backup, err := kubeconfig.Write(path, src, out, env.Now()) // src is nil for a new file
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if backup != "" {
		fmt.Fprintf(env.Stderr, "%s: updated; the original is saved as %s\n", path, backup)
	} else {
		fmt.Fprintf(env.Stderr, "%s: written\n", path)
	}
	return nil
}
