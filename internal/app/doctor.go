package app

import (
	"errors"
	"fmt"

	"github.com/ekstoken/ekstoken/internal/doctor"
	"github.com/spf13/cobra"
)

// errChecksFailed makes doctor exit 1 after the report said why; Run
// prints it as the one-line summary.
var errChecksFailed = errors.New("a check failed: its fix is in the report on stdout")

func newDoctorCommand(env *Env) *cobra.Command {
	o := doctor.Options{}
	var output string
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Find the broken link between kubectl and EKS, and say what to type",
		Long: "doctor checks, for the EKS user of a kubeconfig context, each link kubectl goes through: the kubeconfig\n" +
			"entry, the command kubectl runs, the region and cluster, the credentials, and a token signed in memory.\n" +
			"It prints one line per check (ok, warn, fail, skip) and, under each warn or fail, the command to type.\n" +
			"It never prints a token or a secret key, and never prompts. It exits 1 when a check fails.",
		Example: "  ekstoken doctor\n  ekstoken doctor --context prod\n  ekstoken doctor --all-contexts -o json",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageError{cmd: c.CommandPath(), err: fmt.Errorf("--output %q: use text or json", output)}
			}
			if o.AllContexts && o.Context != "" {
				return usageError{cmd: c.CommandPath(), err: errors.New("--context and --all-contexts exclude each other")}
			}
			o.Getenv, o.Home, o.Now, o.Executable = env.Getenv, env.Home, env.Now, env.Executable
			o.Version = env.versionInfo().String()
			o.Remote = env.DoctorRemote
			if o.Remote == nil {
				o.Remote = doctor.RunRemote
			}
			reports, err := doctor.Run(c.Context(), o)
			if err != nil {
				return err
			}
			if output == "json" {
				err = doctor.WriteJSON(env.Stdout, reports)
			} else {
				err = doctor.WriteText(env.Stdout, reports)
			}
			if err != nil {
				return err
			}
			if doctor.Failed(reports) {
				return errChecksFailed
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&o.Context, "context", "", "context to check (default: the current context)")
	f.BoolVar(&o.AllContexts, "all-contexts", false, "check every context")
	f.StringVarP(&output, "output", "o", "text", "text or json")
	return c
}
