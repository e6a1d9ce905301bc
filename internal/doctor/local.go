package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/fastpath"
	"github.com/ekstoken/ekstoken/internal/kubectllookup"
	"github.com/ekstoken/ekstoken/internal/signer"
	"github.com/ekstoken/ekstoken/internal/token"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// GUIPath is the PATH a desktop app (Lens, an IDE started from the Dock)
// often gives the kubectl it runs.
const GUIPath = "/usr/bin:/bin:/usr/sbin:/sbin"

// resolveTimeout bounds the AWS calls that resolving credentials may make.
const resolveTimeout = 15 * time.Second

// The exec apiVersions kubectl accepts; v1alpha1 was removed in 1.24.
const (
	apiV1       = "client.authentication.k8s.io/v1"
	apiV1beta1  = "client.authentication.k8s.io/v1beta1"
	apiV1alpha1 = "client.authentication.k8s.io/v1alpha1"
)

// userKind is what a kubeconfig user runs.
type userKind int

const (
	kindOther userKind = iota
	kindEkstoken
	kindAWS
	kindAuthenticator
)

// state is what the local checks of one context learn, in order.
type state struct {
	ctx     context.Context
	o       *Options
	rep     *Report
	ctxName string
	exec    *ExecConfig
	kind    userKind
	getenv  func(string) string // the environment kubectl gives the plugin
	req     fastpath.Request
	region  string
	creds   *awsauth.Result
	token   string
	// setupCmd is the setup command that rewrites this context's user.
	setupCmd string
}

func (s *state) add(name string, st Status, detail, fix string) {
	s.rep.Checks = append(s.rep.Checks, Check{Name: name, Status: st, Detail: detail, Fix: fix})
}

// checkKubeconfig is the first check: the entry kubectl reads, and
// whether the EKS checks apply to it. It reports false to stop.
func (s *state) checkKubeconfig(m *merged) bool {
	c, ok := m.contexts[s.ctxName]
	if !ok {
		s.add("kubeconfig", Fail, fmt.Sprintf("no context %q in %s", s.ctxName, strings.Join(m.files, string(os.PathListSeparator))),
			"kubectl config get-contexts")
		return false
	}
	s.rep.File = c.file
	userName := c.v[1]
	s.rep.User = userName
	u, ok := m.users[userName]
	if !ok {
		s.add("kubeconfig", Fail, fmt.Sprintf("context %q names user %q, which no kubeconfig file defines", s.ctxName, userName),
			"kubectl config get-users")
		return false
	}
	s.rep.File = u.file
	s.exec = u.v
	if s.exec == nil {
		s.add("kubeconfig", Skip, fmt.Sprintf("user %q in %s has no exec plugin: not an EKS user, EKS checks skipped", userName, u.file), "")
		return false
	}
	s.kind = kindOf(s.exec)
	s.getenv = s.pluginEnv()
	s.setupCmd = s.o.command("setup", "--context", s.ctxName)
	mode := s.exec.InteractiveMode
	if mode == "" && s.exec.APIVersion == apiV1beta1 {
		mode = "IfAvailable (default)"
	}
	desc := fmt.Sprintf("user %q in %s: exec %s, apiVersion %s, interactiveMode %s",
		userName, u.file, s.exec.Command, orNone(s.exec.APIVersion), orNone(mode))
	// A version kubectl refuses is a fail, but the checks go on: the rest
	// of the chain is worth knowing before the entry is fixed.
	var refused string
	switch {
	case s.exec.APIVersion == apiV1alpha1:
		refused = ": kubectl 1.24 and later refuse v1alpha1"
	case s.exec.APIVersion != apiV1 && s.exec.APIVersion != apiV1beta1:
		refused = ": kubectl accepts only " + apiV1 + " and " + apiV1beta1
	}
	if refused != "" {
		s.add("kubeconfig", Fail, desc+refused, s.setCredentials("--exec-api-version="+apiV1beta1))
		return s.kind == kindEkstoken || s.kind == kindAWS
	}
	if s.exec.APIVersion == apiV1 && s.exec.InteractiveMode == "" {
		s.add("kubeconfig", Fail, desc+": kubectl refuses a "+apiV1+" exec without interactiveMode",
			s.setCredentials("--exec-interactive-mode=IfAvailable"))
		return s.kind == kindEkstoken || s.kind == kindAWS
	}
	switch s.kind {
	case kindEkstoken:
		s.add("kubeconfig", OK, desc+": an ekstoken user", "")
	case kindAWS:
		s.add("kubeconfig", Warn, desc+": runs `aws eks get-token`, half a second to two seconds per kubectl command", s.setupCmd)
	case kindAuthenticator:
		// Its args are not the token command's: setup translates them.
		s.add("kubeconfig", Warn, desc+": runs aws-iam-authenticator; EKS checks skipped until it runs ekstoken", s.setupCmd)
		return false
	default:
		s.add("kubeconfig", Skip, desc+": another plugin, not ekstoken or `aws eks get-token`; EKS checks skipped", "")
		return false
	}
	return true
}

// setCredentials is the kubectl command that changes this user's exec
// entry in the file that holds it. kubectl rewrites the file in its own
// layout (comments go), but keeps the entry's other fields.
func (s *state) setCredentials(flags ...string) string {
	w := append([]string{"kubectl", "config", "set-credentials", s.rep.User}, flags...)
	return shellJoin(append(w, "--kubeconfig", s.rep.File))
}

// setCommand points the user at path. kubectl drops the args when the
// command changes, so they are given again.
func (s *state) setCommand(path string) string {
	flags := []string{"--exec-command=" + path}
	for _, a := range s.exec.Args {
		flags = append(flags, "--exec-arg="+a)
	}
	return s.setCredentials(flags...)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func kindOf(e *ExecConfig) userKind {
	base := strings.ToLower(filepath.Base(filepath.FromSlash(e.Command)))
	base = strings.TrimSuffix(base, ".exe")
	switch base {
	case kubectllookup.BinaryName:
		return kindEkstoken
	case "aws-iam-authenticator":
		return kindAuthenticator
	case "aws":
		if i := slices.Index(e.Args, "eks"); i >= 0 && i+1 < len(e.Args) && e.Args[i+1] == "get-token" {
			return kindAWS
		}
	}
	return kindOther
}

// pluginEnv is the environment kubectl starts the plugin with: its own,
// with the user's env entries on top.
func (s *state) pluginEnv() func(string) string {
	over := map[string]string{}
	for _, e := range s.exec.Env {
		over[e.Name] = e.Value
	}
	return func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return s.o.Getenv(k)
	}
}

// checkCommand: would kubectl start the command, is it this ekstoken, and
// would a GUI's kubectl find it too.
func (s *state) checkCommand() bool {
	cmd := s.exec.Command
	var found string
	switch {
	case filepath.IsAbs(cmd):
		if isExecutable(cmd) {
			found = cmd
		}
	case strings.ContainsAny(cmd, `/\`):
		// client-go resolves a relative path with a separator against the
		// kubeconfig file's folder.
		p := filepath.Join(filepath.Dir(s.rep.File), cmd)
		if isExecutable(p) {
			found = p
		}
	default:
		found = kubectllookup.LookPath(cmd, s.o.Getenv)
	}
	self := s.o.self()
	// fix points the user at path: setup migrates an aws user; an
	// ekstoken user, which setup leaves alone, is changed by kubectl.
	fix := func(path string) string {
		if s.kind == kindAWS {
			return s.o.command("setup", "--absolute", "--context", s.ctxName)
		}
		if path == "" {
			path = "/path/to/ekstoken"
		}
		return s.setCommand(path)
	}
	if found == "" {
		s.add("command", Fail, fmt.Sprintf("kubectl cannot start %q: not found on PATH (%s)", cmd, s.o.Getenv("PATH")), fix(self))
		// The checks after this one do not need the command.
		return true
	}
	detail := fmt.Sprintf("%s runs %s", cmd, found)
	if s.kind == kindEkstoken {
		if self == "" || !sameFile(self, found) {
			s.add("command", Warn, fmt.Sprintf("%s (%s), not this ekstoken (%s, version %s): kubectl runs another build",
				detail, versionOf(s.ctx, found), orNone(self), s.o.Version), fix(self))
			return true
		}
		detail += ", this ekstoken (version " + s.o.Version + ")"
	}
	if runtime.GOOS != "windows" && !filepath.IsAbs(cmd) && !strings.ContainsAny(cmd, `/\`) {
		gui := func(k string) string {
			if k == "PATH" {
				return GUIPath
			}
			return s.o.Getenv(k)
		}
		if kubectllookup.LookPath(cmd, gui) == "" {
			s.add("command", Warn, detail+"; a kubectl started by a GUI app (PATH "+GUIPath+") would not find it", fix(found))
			return true
		}
	}
	s.add("command", OK, detail, "")
	return true
}

// versionOf asks another ekstoken for its version, as `ekstoken version`
// prints it, with no environment and a short timeout.
func versionOf(ctx context.Context, path string) string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version")
	cmd.Env = []string{}
	out, err := cmd.Output()
	v, ok := strings.CutPrefix(strings.TrimSpace(string(out)), kubectllookup.BinaryName+" ")
	if err != nil || !ok || strings.ContainsAny(v, "\n\r") || len(v) > 100 {
		return "version unknown"
	}
	return "version " + v
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	if err != nil || st.IsDir() {
		return false
	}
	return runtime.GOOS == "windows" || st.Mode().Perm()&0o111 != 0
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// awsFiles are the shared config and credentials files the plugin reads.
func (s *state) awsFiles() (string, string) {
	return tokencache.AWSFiles(s.getenv, s.o.Home)
}

// effectiveProfile is the profile the aws CLI would use, and where it was
// named: "--profile", "AWS_PROFILE", "AWS_DEFAULT_PROFILE" or "".
func (s *state) effectiveProfile() (string, string) {
	if s.req.Profile != "" {
		return s.req.Profile, "--profile"
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE"} {
		if v := s.getenv(k); v != "" {
			return v, k
		}
	}
	return "default", ""
}

// checkRegion parses the user's arguments as the token command does and
// finds the region the way it will.
func (s *state) checkRegion(ctx context.Context) bool {
	// The same parser as the hit path: `token ...` and the aws CLI's
	// `[globals] eks get-token ...` alike.
	args := s.exec.Args
	req, ok := fastpath.Parse(args)
	if !ok {
		// The args are not quoted back: they may hold what is not for a report.
		s.add("region", Fail, fmt.Sprintf("cannot read the args of user %q: the token command needs --cluster-name or --cluster-id, and only its own flags", s.rep.User),
			s.o.command("update-kubeconfig", "--name", "CLUSTER", "--region", "REGION"))
		return false
	}
	s.req = req
	cluster := "cluster " + req.ClusterName
	if req.ClusterID != "" {
		cluster = "cluster ID " + req.ClusterID
	}
	from := "--region"
	s.region = req.Region
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if s.region == "" {
			s.region, from = s.getenv(k), k
		}
	}
	if s.region == "" {
		p, _ := s.effectiveProfile()
		cfg, creds := s.awsFiles()
		s.region, from = awsauth.ProfileRegion(ctx, p, cfg, creds), "profile "+p
	}
	if s.region == "" {
		p, _ := s.effectiveProfile()
		s.add("region", Fail, cluster+", but no region: no --region in the args, no AWS_REGION or AWS_DEFAULT_REGION, no region in profile "+p,
			fmt.Sprintf("add --region REGION to the args of user %q in %s (or `aws configure set region REGION --profile %s`)", s.rep.User, s.rep.File, p))
		return false
	}
	s.add("region", OK, fmt.Sprintf("%s in %s (from %s)", cluster, s.region, from), "")
	return true
}

// checkCredentials finds the credentials that win, what they shadow, and
// whether they still work, without prompting.
func (s *state) checkCredentials(ctx context.Context) bool {
	profile, from := s.effectiveProfile()
	cfgFile, credFile := s.awsFiles()
	envKey := s.getenv("AWS_ACCESS_KEY_ID")
	var notes []string
	if v := s.getenv("AWS_SHARED_CREDENTIALS_FILE"); v != "" {
		// Named, so that a file other tools drop (aws-cli #7724) is seen;
		// a missing one is normal for SSO and environment keys.
		note := "AWS_SHARED_CREDENTIALS_FILE=" + v
		if _, err := os.Stat(credFile); err != nil {
			note += " (no such file)"
		}
		notes = append(notes, note)
	}
	shadowed := envKey != "" && (from == "AWS_PROFILE" || from == "AWS_DEFAULT_PROFILE")
	if shadowed {
		where := "your environment"
		if s.envSets(from) {
			where = fmt.Sprintf("the env of user %q", s.rep.User)
		}
		s.add("credentials", Warn,
			fmt.Sprintf("AWS_ACCESS_KEY_ID (%s) in your environment beats %s=%s from %s: kubectl signs with those keys, not with profile %s",
				keyHint(envKey), from, profile, where, profile),
			fmt.Sprintf("unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN (or add --profile %s to the user's args: --profile beats keys)", profile))
	}
	usesProfile := envKey == "" || from == "--profile"
	if usesProfile && (from != "" || profile != "default") {
		if !slices.Contains(awsauth.Profiles(cfgFile, credFile), profile) {
			list := strings.Join(awsauth.Profiles(cfgFile, credFile), ", ")
			if list == "" {
				list = "none"
			}
			s.add("credentials", Fail, fmt.Sprintf("profile %q (from %s) is not in %s or %s; profiles there: %s", profile, from, cfgFile, credFile, list),
				fmt.Sprintf("aws configure --profile %s (or name one of the profiles above in user %q)", profile, s.rep.User))
			return false
		}
	}
	if usesProfile && awsauth.ProfileNeedsMFA(ctx, profile, cfgFile, credFile) {
		s.add("credentials", Warn, fmt.Sprintf("profile %s asks for an MFA code: kubectl must lend ekstoken a terminal (interactiveMode %s)", profile, orNone(s.exec.InteractiveMode)),
			s.loginCommand())
		return false
	}
	opts := awsauth.Options{
		Region: s.region, RoleARN: s.req.RoleARN, SessionName: s.req.SessionName, ExternalID: s.req.ExternalID,
		EffectiveProfile: profile, ConfigFile: cfgFile, CredentialsFile: credFile,
		LoginCommand: s.loginCommand(),
		Getenv:       s.getenv, Now: s.o.Now,
	}
	if usesProfile && from != "" {
		// The SDK reads the process's environment, not the kubeconfig's
		// env: name the profile it would find there.
		opts.Profile = profile
	}
	// SSO, assume-role and container credentials call AWS: bound the wait.
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	res, err := awsauth.Resolve(rctx, opts)
	if err != nil {
		var sso *awsauth.SSOLoginError
		var exp *awsauth.ExpiredError
		switch {
		case errors.As(err, &sso):
			p := cmpOr(sso.Profile, profile)
			s.add("credentials", Fail, fmt.Sprintf("the SSO session of profile %s is missing or expired", p), "aws sso login --profile "+p)
		case errors.As(err, &exp):
			s.add("credentials", Fail, fmt.Sprintf("the credentials of %s ended %s ago", cmpOr(exp.Profile, profile), exp.Now.Sub(exp.Expires).Round(time.Second)),
				s.loginCommand())
		default:
			s.add("credentials", Fail, awsauth.Reason(err), s.loginCommand())
		}
		return false
	}
	s.creds = &res
	c := res.Credentials
	detail := fmt.Sprintf("%s, key %s", c.Source, keyHint(c.AccessKeyID))
	if shadowed {
		detail = "environment keys win over " + from + "; " + detail
	} else if from != "" || profile != "default" {
		detail = fmt.Sprintf("profile %s (from %s): %s", profile, cmpOr(from, "default"), detail)
	}
	if c.CanExpire {
		detail += fmt.Sprintf(", expires in %s", c.Expires.Sub(s.o.Now()).Round(time.Second))
	}
	detail += "; " + strings.Join(append(notes, "files "+cfgFile+", "+credFile), "; ")
	if !shadowed {
		s.add("credentials", OK, detail, "")
	}
	return true
}

func (s *state) envSets(k string) bool {
	return slices.ContainsFunc(s.exec.Env, func(e EnvVar) bool { return e.Name == k })
}

// keyHint shows enough of an access key ID to tell keys apart. Key IDs
// are not secrets, but the report may be pasted in public.
func keyHint(id string) string {
	if len(id) <= 8 {
		return id
	}
	return id[:4] + "…" + id[len(id)-4:]
}

// loginCommand is the token command of this user, to run once in a
// terminal (MFA prompts, SSO login).
func (s *state) loginCommand() string {
	args := append([]string{"token"}, tokenArgs(s.req)...)
	args = append(args, "--force-refresh")
	return s.o.command(args...)
}

func tokenArgs(r fastpath.Request) []string {
	var a []string
	add := func(k, v string) {
		if v != "" {
			a = append(a, k, v)
		}
	}
	add("--cluster-name", r.ClusterName)
	add("--cluster-id", r.ClusterID)
	add("--region", r.Region)
	add("--profile", r.Profile)
	add("--role-arn", r.RoleARN)
	return a
}

// checkToken signs one token in memory, checks what it says, and finds
// the cache entry that kubectl's next run would be served.
func (s *state) checkToken(ctx context.Context) bool {
	now := s.o.Now()
	cluster := cmpOr(s.req.ClusterID, s.req.ClusterName)
	tok, err := signer.Sign(ctx, s.creds.Config, s.creds.Credentials, cluster, now)
	if err != nil {
		s.add("token", Fail, "cannot sign a token: "+err.Error(), s.loginCommand())
		return false
	}
	claims, err := token.Parse(tok)
	if err != nil {
		s.add("token", Fail, "the signed token does not parse: "+err.Error(), "report this as an ekstoken bug")
		return false
	}
	if !standardSTSHost(claims.Host) {
		s.add("token", Fail, fmt.Sprintf("signed for %s, which EKS does not accept", claims.Host),
			"set --region to the cluster's region, not a custom STS endpoint")
		return false
	}
	s.token = tok
	detail := fmt.Sprintf("signed for %s via %s, valid until %s", cluster, claims.Host, claims.Expires().UTC().Format("15:04:05Z"))
	if s.req.NoCache {
		s.add("token", OK, detail+"; --no-cache: nothing is cached", "")
		return true
	}
	dir := cmpOr(s.req.CacheDir, tokencache.DefaultDir(s.getenv, s.o.Home))
	id := tokencache.NewIdentity(s.req.Request, s.getenv, s.o.Home)
	if cred, why, ok := tokencache.Lookup(cache.Store{Dir: dir}, id, now, s.req.Margin); ok {
		detail += fmt.Sprintf("; kubectl is served the cached token in %s for %s more", dir, cred.Expiration.Sub(now).Round(time.Second))
	} else {
		detail += fmt.Sprintf("; no cached token to serve (%s): kubectl's next call signs one", why)
	}
	s.add("token", OK, detail, "")
	if bo, ok := tokencache.ReadBackoff(cache.Store{Dir: dir}, id.Key()); ok && bo.InForce(id.Key(), now) {
		// doctor just resolved credentials, so the failure behind the
		// backoff is likely over; runs without a terminal still heed it.
		what := "no background refresh starts"
		if bo.NeedsPerson {
			what += ", and kubectl runs without a terminal fail at once with its message"
		}
		s.add("backoff", Warn, fmt.Sprintf("a failure at %s (%d in a row) holds until %s: %s; %s", bo.Since.UTC().Format("15:04:05Z"),
			bo.Failures, bo.End().UTC().Format("15:04:05Z"), tokencache.Inert(bo.Message), what),
			"ekstoken clear --cluster "+cluster+" ends it now that credentials resolve (the next successful kubectl call does too)")
	}
	return true
}

// standardSTSHost reports whether host is one of the STS hosts EKS
// accepts (docs/token.md#partitions): the global one or a regional one,
// FIPS or dual-stack, of any partition.
func standardSTSHost(host string) bool {
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".api.amazonwebservices.com.cn",
		".c2s.ic.gov", ".sc2s.sgov.gov", ".cloud.adc-e.uk", ".csp.hci.ic.gov", ".amazonaws.eu", ".api.amazonwebservices.eu"} {
		if rest, ok := strings.CutSuffix(host, suffix); ok {
			return rest == "sts" || strings.HasPrefix(rest, "sts.") || strings.HasPrefix(rest, "sts-fips.")
		}
	}
	return false
}
