package app

import (
	"errors"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/discover"
	"github.com/ekstoken/ekstoken/internal/kubectllookup"
	"github.com/spf13/cobra"
)

func newDiscoverCommand(env *Env) *cobra.Command {
	var in discover.Input
	c := &cobra.Command{
		Use:   "discover",
		Short: "Add every EKS cluster your profiles can reach, in every region asked, to your kubeconfig",
		Long: "discover lists the EKS clusters of each profile (--profile, repeatable, globs like 'prod-*'; or\n" +
			"--all-profiles; or every account and role of an IAM Identity Center session, --sso-session) in\n" +
			"each region (--region, repeatable; or --all-regions: the regions enabled for the account, asked\n" +
			"of EC2), in parallel, and writes one context per cluster, with an ekstoken\n" +
			"user that signs as the profile that found it, in one locked write of the kubeconfig.\n\n" +
			"Contexts are named by --name-template ({profile}, {cluster}, {region}, {account}, {arn}; default\n" +
			"{profile}/{cluster}); where two would get the same name the region is added (prod/api@eu-west-1).\n" +
			"--name-template '{arn}' gives the aws CLI's names. Profiles and regions that refuse (access\n" +
			"denied, an expired SSO session, a region not enabled) are listed at the end and do not stop\n" +
			"the others. current-context is left alone unless --set-current. --prune removes the contexts\n" +
			"an earlier discovery wrote for clusters that are gone, in the profiles and regions that answered,\n" +
			"and nothing else. `ekstoken setup --undo` reverts a discovery.",
		Example: "  ekstoken discover --all-profiles --all-regions --dry-run\n" +
			"  ekstoken discover --profile 'prod-*' --region eu-west-1 --region us-east-1\n" +
			"  ekstoken discover --all-profiles --all-regions --prune",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if n := btoi(in.AllProfiles) + btoi(len(in.Profiles) > 0) + btoi(in.SSOSession != ""); n > 1 {
				return usageError{cmd: c.CommandPath(), err: errors.New("give one of --profile, --all-profiles and --sso-session")}
			}
			if in.AllRegions && len(in.Regions) > 0 {
				return usageError{cmd: c.CommandPath(), err: errors.New("give --region or --all-regions, not both")}
			}
			if in.Parallel < 0 || in.Timeout < 0 {
				return usageError{cmd: c.CommandPath(), err: errors.New("--parallel and --timeout must not be negative")}
			}
			if err := kubectllookup.CheckFlags(in.Command, in.Absolute); err != nil {
				return usageError{cmd: c.CommandPath(), err: err}
			}
			progress := env.StderrIsTerminal != nil && env.StderrIsTerminal()
			return discover.Run(c.Context(), discover.Env{Progress: progress,
				Getenv: env.Getenv, Home: env.Home, Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr,
				Now: env.Now, IsTerminal: env.IsTerminal, Executable: env.Executable, Resolve: awsauth.Resolve,
			}, in)
		},
	}
	f := c.Flags()
	// Local flags of the global names: here they repeat.
	f.StringArrayVar(&in.Profiles, "profile", nil, "profile to look through, or a glob of profiles ('prod-*'); repeatable")
	f.BoolVar(&in.AllProfiles, "all-profiles", false, "every profile of the AWS config and credentials files")
	f.StringVar(&in.SSOSession, "sso-session", "", "every account and role this IAM Identity Center session can use (after aws sso login --sso-session NAME)")
	f.StringArrayVar(&in.Regions, "region", nil, "region to look in; repeatable (default: each profile's region)")
	f.BoolVar(&in.AllRegions, "all-regions", false, "every region enabled for each account (ec2:DescribeRegions)")
	f.StringVar(&in.NameTemplate, "name-template", discover.DefaultTemplate, "context and user names: {profile}, {cluster}, {region}, {account}, {arn}")
	f.StringVar(&in.Kubeconfig, "kubeconfig", "", "kubeconfig to write (default: the first file in KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&in.Endpoint, "endpoint-url", "", "EKS API endpoint (default: AWS_ENDPOINT_URL_EKS, AWS_ENDPOINT_URL, then the region's)")
	f.BoolVar(&in.DryRun, "dry-run", false, "print the unified diff and change nothing")
	f.BoolVar(&in.SetCurrent, "set-current", false, "make the last context written the current-context")
	f.BoolVar(&in.Prune, "prune", false, "remove contexts an earlier discovery wrote for clusters that no longer exist")
	f.IntVar(&in.Parallel, "parallel", discover.DefaultParallel, "API calls in flight at once")
	f.DurationVar(&in.Timeout, "timeout", discover.DefaultTimeout, "time limit of each API call")
	addCommandFlags(f, &in.Absolute, &in.Command)
	return c
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
