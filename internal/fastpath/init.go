package fastpath

import (
	"fmt"
	"os"
	"time"
)

// init is a second main, for the cache hit only: see the package comment.
// Like main, it is the one place that hands the real operating system to
// the code, and it exits only when the answer is complete.
func init() {
	home, _ := os.UserHomeDir()
	served, err := Serve(Env{
		Args:   os.Args[1:],
		Getenv: os.Getenv,
		Stdout: os.Stdout, Stderr: os.Stderr,
		Now:  time.Now,
		Home: home,
	})
	if !served {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ekstoken: write ExecCredential: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}
