package app

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/background"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/gettoken"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// lockTimeout bounds how long a run waits for another one's refresh. A
// refresh can include an MFA prompt in another terminal, so it is generous;
// past it, ekstoken refreshes on its own rather than fail kubectl.
const lockTimeout = 60 * time.Second

type tokenOptions struct {
	g  *globalOptions
	in gettoken.Input
	// output exists for the aws CLI's `--output json`; it is the only format.
	output string
}

func (o *tokenOptions) addFlags(f *pflag.FlagSet, dropIn bool) {
	f.StringVar(&o.in.ClusterName, "cluster-name", "", "name of the EKS cluster")
	f.StringVar(&o.in.ClusterID, "cluster-id", "", "ID of an EKS local cluster on AWS Outposts (instead of --cluster-name)")
	f.StringVar(&o.in.RoleARN, "role-arn", "", "IAM role to assume for signing")
	f.StringVar(&o.in.RoleARN, "role", "", "alias of --role-arn, as aws eks update-kubeconfig writes it")
	_ = f.MarkHidden("role")
	f.StringVar(&o.in.SessionName, "session-name", tokencache.DefaultSessionName, "role session name with --role-arn")
	f.StringVar(&o.in.ExternalID, "external-id", "", "external ID with --role-arn")
	f.BoolVar(&o.in.NoCache, "no-cache", false, "neither read nor write the cache (tokens and credentials): for read-only file systems")
	f.BoolVar(&o.in.ForceRefresh, "force-refresh", false, "sign a new token even if a cached one is fresh, and cache it")
	f.BoolVar(&o.in.NoCredentialCache, "no-credential-cache", false, "do not keep assumed-role, MFA, SSO or credential_process credentials between runs")
	f.BoolVar(&o.in.SSOLogin, "sso-login", false, "when the SSO session has expired and a terminal is attached, run aws sso login for the profile, then retry")
	f.DurationVar(&o.in.Margin, "refresh-margin", tokencache.DefaultMargin, "stop serving a token this long before it expires")
	f.DurationVar(&o.in.RefreshAhead, "refresh-ahead", tokencache.DefaultRefreshAhead,
		"a cache hit this close to the end of its token's served life starts a background refresh; 0 turns it off")
	// The background refresh a hit starts is this command with this flag.
	f.BoolVar(&o.in.Background, strings.TrimPrefix(background.Flag, "--"), false, "run as the background refresh a cache hit starts")
	_ = f.MarkHidden(strings.TrimPrefix(background.Flag, "--"))
	f.StringVar(&o.output, "output", "json", "output format; json is the only one (accepted for aws CLI compatibility)")
	if !dropIn {
		_ = f.MarkHidden("output")
	}
}

func newTokenCommand(env *Env, g *globalOptions, use string, dropIn bool) *cobra.Command {
	o := &tokenOptions{g: g}
	short := "Print an ExecCredential with an EKS token (what kubectl runs)"
	if dropIn {
		short = "Drop-in for `aws eks get-token`: same flags, same output"
	}
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Example: "  ekstoken token --cluster-name my-cluster --region eu-west-1\n" +
			"  ekstoken --region eu-west-1 eks get-token --cluster-name my-cluster --output json",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.validate(c); err != nil {
				return err
			}
			return o.run(c, env)
		},
	}
	o.addFlags(c.Flags(), dropIn)
	return c
}

func (o *tokenOptions) validate(c *cobra.Command) error {
	switch {
	case o.in.ClusterName == "" && o.in.ClusterID == "":
		return usageError{cmd: c.CommandPath(), err: errors.New("either --cluster-name or --cluster-id must be given")}
	case o.in.ClusterName != "" && o.in.ClusterID != "":
		return usageError{cmd: c.CommandPath(), err: errors.New("--cluster-name and --cluster-id cannot be used together: --cluster-id is for local clusters on AWS Outposts")}
	case o.output != "json":
		return usageError{cmd: c.CommandPath(), err: fmt.Errorf("--output %q: only json is supported", o.output)}
	case tokencache.CheckRefresh(o.in.Margin, o.in.RefreshAhead) != "":
		return usageError{cmd: c.CommandPath(), err: errors.New(tokencache.CheckRefresh(o.in.Margin, o.in.RefreshAhead))}
	case o.in.RoleARN == "" && o.in.ExternalID != "":
		return usageError{cmd: c.CommandPath(), err: errors.New("--external-id is sent only when assuming a role: add --role-arn, or drop --external-id (for a profile's role, set external_id in the profile)")}
	case o.in.RoleARN == "" && o.in.SessionName != tokencache.DefaultSessionName:
		return usageError{cmd: c.CommandPath(), err: errors.New("--session-name names the session of --role-arn: add --role-arn, or drop --session-name (for a profile's role, set role_session_name in the profile)")}
	}
	return nil
}

func (o *tokenOptions) run(c *cobra.Command, env *Env) error {
	o.in.Region, o.in.Profile = o.g.region, o.g.profile
	o.in.RefreshAhead = tokencache.EffectiveAhead(o.in.Margin, o.in.RefreshAhead)
	genv := gettoken.Env{
		Now: env.Now, Getenv: env.Getenv, Home: env.Home,
		Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr,
		IsTerminal:   env.IsTerminal,
		SSOLogin:     env.SSOLogin,
		Log:          o.g.logger(env),
		Resolve:      awsauth.Resolve,
		LockTimeout:  lockTimeout,
		StartRefresh: env.StartRefresh,
		HandedLock:   env.HandedLock,
	}
	if !o.in.NoCache {
		dir, err := o.g.resolveCacheDir(env)
		if err != nil {
			genv.Log.Debug("cache off", "err", err)
		} else {
			genv.Store = &cache.Store{Dir: dir}
		}
	}
	run := env.GetToken
	switch {
	case run != nil:
	case o.in.Background:
		run = gettoken.Background
	default:
		run = gettoken.Run
	}
	return run(c.Context(), genv, o.in)
}
