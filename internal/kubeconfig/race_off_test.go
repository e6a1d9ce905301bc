//go:build !race

package kubeconfig

const raceEnabled = false
