// Command ekstoken is a kubectl exec credential plugin for Amazon EKS. See
// the README; everything lives in internal/app.
package main

import (
	"context"
	"os"
	"os/signal"
	"time"

	"github.com/ekstoken/ekstoken/internal/app"
	// A cache hit is answered in this package's init, before the AWS SDK
	// initializes; see its package comment.
	_ "github.com/ekstoken/ekstoken/internal/fastpath"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	home, _ := os.UserHomeDir()
	code := app.Run(ctx, app.Env{
		Args:   os.Args[1:],
		Getenv: os.Getenv,
		Stdin:  os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Now:     time.Now,
		Home:    home,
		Version: version,
	})
	stop()
	os.Exit(code)
}
