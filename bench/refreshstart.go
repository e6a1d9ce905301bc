package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ekstoken/ekstoken/internal/clock"
	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/gofrs/flock"
)

// agedCluster is the cluster whose cached token the bench keeps in its
// refresh-ahead window: every hit on it starts a background refresh.
const agedCluster = "bench-cluster-aged"

// refreshStartCommand is a hit that starts a background refresh. Its token
// entry was signed 10 minutes ago (by a fake-clock build of ekstoken), so
// its served life has 4 minutes left, inside the default 5-minute
// refresh-ahead window. Before each run, untimed, the bench waits for the
// refresh the previous run started (its lock) and puts the aged entry
// back: every timed run is a hit that starts a refresh, and none shares
// the machine with the last one's refresh.
func (b *bench) refreshStartCommand(ekstoken, home string, tokenArgs []string) (command, error) {
	fake, err := devbin.Build(filepath.Join(b.dir, "fakeclock"), "-tags", "ekstoken_fakeclock")
	if err != nil {
		return command{}, err
	}
	nowFile := filepath.Join(b.dir, "fake-now")
	if err := os.WriteFile(nowFile, []byte(time.Now().Add(-10*time.Minute).UTC().Format(time.RFC3339Nano)), 0o600); err != nil {
		return command{}, err
	}
	args := append(append([]string{}, tokenArgs...), "--cluster-name", agedCluster)
	before, _ := filepath.Glob(filepath.Join(home, ".kube", "cache", "ekstoken", "token-*.json"))
	if _, err := b.output([]string{clock.FileEnv + "=" + nowFile}, fake, args...); err != nil {
		return command{}, err
	}
	after, _ := filepath.Glob(filepath.Join(home, ".kube", "cache", "ekstoken", "token-*.json"))
	entry := ""
	for _, p := range after {
		if !contains(before, p) {
			entry = p
		}
	}
	if entry == "" {
		return command{}, fmt.Errorf("no cache entry for %s", agedCluster)
	}
	aged, err := os.ReadFile(entry)
	if err != nil {
		return command{}, err
	}
	lock := entry[:len(entry)-len(".json")] + ".lock"
	return command{
		name: "ekstoken hit, starting a background refresh",
		argv: append([]string{ekstoken}, args...),
		prepare: func() error {
			if err := waitLock(lock); err != nil {
				return err
			}
			tmp := entry + ".bench"
			if err := os.WriteFile(tmp, aged, 0o600); err != nil {
				return err
			}
			return os.Rename(tmp, entry)
		},
	}, nil
}

// waitLock blocks until nobody holds the lock file at path.
func waitLock(path string) error {
	fl := flock.New(path)
	if err := fl.Lock(); err != nil {
		return err
	}
	return fl.Unlock()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
