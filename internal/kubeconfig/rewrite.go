package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/ekstoken/ekstoken/internal/yamledit"
	"gopkg.in/yaml.v3"
)

// API versions of client.authentication.k8s.io as kubeconfigs spell them.
const (
	APIVersionV1Alpha1 = "client.authentication.k8s.io/v1alpha1"
	APIVersionV1Beta1  = "client.authentication.k8s.io/v1beta1"
	APIVersionV1       = "client.authentication.k8s.io/v1"
)

// AlreadyBare is the reason Rewrite gives for leaving alone a user that
// runs ekstoken by its bare name, which works only where kubectl's PATH
// has it.
const AlreadyBare = "already runs ekstoken"

// RewriteOptions selects the users Rewrite converts and what they run.
type RewriteOptions struct {
	// Command is what converted users run: "ekstoken" or an absolute path.
	Command string
	// Contexts and Users limit the rewrite to the users these contexts
	// reference and to these user names (both given: either). Empty: all
	// users. A name the kubeconfig does not have is an error.
	Contexts []string
	Users    []string
	// ProfileNeedsMFA reports whether an AWS profile prompts for an MFA
	// code ("" is the default profile). A user with interactiveMode Never
	// whose profile does is switched to IfAvailable, since kubectl would
	// otherwise never let the prompt through. May be nil.
	ProfileNeedsMFA func(profile string) bool
	// RegionKnown reports whether a region will be found at run time for
	// an AWS profile ("" is the default one): AWS_REGION,
	// AWS_DEFAULT_REGION or the profile's region. A user whose old command
	// needed none (aws-iam-authenticator signs with the global STS
	// endpoint) gets --region aws-global when none will. May be nil.
	RegionKnown func(profile string) bool
	// Wrap also rewrites the exec users that run some other credential
	// plugin (gke-gcloud-auth-plugin, kubelogin, ...) into `Command exec
	// -- OLD-COMMAND OLD-ARGS...`, so that ekstoken caches what they print.
	// Their env, apiVersion, interactiveMode and provideClusterInfo stay
	// as they are: kubectl sets them for ekstoken, which passes them on.
	Wrap bool
	// Skipped, if set, is told about every selected user Rewrite leaves
	// alone and why (not an exec user, already ekstoken, an option ekstoken
	// has no equivalent for...).
	Skipped func(user, reason string)
}

// Change is one user Rewrite converted.
type Change struct {
	User    string   // kubeconfig user name
	Line    int      // line of the user entry in the original file
	From    string   // what it ran: "aws eks get-token", "aws-iam-authenticator token", "eks-token-cache.sh"
	Summary string   // one line: the command it runs now
	Notes   []string // apiVersion upgraded, interactiveMode set, ...
}

func (c Change) String() string {
	s := fmt.Sprintf("%s: %s -> %s", c.User, c.From, c.Summary)
	for _, n := range c.Notes {
		s += "\n  " + n
	}
	return s
}

// Rewrite converts the exec users of kubeconfig src that run `aws eks
// get-token`, `aws-iam-authenticator token` or the eks-token-cache.sh
// script into equivalent `ekstoken token` users. It does no I/O.
//
// Only the values that change are replaced in the original bytes (command,
// args, an apiVersion of v1alpha1, interactiveMode); everything else,
// comments and formatting included, is kept byte for byte. With nothing to
// change, out is src and changes is empty. Users already running ekstoken
// are left alone, so Rewrite(Rewrite(x)) == Rewrite(x).
func Rewrite(src []byte, opts RewriteOptions) (out []byte, changes []Change, err error) {
	if opts.Command == "" {
		return nil, nil, errors.New("kubeconfig: RewriteOptions.Command is empty")
	}
	d, err := parse(src)
	if err != nil {
		return nil, nil, err
	}
	selected, err := d.selectUsers(opts.Contexts, opts.Users)
	if err != nil {
		return nil, nil, err
	}
	skip := func(user, reason string) {
		if opts.Skipped != nil {
			opts.Skipped(user, reason)
		}
	}
	var edits []yamledit.Edit
	var planned []plannedExec
	regions := d.endpointRegions()
	for i, u := range d.userEntries() {
		name, _ := yamledit.ScalarValue(u, "name")
		if selected != nil && !selected[name] {
			continue
		}
		_, user := yamledit.MapGet(u, "user")
		_, ex := yamledit.MapGet(user, "exec")
		if ex == nil || yamledit.IsNull(ex) {
			skip(name, "not an exec credential plugin user")
			continue
		}
		p, reason, err := d.planExec(ex, opts, regions[name])
		if err == nil && reason == "" {
			err = yamledit.CheckPlain(ex)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("user %q: cannot rewrite it in place: %w; leave it out with --user/--context or edit it by hand", name, err)
		}
		if reason != "" {
			skip(name, reason)
			continue
		}
		edits = append(edits, p.edits...)
		p.index = i
		planned = append(planned, p)
		changes = append(changes, Change{User: name, Line: u.Line, From: p.from, Summary: p.summary, Notes: p.notes})
	}
	if len(edits) == 0 {
		return src, nil, nil
	}
	out, err = yamledit.Apply(src, edits)
	if err != nil {
		return nil, nil, err
	}
	if err := verifyRewrite(d, out, planned); err != nil {
		return nil, nil, err
	}
	return out, changes, nil
}

// userEntries returns the entries of the users list.
func (d *doc) userEntries() []*yaml.Node {
	_, seq := yamledit.MapGet(d.Root, "users")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	return seq.Content
}

func entryNames(d *doc, key string) []string {
	_, seq := yamledit.MapGet(d.Root, key)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	var names []string
	for _, e := range seq.Content {
		n, _ := yamledit.ScalarValue(e, "name")
		names = append(names, n)
	}
	return names
}

// selectUsers resolves the limits to a set of user names (nil: all).
func (d *doc) selectUsers(contexts, users []string) (map[string]bool, error) {
	if len(contexts) == 0 && len(users) == 0 {
		return nil, nil
	}
	sel := map[string]bool{}
	userNames := entryNames(d, "users")
	for _, c := range contexts {
		var found bool
		_, seq := yamledit.MapGet(d.Root, "contexts")
		if seq != nil && seq.Kind == yaml.SequenceNode {
			for _, e := range seq.Content {
				if n, _ := yamledit.ScalarValue(e, "name"); n != c {
					continue
				}
				found = true
				_, ctx := yamledit.MapGet(e, "context")
				u, _ := yamledit.ScalarValue(ctx, "user")
				if !slices.Contains(userNames, u) {
					return nil, fmt.Errorf("context %q uses user %q, which this kubeconfig does not define (users: %s)", c, u, list(userNames))
				}
				sel[u] = true
			}
		}
		if !found {
			return nil, fmt.Errorf("no context %q in this kubeconfig (contexts: %s)", c, list(entryNames(d, "contexts")))
		}
	}
	for _, u := range users {
		if !slices.Contains(userNames, u) {
			return nil, fmt.Errorf("no user %q in this kubeconfig (users: %s)", u, list(userNames))
		}
		sel[u] = true
	}
	return sel, nil
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// EnvVar is one entry of an exec plugin's env list.
type EnvVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// target is what an old exec entry asks for, in ekstoken's terms.
type target struct {
	from                           string
	clusterName, clusterID, region string
	profile, roleARN               string
	externalID, sessionName        string
	envProfile, envRegion          string // from the exec entry's env
	// globalSTS: without a region, the command signs with the global STS
	// endpoint (aws-iam-authenticator does; the aws CLI refuses).
	globalSTS bool
	notes     []string
}

func (t *target) args() []string {
	return TokenArgs(tokencache.Request{
		ClusterName: t.clusterName, ClusterID: t.clusterID, Region: t.region, Profile: t.profile,
		RoleARN: t.roleARN, ExternalID: t.externalID, SessionName: t.sessionName,
	})
}

// plannedExec is the rewrite of one exec mapping.
type plannedExec struct {
	index         int // in the users list
	from, summary string
	notes         []string
	edits         []yamledit.Edit
	command       string
	args          []string
	set           map[string]string // other keys set: apiVersion, interactiveMode
}

// commandBase is the lower-case base name of a command without ".exe",
// for both / and \ separated paths.
func commandBase(cmd string) string {
	if i := strings.LastIndexAny(cmd, `/\`); i >= 0 {
		cmd = cmd[i+1:]
	}
	return strings.TrimSuffix(strings.ToLower(cmd), ".exe")
}

// eksEndpoint matches an EKS API endpoint and captures its region:
// https://<id>.<shard>.<region>.eks.amazonaws.com[.cn].
var eksEndpoint = regexp.MustCompile(`^https://[^/]*\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.eks\.amazonaws\.com(?:\.cn)?(?::[0-9]+)?/?$`)

// endpointRegions maps each user to the region of the first EKS cluster
// that a context using it points at; users with no such context or
// endpoint are absent. One pass over contexts and clusters: a kubeconfig
// of thousands of users must not cost users × contexts × clusters.
func (d *doc) endpointRegions() map[string]string {
	_, contexts := yamledit.MapGet(d.Root, "contexts")
	_, clusters := yamledit.MapGet(d.Root, "clusters")
	if contexts == nil || clusters == nil || contexts.Kind != yaml.SequenceNode || clusters.Kind != yaml.SequenceNode {
		return nil
	}
	clusterRegion := map[string]string{} // the first EKS endpoint of each name
	for _, cl := range clusters.Content {
		n, _ := yamledit.ScalarValue(cl, "name")
		if _, seen := clusterRegion[n]; seen {
			continue
		}
		_, cluster := yamledit.MapGet(cl, "cluster")
		server, _ := yamledit.ScalarValue(cluster, "server")
		if m := eksEndpoint.FindStringSubmatch(server); m != nil {
			clusterRegion[n] = m[1]
		}
	}
	regions := map[string]string{}
	for _, c := range contexts.Content {
		_, ctx := yamledit.MapGet(c, "context")
		u, _ := yamledit.ScalarValue(ctx, "user")
		if _, seen := regions[u]; seen {
			continue
		}
		clusterName, _ := yamledit.ScalarValue(ctx, "cluster")
		if r, ok := clusterRegion[clusterName]; ok {
			regions[u] = r
		}
	}
	return regions
}

// planExec decides what exec mapping ex becomes. A non-empty reason means
// it stays as it is; an error means it should change but cannot be edited
// in place.
func (d *doc) planExec(ex *yaml.Node, opts RewriteOptions, endpointRegion string) (p plannedExec, reason string, err error) {
	if ex.Kind == yaml.AliasNode {
		if _, reason, _ := d.planExec(ex.Alias, opts, endpointRegion); reason != "" {
			return p, reason, nil
		}
		return p, "", yamledit.CheckPlain(ex)
	}
	command, _ := yamledit.ScalarValue(ex, "command")
	if ex.Kind != yaml.MappingNode {
		return p, "exec is not a mapping", nil
	}
	if command == "" {
		return p, "exec has no command", nil
	}
	if commandBase(command) == "ekstoken" {
		if command != "ekstoken" {
			return p, fmt.Sprintf("already runs ekstoken (%s)", command), nil
		}
		return p, AlreadyBare, nil
	}
	var args []string
	_, argsNode := yamledit.MapGet(ex, "args")
	if argsNode != nil && !yamledit.IsNull(argsNode) {
		if argsNode.Kind != yaml.SequenceNode {
			return p, "args is not a list", nil
		}
		for _, a := range argsNode.Content {
			if a.Kind != yaml.ScalarNode {
				return p, "args holds something other than strings", nil
			}
			args = append(args, a.Value)
		}
	}
	var env []EnvVar
	if _, en := yamledit.MapGet(ex, "env"); en != nil && !yamledit.IsNull(en) {
		if err := en.Decode(&env); err != nil {
			return p, "env is not a list of name/value pairs", nil
		}
	}
	var t *target
	switch base := commandBase(command); {
	case base == "aws":
		t, reason = parseAWS(args)
	case base == "aws-iam-authenticator":
		t, reason = parseAuthenticator(args, env)
	case base == "eks-token-cache.sh":
		t, reason = parseBlogScript(args)
	case (base == "bash" || base == "sh") && len(args) > 0 && commandBase(args[0]) == "eks-token-cache.sh":
		t, reason = parseBlogScript(args[1:])
	default:
		if opts.Wrap {
			return d.planWrap(ex, command, args, argsNode, opts)
		}
		return p, fmt.Sprintf("runs %s, not aws eks get-token, aws-iam-authenticator or eks-token-cache.sh (--wrap caches it through `ekstoken exec`)", command), nil
	}
	if reason != "" {
		return p, reason, nil
	}
	for _, e := range env {
		switch e.Name {
		case "AWS_PROFILE":
			t.envProfile = e.Value
		case "AWS_REGION":
			t.envRegion = e.Name + "=" + e.Value
		case "AWS_DEFAULT_REGION":
			if t.envRegion == "" {
				t.envRegion = e.Name + "=" + e.Value
			}
		}
	}
	if argsNode == nil || argsNode.Kind != yaml.SequenceNode {
		return p, "no args list to rewrite", nil
	}

	if t.region == "" && t.envRegion == "" && endpointRegion != "" {
		// aws-iam-authenticator and the aws CLI sign for the global STS
		// endpoint without a region; ekstoken wants one, and the cluster's
		// own is the right one (docs/token.md#regional-and-global).
		t.region = endpointRegion
		t.notes = append(t.notes, "region "+endpointRegion+" taken from the cluster's EKS endpoint")
	}
	profileName := t.profile
	if profileName == "" {
		profileName = t.envProfile
	}
	if t.region == "" && t.envRegion == "" && t.globalSTS && opts.RegionKnown != nil && !opts.RegionKnown(profileName) {
		// Nothing names a region, and the cluster's endpoint does not
		// either: sign as the old command did, with the global STS
		// endpoint, which EKS accepts for every commercial region. A
		// user that kubectl could not run is never written.
		t.region = "aws-global"
		t.notes = append(t.notes, "region aws-global: "+t.from+" signed with the global STS endpoint, and so does ekstoken")
	}
	p.from = t.from
	p.notes = t.notes
	p.command = opts.Command
	p.args = t.args()
	p.summary = strings.Join(append([]string{opts.Command}, p.args...), " ")
	if t.profile == "" && t.envProfile != "" {
		p.notes = append(p.notes, fmt.Sprintf("profile %q still comes from env AWS_PROFILE", t.envProfile))
	}
	switch {
	case t.region == "" && t.envRegion != "":
		p.notes = append(p.notes, "region still comes from env "+t.envRegion)
	case t.region == "":
		p.notes = append(p.notes, "no region given: ekstoken takes it from AWS_REGION, AWS_DEFAULT_REGION or the profile")
	}

	flow := ex.Style&yaml.FlowStyle != 0
	ck, cv := yamledit.MapGet(ex, "command")
	valQ := yamledit.QuotingOf(cv)

	// command
	e, err := d.ReplaceScalar(cv, ck, opts.Command, flow)
	if err != nil {
		return p, "", err
	}
	p.edits = append(p.edits, e)

	// args
	ak, _ := yamledit.MapGet(ex, "args")
	e, err = d.ReplaceList(argsNode, ak, p.args)
	if err != nil {
		return p, "", err
	}
	p.edits = append(p.edits, e)

	// set makes key hold val: replacing its value, or adding the key.
	set := func(key, val string) error {
		k, v := yamledit.MapGet(ex, key)
		var e yamledit.Edit
		var err error
		if k == nil {
			e, err = d.InsertKey(ex, key, val, valQ)
		} else {
			e, err = d.ReplaceScalar(v, k, val, flow)
		}
		if err != nil {
			return err
		}
		p.edits = append(p.edits, e)
		p.set[key] = val
		return nil
	}
	p.set = map[string]string{}

	// apiVersion
	switch v, _ := yamledit.ScalarValue(ex, "apiVersion"); v {
	case "":
		if err := set("apiVersion", APIVersionV1Beta1); err != nil {
			return p, "", err
		}
		p.notes = append(p.notes, "apiVersion was missing: set to "+APIVersionV1Beta1)
	case APIVersionV1Alpha1:
		if err := set("apiVersion", APIVersionV1Beta1); err != nil {
			return p, "", err
		}
		p.notes = append(p.notes, "apiVersion "+APIVersionV1Alpha1+" upgraded to "+APIVersionV1Beta1+": kubectl 1.24 and later reject v1alpha1")
	}

	// interactiveMode
	profile := t.profile
	if profile == "" {
		profile = t.envProfile
	}
	switch v, _ := yamledit.ScalarValue(ex, "interactiveMode"); {
	case v == "":
		if err := set("interactiveMode", "IfAvailable"); err != nil {
			return p, "", err
		}
		p.notes = append(p.notes, "interactiveMode set to IfAvailable (client-go's default for v1beta1; v1 requires the field)")
	case v == "Never" && opts.ProfileNeedsMFA != nil && opts.ProfileNeedsMFA(profile):
		if err := set("interactiveMode", "IfAvailable"); err != nil {
			return p, "", err
		}
		who := fmt.Sprintf("profile %q", profile)
		if profile == "" {
			who = "the default profile"
		}
		p.notes = append(p.notes, fmt.Sprintf("interactiveMode Never changed to IfAvailable: %s asks for an MFA code, which Never would keep kubectl from passing through", who))
	}
	return p, "", nil
}

// planWrap plans the rewrite of a plugin's exec mapping ex into `ekstoken
// exec -- command args...`. Only command and args change: args is added
// when the mapping has none (as gcloud writes them), and the old
// arguments keep their bytes, quoting and comments.
func (d *doc) planWrap(ex *yaml.Node, command string, args []string, argsNode *yaml.Node, opts RewriteOptions) (p plannedExec, reason string, err error) {
	if relativeWithDir(command) {
		// kubectl reads such a command relative to the kubeconfig's
		// directory; as an argument of ekstoken exec it would be read
		// relative to kubectl's working directory instead.
		return p, fmt.Sprintf("runs %s, a path relative to the kubeconfig's directory: make it absolute, then run setup --wrap again", command), nil
	}
	if argsNode != nil && yamledit.IsNull(argsNode) {
		return p, "args is null: remove it or make it a list, then run setup --wrap again", nil
	}
	// The arguments are not repeated on stderr: a plugin's may hold a
	// secret (kubelogin --client-secret), and they do not change.
	p.from = command
	p.command = opts.Command
	p.args = append([]string{"exec", "--", command}, args...)
	p.summary = opts.Command + " exec -- " + command
	if len(args) > 0 {
		p.from += " ARGS"
		p.summary += " ARGS"
		p.notes = append(p.notes, fmt.Sprintf("its arguments (%d) are kept as they were", len(args)))
	}
	p.set = map[string]string{}

	flow := ex.Style&yaml.FlowStyle != 0
	ck, cv := yamledit.MapGet(ex, "command")
	e, err := d.ReplaceScalar(cv, ck, opts.Command, flow)
	if err != nil {
		return p, "", err
	}
	p.edits = append(p.edits, e)
	switch {
	case argsNode == nil:
		e, err = d.InsertListKey(ex, "args", p.args, yamledit.QuotingOf(cv))
	case len(argsNode.Content) > 0:
		e, err = d.PrependList(argsNode, p.args[:3])
	default:
		ak, _ := yamledit.MapGet(ex, "args")
		e, err = d.ReplaceList(argsNode, ak, p.args)
	}
	if err != nil {
		return p, "", err
	}
	p.edits = append(p.edits, e)
	return p, "", nil
}

// relativeWithDir reports whether cmd names a file through a relative
// directory ("./plugin", "bin/plugin", `tools\plugin.exe`), which kubectl
// resolves against the kubeconfig's directory. Bare names are looked up
// in PATH and absolute paths (/x, C:\x, \\server\x) are kept as they are.
func relativeWithDir(cmd string) bool {
	if !strings.ContainsAny(cmd, `/\`) {
		return false
	}
	if strings.HasPrefix(cmd, "/") || strings.HasPrefix(cmd, `\\`) {
		return false
	}
	if len(cmd) >= 3 && cmd[1] == ':' && (cmd[2] == '\\' || cmd[2] == '/') {
		return false
	}
	return true
}

// value reads the value of flag a (at args[*i]) as "--flag value" or
// "--flag=value", advancing *i past it.
func value(args []string, i *int) (name, val string, ok bool) {
	name, val, hasEq := strings.Cut(args[*i], "=")
	if hasEq {
		return name, val, true
	}
	if *i+1 >= len(args) {
		return name, "", false
	}
	*i++
	return name, args[*i], true
}

// parseAWS reads `aws [globals] eks get-token [options]` in any order.
func parseAWS(args []string) (*target, string) {
	t := &target{from: "aws eks get-token"}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		flag, _, _ := strings.Cut(a, "=")
		switch flag {
		case "--debug", "--no-cli-pager", "--no-cli-auto-prompt", "--no-paginate":
			continue // only affect logging or paging
		case "--region", "--profile", "--output", "--cluster-name", "--cluster-id", "--role-arn", "--role", "--session-name":
		default:
			return nil, fmt.Sprintf("aws option %s has no ekstoken equivalent", flag)
		}
		_, v, ok := value(args, &i)
		if !ok {
			return nil, fmt.Sprintf("aws option %s has no value", flag)
		}
		switch flag {
		case "--region":
			t.region = v
		case "--profile":
			t.profile = v
		case "--output":
			if v != "json" {
				return nil, fmt.Sprintf("--output %s: kubectl reads only json", v)
			}
		case "--cluster-name":
			t.clusterName = v
		case "--cluster-id":
			t.clusterID = v
		case "--role-arn", "--role":
			t.roleARN = v
		case "--session-name":
			t.sessionName = v
		}
	}
	if !slices.Equal(pos, []string{"eks", "get-token"}) {
		return nil, fmt.Sprintf("aws %s is not `aws eks get-token`", strings.Join(pos, " "))
	}
	return t.checkCluster("--cluster-name", "--cluster-id")
}

// parseAuthenticator reads `aws-iam-authenticator token -i CLUSTER ...`.
func parseAuthenticator(args []string, env []EnvVar) (*target, string) {
	t := &target{from: "aws-iam-authenticator token", globalSTS: true}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flag, _, _ := strings.Cut(a, "=")
		switch flag {
		case "--cache":
			continue // ekstoken caches anyway
		case "-i", "--cluster-id", "-r", "--role", "--region", "-e", "--external-id", "-s", "--session-name", "-v", "--log-verbosity", "-l", "--log-format":
		default:
			return nil, fmt.Sprintf("aws-iam-authenticator option %s has no ekstoken equivalent", flag)
		}
		_, v, ok := value(args, &i)
		if !ok {
			return nil, fmt.Sprintf("aws-iam-authenticator option %s has no value", flag)
		}
		switch flag {
		case "-i", "--cluster-id":
			t.clusterName = v
		case "-r", "--role":
			t.roleARN = v
		case "--region":
			t.region = v
		case "-e", "--external-id":
			t.externalID = v
		case "-s", "--session-name":
			t.sessionName = v
		}
	}
	if !slices.Equal(pos, []string{"token"}) {
		return nil, fmt.Sprintf("aws-iam-authenticator %s is not `aws-iam-authenticator token`", strings.Join(pos, " "))
	}
	if t.roleARN == "" {
		for _, e := range env {
			if e.Name == "DEFAULT_ROLE" && e.Value != "" {
				t.roleARN = e.Value
				t.notes = append(t.notes, "role from env DEFAULT_ROLE passed as --role-arn")
			}
		}
	}
	if t.roleARN != "" && t.sessionName == "" {
		// aws-iam-authenticator names the session after the time; a role
		// mapping that uses {{SessionName}} will see the new name.
		t.notes = append(t.notes, "role session name becomes EKSGetTokenAuth, as with aws eks get-token (add --session-name to its args for another)")
	}
	return t.checkCluster("-i", "")
}

// parseBlogScript reads the blog's `eks-token-cache.sh CLUSTER REGION
// [PROFILE]`; a profile of "default" means none.
func parseBlogScript(args []string) (*target, string) {
	if len(args) < 2 || len(args) > 3 {
		return nil, fmt.Sprintf("eks-token-cache.sh takes CLUSTER REGION [PROFILE], found %d arguments", len(args))
	}
	t := &target{from: "eks-token-cache.sh", clusterName: args[0], region: args[1]}
	if len(args) == 3 && args[2] != "default" {
		t.profile = args[2]
	}
	return t.checkCluster("CLUSTER", "")
}

func (t *target) checkCluster(nameFlag, idFlag string) (*target, string) {
	switch {
	case t.clusterName != "" && t.clusterID != "":
		return nil, fmt.Sprintf("both %s and %s are given", nameFlag, idFlag)
	case t.clusterName == "" && t.clusterID == "":
		return nil, "no cluster given (" + nameFlag + ")"
	}
	return t, ""
}

// verifyRewrite checks that out parses and differs from the parsed src d
// exactly in the planned exec fields. Anything else is a bug in the
// splicing, and an error is better than a damaged kubeconfig.
//
// All edits fall inside the top-level users entry. When that entry starts
// a line of a block-style file and the bytes before and after it are
// unchanged, that entry alone is parsed again: YAML reads a key at column
// one the same whatever precedes it, so this is the same check at a cost
// that does not grow with the clusters and their certificates. Otherwise,
// or if that check fails, the whole result is parsed.
func verifyRewrite(d *doc, out []byte, planned []plannedExec) error {
	_, usersNode := yamledit.MapGet(d.Root, "users")
	var users []any
	if err := usersNode.Decode(&users); err != nil {
		return err
	}
	for _, p := range planned {
		u, _ := users[p.index].(map[string]any)
		user, _ := u["user"].(map[string]any)
		ex, _ := user["exec"].(map[string]any)
		if ex == nil {
			return errors.New("internal error: planned exec not found")
		}
		ex["command"] = p.command
		args := make([]any, len(p.args))
		for i, a := range p.args {
			args[i] = a
		}
		ex["args"] = args
		for k, v := range p.set {
			ex[k] = v
		}
	}
	if lo, hi, ok := d.TopLevelSection("users"); ok {
		tail := len(d.Src) - hi
		if len(out) >= lo+tail && bytes.Equal(out[:lo], d.Src[:lo]) && bytes.Equal(out[len(out)-tail:], d.Src[hi:]) {
			var got map[string]any
			if err := yaml.Unmarshal(out[lo:len(out)-tail], &got); err == nil && len(got) == 1 && reflect.DeepEqual(got["users"], users) {
				return nil
			}
		}
	}
	var want, got map[string]any
	if err := d.Root.Decode(&want); err != nil {
		return err
	}
	want["users"] = users
	if err := yaml.Unmarshal(out, &got); err != nil {
		return fmt.Errorf("%w: the result would not parse (%w); nothing was changed", ErrInPlace, err)
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%w: the result would differ in more than the exec entries; nothing was changed", ErrInPlace)
	}
	return nil
}
