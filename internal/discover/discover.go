// Package discover is the `ekstoken discover` use case: find every EKS
// cluster that a set of profiles can reach in a set of regions, and write
// one context per cluster, each with an ekstoken user that reproduces the
// identity that found it (profile, region, cluster), in one kubeconfig
// write. It is update-kubeconfig --all over profiles × regions: the same
// credential resolution (awsauth), EKS calls (eksapi) and kubeconfig
// writes (kubeconfig), run through a bounded pool so that 3 accounts × 17
// regions take seconds, with the places that refuse (AccessDenied, an
// expired SSO session, a region not enabled) summed up rather than
// stopping the rest.
package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/eksapi"
	"github.com/ekstoken/ekstoken/internal/kubeconfig"
	"github.com/ekstoken/ekstoken/internal/kubectllookup"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// Input is what the command line asked for.
type Input struct {
	// Profiles are profile names or path.Match globs ("prod-*") matched
	// against the profiles of the shared config and credentials files;
	// AllProfiles takes them all. With neither, the profile in use
	// (AWS_PROFILE, or the environment's credentials) is the one.
	Profiles    []string
	AllProfiles bool
	// SSOSession looks through every account and role that the IAM
	// Identity Center session of that name can use (after `aws sso login
	// --sso-session NAME`) instead of profiles.
	SSOSession string
	// Regions are looked in; AllRegions asks each account for the
	// regions enabled for it. With neither, the profile's region.
	Regions    []string
	AllRegions bool
	// NameTemplate names contexts and users: {profile}, {cluster},
	// {region}, {account}, {arn}. "" means DefaultTemplate.
	NameTemplate string
	Kubeconfig   string
	// Endpoint is the EKS API endpoint; "" means AWS_ENDPOINT_URL_EKS,
	// AWS_ENDPOINT_URL, then the region's. EC2Endpoint likewise for
	// DescribeRegions (AWS_ENDPOINT_URL_EC2).
	Endpoint, EC2Endpoint string
	Absolute              bool
	Command               string
	DryRun                bool
	// SetCurrent makes the last context written (in name order) the
	// current-context; without it current-context is left alone.
	SetCurrent bool
	// Prune removes the contexts, users and clusters that an earlier
	// discovery wrote for clusters that were not found this time, in the
	// profiles and regions looked in.
	Prune bool
	// Parallel bounds the calls in flight (0: DefaultParallel); Timeout
	// bounds each call (0: DefaultTimeout).
	Parallel int
	Timeout  time.Duration
}

// DefaultTemplate is short and readable: the region is added only where
// two clusters would otherwise get the same name.
const DefaultTemplate = "{profile}/{cluster}"

// DefaultParallel is the pool size: enough to hide the latency of
// 50-odd region calls without tripping the APIs' rate limits.
const DefaultParallel = 8

// DefaultTimeout bounds one API call: a region that does not answer is
// reported, not waited on for a minute.
const DefaultTimeout = 20 * time.Second

// Env is the boundary to the operating system, passed in whole.
type Env struct {
	Getenv func(string) string
	Home   string
	Stdin  io.Reader
	// Stdout gets the diff of a dry run and nothing else.
	Stdout, Stderr io.Writer
	Now            func() time.Time
	IsTerminal     func() bool
	Executable     func() (string, error)
	// Resolve gets credentials; nil means awsauth.Resolve.
	Resolve func(context.Context, awsauth.Options) (awsauth.Result, error)
	// Progress shows, on one line of Stderr rewritten in place (a
	// terminal), how many places have answered so far.
	Progress bool
	// Sleep waits between retries of a throttled call; nil waits on a
	// timer (or until ctx ends).
	Sleep func(context.Context, time.Duration) error
}

// identity is one profile to look through ("" when none was named: the
// environment's).
type identity struct {
	profile string // as written into AWS_PROFILE; "" writes none
	label   string // for {profile} and messages
	// sso, for an account and role of --sso-session, gets the
	// credentials; without a profile naming it, its clusters are listed
	// with the profile to add, not written.
	sso *ssoRole
}

// found is one cluster and the identity and region that reached it.
type found struct {
	id      identity
	region  string
	account string
	cluster eksapi.Cluster
	name    string // context and user name
}

// refusal is a place that refused to answer.
type refusal struct {
	who, where string
	err        error
}

// Run discovers the clusters and writes them (or with DryRun prints the
// diff). Places that refuse are reported on stderr; it fails only when no
// place answered, or the kubeconfig cannot be written.
func Run(ctx context.Context, env Env, in Input) error {
	start := env.Now()
	base := tokencache.NewIdentity(tokencache.Request{}, env.Getenv, env.Home)
	files, err := kubectllookup.Kubeconfigs(in.Kubeconfig, env.Getenv, env.Home)
	if err != nil {
		return err
	}
	command, err := kubectllookup.CommandSaid(kubectllookup.Self{Getenv: env.Getenv, Executable: env.Executable}, in.Command, in.Absolute, env.Stderr)
	if err != nil {
		return err
	}
	for _, r := range in.Regions {
		if !eksapi.ValidRegion(r) {
			return fmt.Errorf("--region %q is not a region name (like eu-west-1)", r)
		}
	}
	in.Regions = slices.Compact(slices.Sorted(slices.Values(in.Regions)))
	tmpl := in.NameTemplate
	if tmpl == "" {
		tmpl = DefaultTemplate
	}
	if err := checkTemplate(tmpl); err != nil {
		return err
	}
	d := &discoverer{env: env, in: in, base: base}
	d.init()
	var ids []identity
	if in.SSOSession != "" {
		ids, err = d.ssoIdentities(ctx, in.SSOSession)
	} else {
		ids, err = identities(in, base, env.Getenv)
	}
	if err != nil {
		return err
	}
	clusters, refused, looked, calls := d.run(ctx, ids)
	if err := ctx.Err(); err != nil {
		return err
	}
	all := clusters
	var noProfile []found
	clusters = slices.DeleteFunc(slices.Clone(clusters), func(f found) bool {
		if f.id.sso != nil && f.id.profile == "" {
			noProfile = append(noProfile, f)
			return true
		}
		return false
	})
	clusters, skipped := nameAll(clusters, tmpl)

	path := files[0]
	src, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	taken, err := notOurs(src)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	clusters = slices.DeleteFunc(clusters, func(f found) bool {
		if taken[f.name] {
			skipped = append(skipped, fmt.Sprintf("%s: a context or user of that name is already in %s, not written by discover; left alone (choose other names with --name-template)", f.name, path))
			return true
		}
		return false
	})
	out := src
	var said []string
	for i, f := range clusters {
		e := entry(f, command, in.SetCurrent && i == len(clusters)-1)
		var outcome kubeconfig.Outcome
		if out, outcome, err = kubeconfig.UpsertOutcome(out, e); err != nil {
			return fmt.Errorf("%s: %w; the file is left untouched", path, err)
		}
		said = append(said, outcomeLine(outcome, f, in.DryRun))
	}
	var pruned []string
	if in.Prune {
		keep := map[string]bool{}
		for _, f := range all {
			keep[markerValue(f)] = true
		}
		if out, pruned, err = prune(out, keep, answered(looked, refused)); err != nil {
			return fmt.Errorf("%s: --prune: %w; the file is left untouched", path, err)
		}
	}
	for _, l := range said {
		fmt.Fprintln(env.Stderr, l)
	}
	for _, n := range pruned {
		if in.DryRun {
			fmt.Fprintf(env.Stderr, "Would remove context %s: its cluster was not found\n", n)
		} else {
			fmt.Fprintf(env.Stderr, "Removed context %s: its cluster was not found\n", n)
		}
	}
	reportNoProfile(env.Stderr, noProfile)
	summary(env.Stderr, len(clusters), len(ids), looked, calls, refused, skipped, env.Now().Sub(start))
	if len(refused) > 0 && len(refused) == len(looked) {
		return errors.New("no profile and region answered (see above); nothing was written")
	}
	if string(out) == string(src) {
		fmt.Fprintf(env.Stderr, "%s: already up to date\n", path)
		return nil
	}
	if in.DryRun {
		fmt.Fprint(env.Stdout, kubeconfig.Diff(path, src, out))
		fmt.Fprintln(env.Stderr, "dry run: nothing was written; run without --dry-run to apply")
		return nil
	}
	log := undoLog(env)
	rec, err := log.WriteSetup(path, src, out, nil, env.Now())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if rec != "" {
		fmt.Fprintf(env.Stderr, "%s: written (undo with: ekstoken setup --undo --kubeconfig %s)\n", path, path)
	}
	return nil
}

// undoLog is where setup keeps its undo records: `ekstoken setup --undo`
// reverts a discovery as it reverts a setup.
func undoLog(env Env) kubeconfig.UndoLog {
	if env.Home == "" {
		return kubeconfig.UndoLog{}
	}
	return kubeconfig.UndoLog{Dir: filepath.Join(env.Home, ".kube", "ekstoken", "undo")}
}

// identities are the profiles to look through, from the flags.
func identities(in Input, base tokencache.Identity, getenv func(string) string) ([]identity, error) {
	if !in.AllProfiles && len(in.Profiles) == 0 {
		p := firstNonEmpty(getenv("AWS_PROFILE"), getenv("AWS_DEFAULT_PROFILE"))
		return []identity{{profile: p, label: firstNonEmpty(p, base.Profile, "default")}}, nil
	}
	known := awsauth.Profiles(base.Config.Path, base.Credentials.Path)
	var names []string
	if in.AllProfiles {
		names = known
		if len(names) == 0 {
			return nil, fmt.Errorf("--all-profiles: no profile in %s or %s; configure one with aws configure", base.Config.Path, base.Credentials.Path)
		}
	}
	for _, pat := range in.Profiles {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("--profile %q: %w", pat, err)
		}
		if !strings.ContainsAny(pat, "*?[\\") {
			if !slices.Contains(known, pat) {
				return nil, fmt.Errorf("--profile %q: no such profile in %s or %s (profiles: %s)", pat, base.Config.Path, base.Credentials.Path, strings.Join(known, ", "))
			}
			names = append(names, pat)
			continue
		}
		n := len(names)
		for _, k := range known {
			if ok, _ := path.Match(pat, k); ok {
				names = append(names, k)
			}
		}
		if len(names) == n {
			return nil, fmt.Errorf("--profile %q matches no profile in %s or %s (profiles: %s)", pat, base.Config.Path, base.Credentials.Path, strings.Join(known, ", "))
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	ids := make([]identity, len(names))
	for i, n := range names {
		ids[i] = identity{profile: n, label: n}
	}
	return ids, nil
}

// discoverer runs the calls of one discovery.
type discoverer struct {
	env  Env
	in   Input
	base tokencache.Identity
	sem  chan struct{}

	promptMu sync.Mutex // one MFA prompt at a time on the terminal
}

func (d *discoverer) init() {
	n := d.in.Parallel
	if n <= 0 {
		n = DefaultParallel
	}
	d.sem = make(chan struct{}, n)
}

// slot runs f holding one of the pool's slots.
func (d *discoverer) slot(ctx context.Context, f func() error) error {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-d.sem }()
	return d.retry(ctx, f)
}

// retry tries f again after a growing pause while the API throttles.
func (d *discoverer) retry(ctx context.Context, f func() error) error {
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		var api *eksapi.APIError
		if err == nil || !errors.As(err, &api) || !api.Throttled() || attempt == 5 {
			return err
		}
		if err := d.sleep(ctx, wait); err != nil {
			return err
		}
		wait *= 2
	}
}

func (d *discoverer) sleep(ctx context.Context, dur time.Duration) error {
	if d.env.Sleep != nil {
		return d.env.Sleep(ctx, dur)
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// place is one profile in one region, as looked in.
type place struct{ profile, region string }

// run looks through every identity in every region, in parallel, and
// returns the clusters sorted by profile, region and name.
func (d *discoverer) run(ctx context.Context, ids []identity) (clusters []found, refused []refusal, looked []place, calls int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := 0
	tick := func() { // with mu held
		done++
		if d.env.Progress {
			fmt.Fprintf(d.env.Stderr, "\r\033[Klooked in %d of %d places, %s found", done, len(looked), count(len(clusters), "cluster"))
		}
	}
	if d.env.Progress {
		defer fmt.Fprint(d.env.Stderr, "\r\033[K")
	}
	refuse := func(who, where string, err error) {
		mu.Lock()
		refused = append(refused, refusal{who: who, where: where, err: err})
		mu.Unlock()
	}
	for _, id := range ids {
		wg.Go(func() {
			res, regions, err := d.resolve(ctx, id)
			mu.Lock()
			calls++
			mu.Unlock()
			if err != nil {
				refuse(id.label, "", err)
				mu.Lock()
				looked = append(looked, place{id.label, ""})
				tick()
				mu.Unlock()
				return
			}
			var rw sync.WaitGroup
			for _, r := range regions {
				mu.Lock()
				looked = append(looked, place{id.label, r})
				mu.Unlock()
				rw.Go(func() {
					fs, n, err := d.region(ctx, id, res, r)
					if err != nil {
						refuse(id.label, r, err)
					}
					mu.Lock()
					calls += n
					clusters = append(clusters, fs...)
					tick()
					mu.Unlock()
				})
			}
			rw.Wait()
		})
	}
	wg.Wait()
	slices.SortFunc(clusters, func(a, b found) int {
		return cmpJoin(a.id.label, b.id.label, a.region, b.region, a.cluster.Name, b.cluster.Name)
	})
	slices.SortFunc(refused, func(a, b refusal) int { return cmpJoin(a.who, b.who, a.where, b.where) })
	return clusters, refused, looked, calls
}

func cmpJoin(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// resolve gets the credentials of id and the regions to look in.
func (d *discoverer) resolve(ctx context.Context, id identity) (aws.Config, []string, error) {
	region := ""
	if len(d.in.Regions) > 0 {
		region = d.in.Regions[0]
	}
	opts := awsauth.Options{Region: region, Profile: id.profile, SessionName: tokencache.DefaultSessionName,
		EffectiveProfile: id.label, ConfigFile: d.base.Config.Path, CredentialsFile: d.base.Credentials.Path}
	if d.env.IsTerminal != nil && d.env.IsTerminal() {
		prompt := awsauth.TerminalPrompt(d.env.Stdin, d.env.Stderr)
		opts.MFACode = func(serial string) (string, error) {
			d.promptMu.Lock()
			defer d.promptMu.Unlock()
			if d.env.Progress {
				fmt.Fprint(d.env.Stderr, "\r\033[K") // the prompt takes the progress line
			}
			fmt.Fprintf(d.env.Stderr, "profile %s: ", id.label)
			return prompt(serial)
		}
	}
	resolve := d.env.Resolve
	if resolve == nil {
		resolve = awsauth.Resolve
	}
	if id.sso != nil {
		resolve = func(ctx context.Context, _ awsauth.Options) (awsauth.Result, error) {
			cfg, err := id.sso.config(ctx)
			if region != "" {
				cfg.Region = region
			}
			return awsauth.Result{Config: cfg}, err
		}
	}
	var res awsauth.Result
	err := d.slot(ctx, func() error {
		rctx := ctx
		if opts.MFACode == nil {
			// No person to wait for: an STS or SSO endpoint that does not
			// answer is given up like any other call.
			var cancel context.CancelFunc
			rctx, cancel = context.WithTimeout(ctx, d.timeout())
			defer cancel()
		}
		var err error
		res, err = resolve(rctx, opts)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("no credentials within %v: %w", d.timeout(), err)
		}
		return err
	})
	if err != nil {
		return aws.Config{}, nil, err
	}
	cfg := res.Config
	switch {
	case len(d.in.Regions) > 0:
		return cfg, d.in.Regions, nil
	case !d.in.AllRegions:
		if cfg.Region == "" {
			return cfg, nil, errors.New("no region: pass --region or --all-regions, or set region in the profile")
		}
		return cfg, []string{cfg.Region}, nil
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // where DescribeRegions is asked; the answer covers the partition
	}
	var regions []string
	err = d.slot(ctx, func() error {
		var err error
		regions, err = d.client(cfg).EnabledRegions(ctx, firstNonEmpty(d.in.EC2Endpoint, d.env.Getenv("AWS_ENDPOINT_URL_EC2"), d.env.Getenv("AWS_ENDPOINT_URL")))
		return err
	})
	return cfg, regions, err
}

func (d *discoverer) timeout() time.Duration {
	if d.in.Timeout <= 0 {
		return DefaultTimeout
	}
	return d.in.Timeout
}

func (d *discoverer) client(cfg aws.Config) eksapi.Client {
	return eksapi.Client{Config: cfg, Now: d.env.Now, Timeout: d.timeout(),
		Endpoint: firstNonEmpty(d.in.Endpoint, d.env.Getenv("AWS_ENDPOINT_URL_EKS"), d.env.Getenv("AWS_ENDPOINT_URL"))}
}

// region lists and describes the clusters id can see in region r.
func (d *discoverer) region(ctx context.Context, id identity, cfg aws.Config, r string) ([]found, int, error) {
	cfg = cfg.Copy()
	cfg.Region = r
	api := d.client(cfg)
	var names []string
	calls := 1
	if err := d.slot(ctx, func() error {
		var err error
		names, err = api.List(ctx)
		return err
	}); err != nil {
		return nil, calls, err
	}
	out := make([]found, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			errs[i] = d.slot(ctx, func() error {
				cl, err := api.Describe(ctx, name)
				if err != nil {
					return err
				}
				if cl.Endpoint == "" || cl.CertificateAuthority.Data == "" {
					return fmt.Errorf("EKS cluster %q has no endpoint or certificate yet (status %s): run discover again when it is ACTIVE", name, cl.Status)
				}
				if err := cl.Check(name); err != nil {
					return err
				}
				out[i] = found{id: id, region: r, account: account(cl.ARN), cluster: cl}
				return nil
			})
		})
	}
	wg.Wait()
	calls += len(names)
	var kept []found
	for i := range out {
		if errs[i] == nil {
			kept = append(kept, out[i])
		}
	}
	return kept, calls, errors.Join(errs...)
}

// account is the account ID in an ARN (arn:aws:eks:region:account:...).
func account(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// entry is the kubeconfig entry of f: the cluster under its ARN (shared
// by every context that reaches it, as the aws CLI names it), and a user
// and a context under f's name. The user runs ekstoken with the cluster
// and region it was found in, and AWS_PROFILE for the profile that found
// it; Marker marks it as discovery's own, for --prune.
func entry(f found, command string, current bool) kubeconfig.Entry {
	r := tokencache.Request{ClusterName: f.cluster.Name, Region: f.region}
	if f.cluster.IsLocalOutposts() {
		r.ClusterName, r.ClusterID = "", f.cluster.ID
	}
	e := kubeconfig.Entry{
		ClusterName: f.cluster.ARN, Server: f.cluster.Endpoint, CAData: f.cluster.CertificateAuthority.Data,
		UserName: f.name, ContextName: f.name, SetCurrent: current,
		Exec: kubeconfig.Exec{APIVersion: kubeconfig.APIVersionV1Beta1, Command: command, Args: kubeconfig.TokenArgs(r)},
	}
	if f.id.profile != "" {
		e.Exec.Env = append(e.Exec.Env, kubeconfig.EnvVar{Name: "AWS_PROFILE", Value: f.id.profile})
	}
	e.Exec.Env = append(e.Exec.Env, kubeconfig.EnvVar{Name: MarkerEnv, Value: markerValue(f)})
	return e
}

func outcomeLine(o kubeconfig.Outcome, f found, dryRun bool) string {
	what := fmt.Sprintf("context %s (%s in %s, profile %s)", f.name, f.cluster.Name, f.region, f.id.label)
	switch {
	case o == kubeconfig.Added && dryRun:
		return "Would add " + what
	case o == kubeconfig.Added:
		return "Added " + what
	case o == kubeconfig.Updated && dryRun:
		return "Would update " + what
	case o == kubeconfig.Updated:
		return "Updated " + what
	}
	return "Up to date: " + what
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
