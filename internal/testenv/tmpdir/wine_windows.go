package tmpdir

import (
	"sync"

	"golang.org/x/sys/windows/registry"
)

// UnderWine reports whether the process runs under wine, which keeps its
// own key in the registry: real Windows has no HKLM\Software\Wine.
var UnderWine = sync.OnceValue(func() bool {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `Software\Wine`, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	k.Close()
	return true
})
