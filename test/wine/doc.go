// Package wine holds the end-to-end smoke of ekstoken's Windows build under
// wine: miss, hit, parallel misses, status, the background refresh a hit
// starts, clear and setup --dry-run, run by .ci/windows, which builds
// what wine 8 lacks (bcryptprimitives.dll) and sets WINEPREFIX. It is
// behind the winesmoke build tag so that `go test ./...` does not need
// wine: `go test -tags winesmoke ./test/wine`.
package wine
