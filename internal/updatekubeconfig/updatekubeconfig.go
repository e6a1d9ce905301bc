// Package updatekubeconfig is the `ekstoken update-kubeconfig` use case,
// as `aws eks update-kubeconfig` does it but with ekstoken users: resolve
// credentials, describe the cluster (or list the region's), check what EKS
// said, then add or replace its cluster, user and context in the
// kubeconfig, keeping the rest of the file byte for byte.
package updatekubeconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/eksapi"
	"github.com/ekstoken/ekstoken/internal/kubeconfig"
	"github.com/ekstoken/ekstoken/internal/kubectllookup"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"gopkg.in/yaml.v3"
)

// Input is what the command line asked for. The command line checks that
// exactly one of Name and All is given, that Alias and UserAlias come
// with Name, and Command against Absolute (kubectllookup.CheckFlags).
type Input struct {
	// Name is the cluster to add; All adds every cluster in the region.
	Name string
	All  bool
	// Region and Profile are the global flags; "" leaves them to the
	// environment and the profile, as the aws CLI does.
	Region, Profile string
	// Alias and UserAlias name the context and the user (default: the
	// cluster ARN).
	Alias, UserAlias string
	// RoleARN is assumed to describe the cluster and written into the
	// user's args.
	RoleARN string
	// Kubeconfig is the file to write; "" means the first file kubectl
	// reads.
	Kubeconfig string
	// Endpoint is the EKS API endpoint; "" means AWS_ENDPOINT_URL_EKS,
	// AWS_ENDPOINT_URL, then the region's.
	Endpoint string
	// Absolute and Command choose the command users run
	// (kubectllookup.Command).
	Absolute bool
	Command  string
	DryRun   bool
	// SetCurrent switches current-context to the (last) cluster written.
	// The command line sets it by default with Name, as `aws eks
	// update-kubeconfig` does, and only when asked with All, which adds
	// clusters without choosing one.
	SetCurrent bool
}

// Env is the boundary to the operating system, passed in whole.
type Env struct {
	Getenv func(string) string
	Home   string // "" when it cannot be found
	Stdin  io.Reader
	// Stdout gets the diff of a dry run and nothing else; every message
	// goes to Stderr.
	Stdout, Stderr io.Writer
	Now            func() time.Time
	// IsTerminal reports whether stdin is a terminal, where an MFA code
	// can be asked for.
	IsTerminal func() bool
	// Executable is the path of the running binary (os.Executable), for
	// the command users run.
	Executable func() (string, error)
	// Resolve gets credentials; nil means awsauth.Resolve. Tests pass
	// fixed credentials.
	Resolve func(context.Context, awsauth.Options) (awsauth.Result, error)
}

// Run writes the clusters in asks for into the kubeconfig, or with DryRun
// prints the diff. Nothing is written unless every cluster checks out.
func Run(ctx context.Context, env Env, o Input) error {
	id := tokencache.NewIdentity(tokencache.Request{Region: o.Region, Profile: o.Profile}, env.Getenv, env.Home)
	opts := awsauth.Options{
		Region: o.Region, Profile: o.Profile, RoleARN: o.RoleARN, SessionName: tokencache.DefaultSessionName,
		EffectiveProfile: id.Profile, ConfigFile: id.Config.Path, CredentialsFile: id.Credentials.Path,
	}
	if env.IsTerminal != nil && env.IsTerminal() {
		opts.MFACode = awsauth.TerminalPrompt(env.Stdin, env.Stderr)
	}
	resolve := env.Resolve
	if resolve == nil {
		resolve = awsauth.Resolve
	}
	res, err := resolve(ctx, opts)
	if err != nil {
		return err
	}
	api := eksapi.Client{Config: res.Config, Now: env.Now,
		Endpoint: firstNonEmpty(o.Endpoint, env.Getenv("AWS_ENDPOINT_URL_EKS"), env.Getenv("AWS_ENDPOINT_URL"))}
	names := []string{o.Name}
	if o.All {
		if names, err = api.List(ctx); err != nil {
			return err
		}
		if len(names) == 0 {
			return fmt.Errorf("no EKS clusters in %s", res.Config.Region)
		}
	}
	files, err := kubectllookup.Kubeconfigs(o.Kubeconfig, env.Getenv, env.Home)
	if err != nil {
		return err
	}
	path := files[0]
	src, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	command, err := kubectllookup.CommandSaid(kubectllookup.Self{Getenv: env.Getenv, Executable: env.Executable}, o.Command, o.Absolute, env.Stderr)
	if err != nil {
		return err
	}
	// Every cluster is described and checked before anything is said or
	// written: with --all, one bad cluster leaves the file as it was.
	out := src
	var said []string
	for i, name := range names {
		cl, err := api.Describe(ctx, name)
		if err != nil {
			return err
		}
		if cl.Endpoint == "" || cl.CertificateAuthority.Data == "" {
			return fmt.Errorf("EKS cluster %q has no endpoint or certificate yet (status %s): wait until it is ACTIVE", name, cl.Status)
		}
		if err := cl.Check(name); err != nil {
			return fmt.Errorf("%w; nothing was written", err)
		}
		r := tokencache.Request{ClusterName: cl.Name, Region: res.Config.Region, RoleARN: o.RoleARN}
		if cl.IsLocalOutposts() {
			r.ClusterName, r.ClusterID = "", cl.ID
		}
		e := kubeconfig.Entry{
			ClusterName: cl.ARN, Server: cl.Endpoint, CAData: cl.CertificateAuthority.Data,
			UserName: firstNonEmpty(o.UserAlias, cl.ARN), ContextName: firstNonEmpty(o.Alias, cl.ARN),
			SetCurrent: o.SetCurrent && i == len(names)-1,
			Exec:       kubeconfig.Exec{APIVersion: kubeconfig.APIVersionV1Beta1, Command: command, Args: kubeconfig.TokenArgs(r)},
		}
		// As the aws CLI does: a profile in use is written as AWS_PROFILE.
		if p := firstNonEmpty(o.Profile, env.Getenv("AWS_PROFILE"), env.Getenv("AWS_DEFAULT_PROFILE")); p != "" {
			e.Exec.Env = []kubeconfig.EnvVar{{Name: "AWS_PROFILE", Value: p}}
		}
		var outcome kubeconfig.Outcome
		if out, outcome, err = kubeconfig.UpsertOutcome(out, e); err != nil {
			return fmt.Errorf("%s: %w; the file is left untouched", path, err)
		}
		said = append(said, outcomeLine(outcome, e.ContextName, path, o.DryRun))
	}
	for _, line := range said {
		fmt.Fprintln(env.Stderr, line)
	}
	if !o.SetCurrent {
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
	if o.DryRun {
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

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
