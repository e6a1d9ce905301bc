// Command ekstoken is a kubectl exec credential plugin for Amazon EKS. See
// the README; everything lives in internal/app.
package main

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/ekstoken/ekstoken/internal/app"
	"github.com/ekstoken/ekstoken/internal/background"
	"github.com/ekstoken/ekstoken/internal/clock"

	// A cache hit is answered in this package's init, before the AWS SDK
	// initializes; see its package comment.
	_ "github.com/ekstoken/ekstoken/cmd/ekstoken/internal/hit"
	"golang.org/x/term"
)

// A release stamps these with -ldflags "-X main.version=v1.2.3
// -X main.commit=<sha> -X main.date=<RFC 3339>" (.goreleaser.yaml). They
// are read only by app.Run: the cache hit is answered before main runs.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	home, _ := os.UserHomeDir()
	code := app.Run(ctx, app.Env{
		Args:    os.Args[1:],
		Getenv:  os.Getenv,
		Environ: os.Environ,
		Stdin:   os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Now:              clock.Now,
		Home:             home,
		Version:          version,
		Commit:           commit,
		Date:             date,
		IsTerminal:       func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
		StderrIsTerminal: func() bool { return term.IsTerminal(int(os.Stderr.Fd())) },
		Executable:       os.Executable,
		StartRefresh: func(lockPath, logPath string) (bool, error) {
			exe, err := os.Executable()
			if err != nil {
				return false, err
			}
			return background.Start(background.Request{Executable: exe, Args: os.Args[1:], Env: os.Environ(), LockPath: lockPath, LogPath: logPath})
		},
		HandedLock: background.HandedLock,
		SSOLogin: func(ctx context.Context, profile string) error {
			cmd := exec.CommandContext(ctx, "aws", "sso", "login", "--profile", profile)
			// stdout belongs to kubectl: the login's messages go to stderr.
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stderr, os.Stderr
			return cmd.Run()
		},
	})
	stop()
	os.Exit(code)
}
