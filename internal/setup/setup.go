// Package setup is the `ekstoken setup` use case: find the kubeconfig
// files kubectl reads, rewrite their EKS users to run ekstoken (or show the
// diff), record each rewrite for --undo before the file is touched, and
// with Undo put those users back.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/kubeconfig"
	"github.com/ekstoken/ekstoken/internal/kubectllookup"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// Input is what the command line asked for. The command line checks that
// Undo comes with nothing but Kubeconfig, and Command against Absolute
// (kubectllookup.CheckFlags).
type Input struct {
	// Kubeconfig is the one file to change; "" means the files kubectl
	// reads (KUBECONFIG, else ~/.kube/config).
	Kubeconfig string
	// Contexts and Users limit the rewrite to these contexts' users and
	// these users.
	Contexts, Users []string
	DryRun          bool
	// Absolute and Command choose the command users run
	// (kubectllookup.Command).
	Absolute bool
	Command  string
	// Undo puts back what earlier setups rewrote instead.
	Undo bool
	// Wrap also rewrites users of other exec plugins into `ekstoken exec
	// -- PLUGIN ARGS...` (kubeconfig.RewriteOptions.Wrap).
	Wrap bool
}

// Env is the boundary to the operating system, passed in whole.
type Env struct {
	Getenv func(string) string
	Home   string // "" when it cannot be found
	// Stdout gets the diff of a dry run and nothing else; every message
	// goes to Stderr.
	Stdout, Stderr io.Writer
	Now            func() time.Time
	// Executable is the path of the running binary (os.Executable), for
	// the command users run.
	Executable func() (string, error)
}

// Run rewrites (or with in.Undo, restores) the kubeconfig files in asks
// for, saying on Stderr what it did to each. A file that fails is named in
// the error after the others are done.
func Run(ctx context.Context, env Env, in Input) error {
	files, err := kubectllookup.Kubeconfigs(in.Kubeconfig, env.Getenv, env.Home)
	if err != nil {
		return err
	}
	if in.Undo {
		return runUndo(env, files)
	}
	return run(ctx, env, in, files)
}

func run(ctx context.Context, env Env, o Input, files []string) error {
	command, err := kubectllookup.CommandSaid(kubectllookup.Self{Getenv: env.Getenv, Executable: env.Executable}, o.Command, o.Absolute, env.Stderr)
	if err != nil {
		return err
	}
	var failed []string
	var paths []string
	var seen []os.FileInfo
	sources := map[string][]byte{}
	for _, path := range files {
		if st, err := os.Stat(path); err == nil {
			// KUBECONFIG may name one file twice, through a link: edit it once.
			if slices.ContainsFunc(seen, func(o os.FileInfo) bool { return os.SameFile(o, st) }) {
				continue
			}
			seen = append(seen, st)
		}
		src, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && len(files) > 1 {
			continue // kubectl skips missing files of a KUBECONFIG list too
		}
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no kubeconfig at %s: add a cluster with `ekstoken update-kubeconfig --name NAME --region REGION`, or pass --kubeconfig", path)
		}
		if err != nil {
			return err
		}
		paths, sources[path] = append(paths, path), src
	}
	if len(paths) == 0 {
		return fmt.Errorf("none of the KUBECONFIG files exists (%s): add a cluster with `ekstoken update-kubeconfig --name NAME --region REGION`, or pass --kubeconfig",
			strings.Join(files, string(os.PathListSeparator)))
	}
	limits := limitsFor(env, o, paths, sources)
	if limits.err != nil {
		return limits.err
	}
	failed = append(failed, limits.failed...)
	changedAny := false
	for _, path := range paths {
		src := sources[path]
		if slices.Contains(limits.failed, path) {
			continue
		}
		opts := kubeconfig.RewriteOptions{
			Command:         command,
			Wrap:            o.Wrap,
			ProfileNeedsMFA: func(p string) bool { return profileNeedsMFA(ctx, env, p) },
			RegionKnown:     func(p string) bool { return regionKnown(ctx, env, p) },
			Skipped: func(user, reason string) {
				if reason == kubeconfig.AlreadyBare && command != kubectllookup.BinaryName {
					// An earlier setup wrote the bare name; kubectl will not find it.
					reason += ", but `ekstoken` is not this binary on PATH: put it on PATH, or set that user's command to " + command
				}
				fmt.Fprintf(env.Stderr, "%s: left user %q alone: %s\n", path, user, reason)
			},
		}
		if limits.perFile != nil {
			if opts.Users = limits.perFile[path]; len(opts.Users) == 0 {
				continue // none of the selected users is defined in this file
			}
		} else {
			opts.Contexts, opts.Users = o.Contexts, o.Users
		}
		out, changes, err := kubeconfig.Rewrite(src, opts)
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s: %v; the file is left untouched\n", path, err)
			failed = append(failed, path)
			continue
		}
		if len(changes) == 0 {
			fmt.Fprintf(env.Stderr, "%s: nothing to change\n", path)
			continue
		}
		changedAny = true
		for _, ch := range changes {
			fmt.Fprintf(env.Stderr, "%s: %s\n", path, strings.ReplaceAll(ch.String(), "\n", "\n"+strings.Repeat(" ", len(path)+2)))
		}
		if o.DryRun {
			fmt.Fprint(env.Stdout, kubeconfig.RedactedDiff(path, src, out))
			continue
		}
		users := make([]string, len(changes))
		for i, ch := range changes {
			users[i] = ch.User
		}
		record, err := undoLog(env).WriteSetup(path, src, out, users, env.Now())
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s: %v\n", path, err)
			failed = append(failed, path)
			continue
		}
		fmt.Fprintf(env.Stderr, "%s: rewrote %d %s; `ekstoken setup --undo` puts %s back (undo record: %s)\n",
			path, len(changes), plural(len(changes), "user", "users"), plural(len(changes), "it", "them"), record)
	}
	if o.DryRun && changedAny {
		fmt.Fprintln(env.Stderr, "dry run: nothing was written; run without --dry-run to apply")
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not rewrite %s", strings.Join(failed, ", "))
	}
	return nil
}

// setupLimits is what --context and --user select in each file.
type setupLimits struct {
	// perFile maps a file to the users to rewrite in it; nil means
	// "pass the flags through as given" (one file, or no flags).
	perFile map[string][]string
	failed  []string // files that could not be parsed
	err     error
}

// limitsFor resolves --context and --user across several files the way
// kubectl merges them: a context may live in one file and its user in
// another, and the first file to define a context wins. A name no file
// defines is an error. With a single file, Rewrite checks the names itself.
func limitsFor(env Env, o Input, paths []string, sources map[string][]byte) setupLimits {
	if len(paths) < 2 || len(o.Contexts)+len(o.Users) == 0 {
		return setupLimits{}
	}
	var l setupLimits
	contextUser := map[string]string{}
	definedIn := map[string][]string{} // user -> files
	for _, path := range paths {
		ctxs, users, err := kubeconfig.Names(sources[path])
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s: %v; the file is left untouched\n", path, err)
			l.failed = append(l.failed, path)
			continue
		}
		for c, u := range ctxs {
			if _, seen := contextUser[c]; !seen {
				contextUser[c] = u
			}
		}
		for _, u := range users {
			definedIn[u] = append(definedIn[u], path)
		}
	}
	wanted := slices.Clone(o.Users)
	for _, c := range o.Contexts {
		u, ok := contextUser[c]
		if !ok {
			l.err = fmt.Errorf("no context %q in %s", c, strings.Join(paths, ", "))
			return l
		}
		wanted = append(wanted, u)
	}
	l.perFile = map[string][]string{}
	for _, u := range wanted {
		if len(definedIn[u]) == 0 {
			l.err = fmt.Errorf("no user %q in %s", u, strings.Join(paths, ", "))
			return l
		}
		for _, path := range definedIn[u] {
			if !slices.Contains(l.perFile[path], u) {
				l.perFile[path] = append(l.perFile[path], u)
			}
		}
	}
	return l
}

// undoLog is where setup keeps what --undo needs: one private directory
// beside kubectl's own files, not files beside each kubeconfig.
func undoLog(env Env) kubeconfig.UndoLog {
	if env.Home == "" {
		return kubeconfig.UndoLog{}
	}
	return kubeconfig.UndoLog{Dir: filepath.Join(env.Home, ".kube", "ekstoken", "undo")}
}

// runUndo puts back the users setup rewrote in each file. Like a second
// setup, an undo with nothing (left) to do says so and succeeds; a user
// changed since setup is left alone, named, and makes it fail.
func runUndo(env Env, files []string) error {
	log := undoLog(env)
	if log.Dir == "" {
		return errors.New("no home directory, where setup keeps its undo records (~/.kube/ekstoken/undo): set HOME")
	}
	var seen []os.FileInfo
	var failed, leftAlone []string
	for _, path := range files {
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) && len(files) > 1 {
			if recs, _ := log.Records(path); len(recs) == 0 {
				continue // kubectl skips missing files of a KUBECONFIG list too
			}
		}
		if err == nil {
			if slices.ContainsFunc(seen, func(o os.FileInfo) bool { return os.SameFile(o, st) }) {
				continue
			}
			seen = append(seen, st)
		}
		res, err := log.Undo(path)
		if errors.Is(err, kubeconfig.ErrNothingToUndo) {
			fmt.Fprintf(env.Stderr, "%s: nothing to undo: %s holds no record of a setup of it (none ran, or it was undone already)\n", path, log.Dir)
			continue
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s: %v\n", path, err)
			failed = append(failed, path)
			continue
		}
		switch {
		case res.Whole && len(res.Restored) > 0:
			fmt.Fprintf(env.Stderr, "%s: restored the original, byte for byte (%s)\n", path, nameList(res.Restored))
		case res.Whole:
			fmt.Fprintf(env.Stderr, "%s: restored the original, byte for byte\n", path)
		case len(res.Restored) > 0:
			fmt.Fprintf(env.Stderr, "%s: put back %d %s as %s before setup (%s); everything else is kept as it is now\n",
				path, len(res.Restored), plural(len(res.Restored), "user", "users"), plural(len(res.Restored), "it was", "they were"), nameList(res.Restored))
		}
		if len(res.Already) > 0 {
			fmt.Fprintf(env.Stderr, "%s: already restored: %s %s as before setup\n", path, nameList(res.Already), plural(len(res.Already), "is", "are"))
		}
		for _, u := range res.Edited {
			fmt.Fprintf(env.Stderr, "%s: left user %q alone: it was changed after setup rewrote it\n", path, u)
		}
		for _, u := range res.Missing {
			fmt.Fprintf(env.Stderr, "%s: user %q is no longer in the file; not put back\n", path, u)
		}
		if len(res.Kept) > 0 {
			fmt.Fprintf(env.Stderr, "%s: the original of %s stays in %s; to keep the file as it is and forget it: rm %s\n",
				path, plural(len(res.Edited)+len(res.Missing), "that user", "those users"), strings.Join(res.Kept, ", "), strings.Join(res.Kept, " "))
			leftAlone = append(leftAlone, path)
		}
	}
	switch {
	case len(failed) > 0:
		return fmt.Errorf("could not undo setup in %s", strings.Join(failed, ", "))
	case len(leftAlone) > 0:
		return fmt.Errorf("left users changed since setup alone in %s", strings.Join(leftAlone, ", "))
	}
	return nil
}

// nameList quotes names for a message, the first few of a long list.
func nameList(names []string) string {
	const most = 5
	var q []string
	for _, n := range names[:min(len(names), most)] {
		q = append(q, fmt.Sprintf("%q", n))
	}
	if len(names) > most {
		q = append(q, fmt.Sprintf("and %d more", len(names)-most))
	}
	return strings.Join(q, ", ")
}

// regionKnown reports whether a region will be found for an AWS profile
// (or the default one) when kubectl runs ekstoken in this environment.
func regionKnown(ctx context.Context, env Env, profile string) bool {
	if env.Getenv("AWS_REGION") != "" || env.Getenv("AWS_DEFAULT_REGION") != "" {
		return true
	}
	if profile == "" {
		profile = firstNonEmpty(env.Getenv("AWS_PROFILE"), env.Getenv("AWS_DEFAULT_PROFILE"))
	}
	cfgFile, credFile := tokencache.AWSFiles(env.Getenv, env.Home)
	return awsauth.ProfileRegion(ctx, profile, cfgFile, credFile) != ""
}

// profileNeedsMFA reports whether an AWS profile (or the default one)
// would prompt for an MFA code, read from the files the aws CLI reads.
func profileNeedsMFA(ctx context.Context, env Env, profile string) bool {
	cfgFile, credFile := tokencache.AWSFiles(env.Getenv, env.Home)
	return awsauth.ProfileNeedsMFA(ctx, profile, cfgFile, credFile)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
