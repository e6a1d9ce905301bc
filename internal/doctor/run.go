package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/kubectllookup"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// Options are the inputs of one doctor run. The machine comes in through
// them: the environment, the home directory, the clock, this binary.
type Options struct {
	// Kubeconfig is --kubeconfig; "" reads KUBECONFIG, then ~/.kube/config.
	Kubeconfig string
	// Context is --context; "" is the current context.
	Context string
	// AllContexts checks every context of the merged kubeconfig.
	AllContexts bool

	Getenv func(string) string
	Home   string
	Now    func() time.Time
	// Executable is the path of the running binary; nil when unknown.
	Executable func() (string, error)
	Version    string

	// Remote runs the network checks (identity, clock, cluster, eks) of
	// one context after the local ones have passed far enough to sign a
	// token; nil skips them. RunRemote is the real one.
	Remote func(ctx context.Context, in RemoteInput) []Check
}

// RemoteInput is what the local checks learned about one context: what
// the network checks need. It holds credentials and a token: never print
// it.
type RemoteInput struct {
	Context string
	User    string
	File    string
	// Cluster is how the kubeconfig reaches the API server, as
	// LoadContext reads it; ClusterErr says why it could not be read.
	Cluster    Target
	ClusterErr error
	// Request is the token request of the user's args; Region is the
	// region it resolves to.
	Request tokencache.Request
	Region  string
	// Credentials are the resolved configuration and credentials.
	Credentials awsauth.Result
	// Token is a token freshly signed for the cluster, in memory only.
	Token string
	// Now is the clock the local checks used; Getenv the plugin's
	// environment (the kubeconfig user's env over doctor's).
	Now    func() time.Time
	Getenv func(string) string
}

// command is an ekstoken command line for a fix, with --kubeconfig when
// doctor was given one.
func (o *Options) command(args ...string) string {
	parts := append([]string{kubectllookup.BinaryName}, args...)
	if o.Kubeconfig != "" && (args[0] == "setup" || args[0] == "update-kubeconfig") {
		parts = append(parts, "--kubeconfig", o.Kubeconfig)
	}
	return shellJoin(parts)
}

// shellJoin quotes words for a POSIX shell where they need it, so that a
// fix can be pasted as it is.
func shellJoin(words []string) string {
	parts := make([]string, len(words))
	for i, p := range words {
		parts[i] = p
		if p == "" || strings.ContainsAny(p, " \t\n'\"$`\\*?;&|<>()[]{}~#!") {
			parts[i] = "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
	}
	return strings.Join(parts, " ")
}

func (o *Options) self() string {
	if o.Executable == nil {
		return ""
	}
	p, err := o.Executable()
	if err != nil {
		return ""
	}
	return p
}

// Run checks the chosen contexts and returns one report for each.
func Run(ctx context.Context, o Options) ([]Report, error) {
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Now == nil {
		return nil, fmt.Errorf("doctor: no clock")
	}
	files, err := kubectllookup.Kubeconfigs(o.Kubeconfig, o.Getenv, o.Home)
	if err != nil {
		return nil, err
	}
	m, err := loadMerged(files)
	if err != nil {
		return nil, err
	}
	var names []string
	switch {
	case o.AllContexts:
		names = m.order
		if len(names) == 0 {
			return nil, fmt.Errorf("no contexts in %s", strings.Join(files, string(os.PathListSeparator)))
		}
	case o.Context != "":
		names = []string{o.Context}
	case m.current != "":
		names = []string{m.current}
	default:
		return nil, fmt.Errorf("no current context in %s: pass --context NAME or --all-contexts (see `kubectl config get-contexts`)",
			strings.Join(files, string(os.PathListSeparator)))
	}
	reports := make([]Report, 0, len(names))
	for _, name := range names {
		reports = append(reports, checkContext(ctx, &o, m, name))
	}
	return reports, nil
}

func checkContext(ctx context.Context, o *Options, m *merged, name string) Report {
	rep := Report{Context: name, Checks: []Check{}}
	s := &state{ctx: ctx, o: o, rep: &rep, ctxName: name}
	steps := []func() bool{
		func() bool { return s.checkKubeconfig(m) },
		s.checkCommand,
		func() bool { return s.checkRegion(ctx) },
		func() bool { return s.checkCredentials(ctx) },
		func() bool { return s.checkToken(ctx) },
	}
	for _, step := range steps {
		if !step() {
			return rep
		}
	}
	if o.Remote != nil {
		in := RemoteInput{
			Context: name, User: rep.User, File: rep.File,
			Request: s.req.Request, Region: s.region, Credentials: *s.creds, Token: s.token, Now: o.Now, Getenv: s.getenv,
		}
		kc, err := m.context(name)
		in.Cluster, in.ClusterErr = kc.Target, err
		rep.Checks = append(rep.Checks, o.Remote(ctx, in)...)
	}
	return rep
}

// Failed reports whether any report has a failed check.
func Failed(reports []Report) bool {
	for _, r := range reports {
		if r.Failed() {
			return true
		}
	}
	return false
}

// WriteText writes the readable report: a header per context, then one
// line per check and, under a warn or fail, the fix.
func WriteText(w io.Writer, reports []Report) error {
	var b strings.Builder
	for i, r := range reports {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "context %s (user %s, %s)\n", r.Context, orNone(r.User), orNone(r.File))
		for _, c := range r.Checks {
			fmt.Fprintf(&b, "%-4s  %-11s  %s\n", c.Status, c.Name, c.Detail)
			if c.Fix != "" {
				fmt.Fprintf(&b, "      → %s\n", c.Fix)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the reports as one JSON array.
func WriteJSON(w io.Writer, reports []Report) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(reports)
}
