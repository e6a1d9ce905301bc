//go:build windows

package cache

import (
	"errors"
	"os"
	"time"
)

// noFollow: Windows has no such flag; the directory is the user's own.
const noFollow = 0

// rename retries briefly: Windows refuses to replace a file that another
// process has open at that instant (Azure/kubelogin #71).
func rename(from, to string) error {
	var err error
	for range 10 {
		if err = os.Rename(from, to); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// lockHeld is never needed on Windows: no lock is handed down there (see
// Store.Adopt).
func lockHeld(*os.File) error { return errors.New("a handed-down lock is not supported on Windows") }
