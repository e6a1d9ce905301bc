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
	"gopkg.in/yaml.v3"
)

type updateKubeconfigOptions struct {
	name, alias, userAlias, roleARN string
	kubeconfig, endpoint            string
	command                         string
	all, dryRun, absolute           bool
	// setCurrent switches current-context to the (last) cluster written:
	// by default with --name, as `aws eks update-kubeconfig` does, and only
	// when asked with --all, which adds clusters without choosing one.
	setCurrent bool
}

func newUpdateKubeconfigCommand(env *Env, g *globalOptions) *cobra.Command {
	o := &updateKubeconfigOptions{}
	c := &cobra.Command{
		Use:   "update-kubeconfig",
		Short: "Add an EKS cluster to your kubeconfig, served by ekstoken (like aws eks update-kubeconfig)",
		Long: "update-kubeconfig reads the cluster's endpoint and certificate authority with eks:DescribeCluster\n" +
			"and adds or replaces its cluster, user and context in the kubeconfig, with a user that runs\n" +
			"ekstoken. Local clusters on AWS Outposts get --cluster-id. The rest of the file is kept byte for\n" +
			"byte and the original is saved beside it, as with setup. A user it replaces keeps its\n" +
			"interactiveMode.\n\n" +
			"With --name the new context becomes the current-context, as with the aws CLI\n" +
			"(--set-current=false keeps yours). --all leaves current-context alone unless --set-current\n" +
			"is given, which makes the last cluster listed current.",
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
			if !c.Flags().Changed("set-current") {
				o.setCurrent = !o.all
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
	f.BoolVar(&o.setCurrent, "set-current", false, "make the new context the current-context (default: true with --name, as the aws CLI does; false with --all)")
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
		if err := cl.Check(name); err != nil {
			return err
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
			SetCurrent: o.setCurrent && i == len(names)-1,
			Exec:       kubeconfig.Exec{APIVersion: kubeconfig.APIVersionV1Beta1, Command: command, Args: args},
		}
		// As the aws CLI does: a profile in use is written as AWS_PROFILE.
		if p := firstNonEmpty(g.profile, env.Getenv("AWS_PROFILE"), env.Getenv("AWS_DEFAULT_PROFILE")); p != "" {
			e.Exec.Env = []kubeconfig.EnvVar{{Name: "AWS_PROFILE", Value: p}}
		}
		var outcome kubeconfig.Outcome
		if out, outcome, err = kubeconfig.UpsertOutcome(out, e); err != nil {
			return fmt.Errorf("%s: %w; the file is left untouched", path, err)
		}
		fmt.Fprintln(env.Stderr, outcomeLine(outcome, e.ContextName, path, o.dryRun))
	}
	if !o.setCurrent {
		if cur := currentContext(out); cur != "" {
			fmt.Fprintf(env.Stderr, "current-context stays %s (switch with kubectl config use-context, or pass --set-current)\n", cur)
		} else {
			fmt.Fprintln(env.Stderr, "no current-context is set: choose one with kubectl config use-context, or pass --set-current")
		}
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
	if err := kubeconfig.Write(path, src, out); err != nil { // src is nil for a new file
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(env.Stderr, "%s: written\n", path)
	return nil
}

// currentContext is the current-context of kubeconfig src, or "".
func currentContext(src []byte) string {
	var kc struct {
		Current string `yaml:"current-context"`
	}
	if yaml.Unmarshal(src, &kc) != nil {
		return ""
	}
	return kc.Current
}

// outcomeLine says what happened to a context in the aws CLI's words
// ("Added new context ... to ...", "Updated context ... in ..."), so
// people and scripts that know it read them.
func outcomeLine(o kubeconfig.Outcome, context, path string, dryRun bool) string {
	switch {
	case o == kubeconfig.Added && dryRun:
		return fmt.Sprintf("Would add new context %s to %s", context, path)
	case o == kubeconfig.Added:
		return fmt.Sprintf("Added new context %s to %s", context, path)
	case o == kubeconfig.Updated && dryRun:
		return fmt.Sprintf("Would update context %s in %s", context, path)
	case o == kubeconfig.Updated:
		return fmt.Sprintf("Updated context %s in %s", context, path)
	}
	return fmt.Sprintf("Context %s in %s is up to date", context, path)
}
