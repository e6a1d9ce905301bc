// Package background starts the refresh that a cache hit near the end of
// its token's served life asks for: the same token command with Flag
// added, as a new process in its own session, with stdin, stdout and
// stderr on the null device, so that it never holds kubectl's pipes nor
// asks anyone anything, and outlives the hit that starts it.
//
// It imports only os, strconv and syscall: the hit path (internal/fastpath) calls
// it from a package init, before the AWS SDK initializes.
package background

import "os"

// Flag is the hidden flag of the token command that makes it the
// background refresh rather than a request for a token.
const Flag = "--background"

// Request is one background refresh to start.
type Request struct {
	// Executable is the binary to run, and Args the token command's
	// arguments without the program name; Flag is added.
	Executable string
	Args       []string
	Env        []string
	// LockPath is the identity's lock file. Where the system allows
	// (Unix), the starter takes the lock without waiting and hands it to
	// the child as its file descriptor 3: of many hits at once only the
	// one that gets the lock starts a refresh, and the refresh runs under
	// it. Elsewhere the child takes the lock itself.
	LockPath string
	// FlagAt, when above 0, is where Flag goes in Args: `exec` puts it
	// right after its command word, before the wrapped plugin's own
	// arguments, where it would be the plugin's. 0 adds it at the end.
	FlagAt int
	// LogPath, when set, receives the child's stderr (its debug log);
	// otherwise stderr is the null device.
	LogPath string
}

// HandedLockFD is the descriptor the child finds the lock on.
const HandedLockFD = 3

// Start starts the refresh r describes and reports whether it did: false,
// with no error, when another process holds the lock (a refresh or a
// foreground miss is already under way).
func Start(r Request) (bool, error) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer null.Close()
	stderr := null
	if r.LogPath != "" {
		if f, err := openLog(r.LogPath); err == nil {
			defer f.Close()
			stderr = f
		}
	}
	return start(r, r.argv(), null, stderr)
}

// argv is the child's command line: Executable, Args, and Flag at FlagAt.
func (r Request) argv() []string {
	at := len(r.Args)
	if r.FlagAt > 0 && r.FlagAt <= len(r.Args) {
		at = r.FlagAt
	}
	argv := append([]string{r.Executable}, r.Args[:at]...)
	argv = append(argv, Flag)
	return append(argv, r.Args[at:]...)
}
