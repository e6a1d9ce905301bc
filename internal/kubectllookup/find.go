package kubectllookup

// LookPath finds name as kubectl's exec.LookPath would in the PATH (and,
// on Windows, PATHEXT) of getenv rather than this process's own, so that
// doctor can ask what another environment (kubectl's, a GUI's) would run.
// "" when nothing is found.
func LookPath(name string, getenv func(string) string) string {
	return lookPath(name, getenv("PATH"), getenv("PATHEXT"))
}
