//go:build race

package kubeconfig

// raceEnabled: the race detector slows code ten times over, so tests
// leave timing out.
const raceEnabled = true
