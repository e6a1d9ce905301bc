// Package app is ekstoken's composition root and command line. Run receives
// the whole operating-system boundary (arguments, environment, streams,
// clock, home directory) and builds the cobra tree for that one run: no
// package-level commands, no init(), no os.Exit below main.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ekstoken/ekstoken/internal/debuglog"
	"github.com/ekstoken/ekstoken/internal/doctor"
	"github.com/ekstoken/ekstoken/internal/execcache"
	"github.com/ekstoken/ekstoken/internal/execwrap"
	"github.com/ekstoken/ekstoken/internal/gettoken"
	"github.com/ekstoken/ekstoken/internal/setup"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/ekstoken/ekstoken/internal/updatekubeconfig"
	"github.com/spf13/cobra"
)

// Env is everything ekstoken takes from the machine.
type Env struct {
	Args   []string // without the program name
	Getenv func(string) string
	// Environ is the whole environment, for `exec` to pass to the plugin
	// it wraps; nil means an empty one.
	Environ func() []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Now     func() time.Time
	Home    string // "" when it cannot be found
	Version string // stamped by a release (-ldflags -X main.version), else "dev"
	Commit  string // stamped as main.commit, else ""; see resolveVersion
	Date    string // stamped as main.date, else ""
	// IsTerminal reports whether stdin is a terminal a person can type at.
	IsTerminal func() bool
	// StderrIsTerminal reports whether stderr is a terminal, where
	// progress can be shown on one rewritten line.
	StderrIsTerminal func() bool
	// SSOLogin runs `aws sso login --profile p` attached to the terminal,
	// with its output on stderr.
	SSOLogin func(ctx context.Context, profile string) error
	// StartRefresh starts a background refresh (internal/background) and
	// HandedLock returns the lock a starter handed down; nil: none.
	StartRefresh func(lockPath, logPath string) (bool, error)
	HandedLock   func() *os.File
	// Executable is the path of the running binary, for --absolute.
	Executable func() (string, error)
	// GetToken runs the token use case; nil means gettoken.Run. Tests
	// replace it to see what the command line parsed into.
	GetToken func(context.Context, gettoken.Env, gettoken.Input) error
	// Setup and UpdateKubeconfig run those use cases; nil means setup.Run
	// and updatekubeconfig.Run. Tests replace them, as GetToken.
	Setup            func(context.Context, setup.Env, setup.Input) error
	UpdateKubeconfig func(context.Context, updatekubeconfig.Env, updatekubeconfig.Input) error
	// Exec runs the `exec` use case; nil means execwrap.Run. Tests
	// replace it, as GetToken.
	Exec func(context.Context, execwrap.Env, execcache.Request) error
	// DoctorRemote runs doctor's network checks of one context; nil means
	// doctor.RunRemote. Tests replace it to stay off the network.
	DoctorRemote func(context.Context, doctor.RemoteInput) []doctor.Check
}

// Run executes one command line and returns the process exit code.
func Run(ctx context.Context, env Env) int {
	root := newRoot(&env)
	root.SetArgs(env.Args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		// A wrapped plugin's failure: it said why on stderr, and its exit
		// code is ours.
		var pe *execwrap.ExitError
		if errors.As(err, &pe) {
			return pe.Code
		}
		// The one place errors are printed.
		fmt.Fprintf(env.Stderr, "ekstoken: %v\n", err)
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(env.Stderr, "Run '%s --help' for usage.\n", u.cmd)
		}
		return 1
	}
	return 0
}

// globalOptions are the aws CLI's global flags that ekstoken shares, so
// `ekstoken --region R eks get-token ...` parses like `aws`.
type globalOptions struct {
	region   string
	profile  string
	debug    bool
	cacheDir string
}

func newRoot(env *Env) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "ekstoken",
		Short: "Fast, cached EKS credentials for kubectl",
		Long: "ekstoken signs the bearer token that Amazon EKS expects, caches it safely, and prints it as\n" +
			"the ExecCredential that kubectl reads. Put it in your kubeconfig in place of `aws eks get-token`.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       env.versionInfo().String(),
	}
	root.SetVersionTemplate("ekstoken {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{cmd: c.CommandPath(), err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.region, "region", "", "AWS region of the cluster (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region)")
	pf.StringVar(&g.profile, "profile", "", "AWS profile (default: AWS_PROFILE, AWS_DEFAULT_PROFILE, then default)")
	pf.BoolVar(&g.debug, "debug", false, "explain on stderr what happens (also EKSTOKEN_DEBUG=1 or EKS_TOKEN_DEBUG=1)")
	pf.StringVar(&g.cacheDir, "cache-dir", "", "cache directory (default: EKSTOKEN_CACHE_DIR, $KUBECACHEDIR/ekstoken, ~/.kube/cache/ekstoken)")

	eks := &cobra.Command{
		Use:   "eks",
		Short: "Drop-in for `aws eks get-token` (the one aws eks command ekstoken implements)",
		// A kubeconfig that runs `ekstoken eks <typo>` must fail, not print
		// help on stdout where kubectl expects an ExecCredential.
		Args: cobra.ArbitraryArgs,
		// `eks update-kubeconfig --name x` must reach RunE to be pointed
		// to ekstoken's own command, not stop at its unknown flags.
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{cmd: c.CommandPath(), err: errors.New("missing command: get-token")}
			}
			if args[0] == "update-kubeconfig" {
				return usageError{cmd: c.CommandPath(), err: errors.New("ekstoken's update-kubeconfig is a command of its own: run `ekstoken update-kubeconfig` (without eks), with the same flags")}
			}
			return usageError{cmd: c.CommandPath(), err: fmt.Errorf("unknown command %q: ekstoken implements `eks get-token`", args[0])}
		},
	}
	eks.AddCommand(newTokenCommand(env, g, "get-token", true))
	root.AddCommand(newTokenCommand(env, g, "token", false), eks,
		newSetupCommand(env), newUpdateKubeconfigCommand(env, g), newDiscoverCommand(env),
		newStatusCommand(env, g), newClearCommand(env, g), newVersionCommand(env),
		newWhoamiCommand(env, g), newDoctorCommand(env), newExecCommand(env, g))
	return root
}

func (g *globalOptions) logger(env *Env) *slog.Logger {
	return debuglog.New(env.Stderr, g.debug || debuglog.Enabled(env.Getenv))
}

// resolveCacheDir picks the cache directory: --cache-dir, else
// tokencache.DefaultDir.
func (g *globalOptions) resolveCacheDir(env *Env) (string, error) {
	if g.cacheDir != "" {
		return g.cacheDir, nil
	}
	if dir := tokencache.DefaultDir(env.Getenv, env.Home); dir != "" {
		return dir, nil
	}
	return "", errors.New("no home directory to keep the cache in: pass --cache-dir or set EKSTOKEN_CACHE_DIR")
}

// usageError is a command-line mistake; Run adds a pointer to --help.
type usageError struct {
	cmd string
	err error
}

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{cmd: c.CommandPath(), err: fmt.Errorf("unexpected argument %q", args[0])}
	}
	return nil
}
