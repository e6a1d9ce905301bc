// Package doctor names the broken link between kubectl and EKS: it checks,
// in order, the kubeconfig entry, the command kubectl runs, the region and
// cluster, the credentials, the identity, the clock, the token and the
// cluster's answer, and says for each problem what to type next.
package doctor

// Status is the outcome of one check.
type Status string

// The outcomes of a check.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip" // not run: an earlier check failed that it needs
)

// Check is one line of the report. It never holds a token or a secret.
type Check struct {
	// Name is what was checked: "kubeconfig", "command", "region",
	// "credentials", "identity", "clock", "token", "cluster", "eks".
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail says what was found, in one line.
	Detail string `json:"detail"`
	// Fix is the next command to type (or thing to do) for a warn or fail.
	Fix string `json:"fix,omitempty"`
}

// Report is the result for one kubeconfig context.
type Report struct {
	Context string  `json:"context"`
	User    string  `json:"user"`
	File    string  `json:"file"`
	Checks  []Check `json:"checks"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}
