package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/kubectllookup"
	"github.com/ekstoken/ekstoken/internal/signer"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// WhoamiInput is what `ekstoken whoami` was asked.
type WhoamiInput struct {
	// FromKubeconfig reads the token flags, server and CA of Context
	// ("" for the current one) in Kubeconfig ("" for kubectl's files).
	// Otherwise Request says what to sign for, and no cluster is asked.
	FromKubeconfig bool
	Kubeconfig     string
	Context        string
	Request        tokencache.Request
}

// WhoamiEnv is the boundary to the machine.
type WhoamiEnv struct {
	Getenv func(string) string
	Home   string
	Now    func() time.Time
	// Resolve gets credentials; nil means awsauth.Resolve.
	Resolve func(context.Context, awsauth.Options) (awsauth.Result, error)
	// MFACode asks for an MFA code; nil makes an MFA profile fail with
	// a message.
	MFACode func(serial string) (string, error)
}

// WhoamiResult is who the AWS credentials are and, with a context, who the
// cluster says they are. Checks holds every check run, failed ones too.
type WhoamiResult struct {
	Context    string       `json:"context,omitempty"`
	Cluster    string       `json:"cluster,omitempty"` // cluster name or Outposts ID signed for
	Region     string       `json:"region,omitempty"`
	Server     string       `json:"server,omitempty"`
	AWS        *AWSIdentity `json:"aws,omitempty"`
	Kubernetes *KubeUser    `json:"kubernetes,omitempty"`
	Checks     []Check      `json:"checks"`
}

// Failed is the first failed check, if any.
func (r WhoamiResult) Failed() (Check, bool) {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return c, true
		}
	}
	return Check{}, false
}

// Whoami resolves the credentials a kubeconfig context (or the token
// flags) would sign with, asks STS who they are and, with a context, asks
// the cluster with a fresh token. It writes nothing: no cache entry, no
// kubeconfig. An error means the question itself cannot be asked (no such
// context); what is found broken is a failed check.
func Whoami(ctx context.Context, env WhoamiEnv, in WhoamiInput) (WhoamiResult, error) {
	var res WhoamiResult
	req := in.Request
	getenv := env.Getenv
	var target *Target
	if in.FromKubeconfig {
		files, err := kubectllookup.Kubeconfigs(in.Kubeconfig, env.Getenv, env.Home)
		if err != nil {
			return res, err
		}
		kc, err := LoadContext(files, in.Context)
		if err != nil {
			return res, err
		}
		res.Context, res.Server = kc.Name, kc.Target.Server
		if req, err = kc.Exec.TokenRequest(); err != nil {
			return res, fmt.Errorf("context %q, user %q: %w", kc.Name, kc.User, err)
		}
		req, getenv = withExecEnv(req, kc.Exec.Env, env.Getenv)
		t := kc.Target
		target = &t
	}
	res.Cluster = cmpOr(req.ClusterName, req.ClusterID)
	id := tokencache.NewIdentity(req, getenv, env.Home)
	resolve := env.Resolve
	if resolve == nil {
		resolve = awsauth.Resolve
	}
	ar, err := resolve(ctx, awsauth.Options{
		Region: req.Region, Profile: req.Profile, RoleARN: req.RoleARN,
		SessionName: cmpOr(req.SessionName, tokencache.DefaultSessionName), ExternalID: req.ExternalID,
		MFACode: env.MFACode, EffectiveProfile: id.Profile, ConfigFile: id.Config.Path, CredentialsFile: id.Credentials.Path,
		Getenv: getenv, Now: env.Now,
	})
	if err != nil {
		res.Checks = append(res.Checks, Check{Name: "credentials", Status: Fail, Detail: err.Error()})
		return res, nil
	}
	res.Region = ar.Config.Region
	// The credentials just resolved, as they are: a provider asked again
	// might assume the role again, or ask for another MFA code.
	cfg := ar.Config.Copy()
	creds := ar.Credentials
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	c, awsID, ans := CheckIdentity(ctx, cfg, env.Now)
	res.Checks = append(res.Checks, c, CheckClock(ans))
	if c.Status == OK {
		res.AWS = &awsID
	}
	if target == nil {
		return res, nil
	}
	tok, err := signer.Sign(ctx, ar.Config, ar.Credentials, res.Cluster, env.Now())
	if err != nil {
		res.Checks = append(res.Checks, Check{Name: "token", Status: Fail, Detail: err.Error()})
		return res, nil
	}
	target.ClusterName, target.Region, target.Principal = res.Cluster, res.Region, awsID.Principal()
	c, ku := CheckCluster(ctx, *target, tok)
	res.Checks = append(res.Checks, c)
	if c.Status == OK {
		res.Kubernetes = &ku
	}
	return res, nil
}

// withExecEnv applies what the exec entry's env sets, as kubectl sets it
// for the plugin. The region and profile go through the request, since
// aws-sdk-go-v2 reads the process's own environment: a profile from env
// loses to keys in the environment, as the SDK (and the aws CLI) decide.
func withExecEnv(r tokencache.Request, env map[string]string, getenv func(string) string) (tokencache.Request, func(string) string) {
	if len(env) == 0 {
		return r, getenv
	}
	merged := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return getenv(k)
	}
	if r.Region == "" {
		r.Region = cmpOr(env["AWS_REGION"], env["AWS_DEFAULT_REGION"])
	}
	envKeys := merged("AWS_ACCESS_KEY_ID") != "" && merged("AWS_SECRET_ACCESS_KEY") != ""
	if p := env["AWS_PROFILE"]; r.Profile == "" && p != "" && !envKeys {
		r.Profile = p
	}
	return r, merged
}

// WriteWhoami prints the result as one short block, or as JSON.
func WriteWhoami(w io.Writer, r WhoamiResult, asJSON bool) error {
	if asJSON {
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	if r.AWS != nil {
		line("AWS account", r.AWS.Account)
		line("AWS ARN", r.AWS.ARN)
		line("IAM role", r.AWS.Role)
	}
	if r.Context != "" {
		line("context", r.Context)
	}
	if r.Cluster != "" {
		line("cluster", strings.TrimSpace(r.Cluster+" "+paren(r.Region)))
	}
	if r.Kubernetes != nil {
		line("Kubernetes user", r.Kubernetes.Username)
		line("groups", strings.Join(r.Kubernetes.Groups, ", "))
	}
	for _, c := range r.Checks {
		if c.Status == Warn {
			line("warning", c.Name+": "+c.Detail)
			line("fix", c.Fix)
		}
	}
	return tw.Flush()
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
