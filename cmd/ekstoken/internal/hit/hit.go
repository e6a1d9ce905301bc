// Package hit answers a cache hit from its init, before the AWS SDK's
// packages initialize: see internal/fastpath. Only main imports it (Go's
// internal directory rule enforces that), so no test binary, whose
// arguments could look like a token request, can be ended by it.
//
// The order holds because Go initializes packages in import-path order, each
// as soon as its imports are done, and because this module's path sorts
// before net/, which the SDK's packages wait on. TestModulePathSortsFirst in
// cmd/ekstoken fails if the module is ever moved to a path that does not.
package hit

import (
	"os"

	"github.com/ekstoken/ekstoken/internal/background"
	"github.com/ekstoken/ekstoken/internal/clock"
	"github.com/ekstoken/ekstoken/internal/fastpath"
)

// init is a second main, for the cache hit only. Like main, it is the one
// place that hands the real operating system to the code, and it exits
// only when the answer is complete.
func init() {
	home, _ := os.UserHomeDir()
	served, err := fastpath.Serve(fastpath.Env{
		Args:    os.Args[1:],
		Getenv:  os.Getenv,
		Environ: os.Environ,
		Stdout:  os.Stdout, Stderr: os.Stderr,
		Now:  clock.Now,
		Home: home,
		StartRefresh: func(lockPath string) (bool, error) {
			exe, err := os.Executable()
			if err != nil {
				return false, err
			}
			return background.Start(background.Request{Executable: exe, Args: os.Args[1:], Env: os.Environ(), LockPath: lockPath})
		},
		StartExecRefresh: func(lockPath string) (bool, error) {
			exe, err := os.Executable()
			if err != nil {
				return false, err
			}
			return background.Start(background.Request{Executable: exe, Args: os.Args[1:], FlagAt: 1, Env: os.Environ(), LockPath: lockPath})
		},
	})
	if !served {
		return
	}
	if err != nil {
		os.Stderr.WriteString("ekstoken: write ExecCredential: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}
