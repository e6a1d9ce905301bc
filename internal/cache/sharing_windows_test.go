//go:build windows

package cache

import (
	"errors"

	"golang.org/x/sys/windows"
)

// sharingRefused reports an error of Windows' sharing rules: an open
// refused while a rename replaces the file (a sharing violation), or a
// rename refused while another handle, opened without delete sharing, is
// open on the file it replaces (access denied).
func sharingRefused(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_ACCESS_DENIED)
}
