package kubeconfig

import "github.com/ekstoken/ekstoken/internal/tokencache"

// TokenArgs is the args list of a kubeconfig user that runs `ekstoken
// token` for r: the one builder for setup's rewrite and update-kubeconfig,
// so both write the same flags in the same order. --cluster-id (a local
// cluster on AWS Outposts) replaces --cluster-name; empty fields are left
// out, so that the token command's defaults and the environment apply.
func TokenArgs(r tokencache.Request) []string {
	a := []string{"token"}
	if r.ClusterID != "" {
		a = append(a, "--cluster-id", r.ClusterID)
	} else {
		a = append(a, "--cluster-name", r.ClusterName)
	}
	for _, f := range [][2]string{
		{"--region", r.Region}, {"--profile", r.Profile}, {"--role-arn", r.RoleARN},
		{"--external-id", r.ExternalID}, {"--session-name", r.SessionName},
	} {
		if f[1] != "" {
			a = append(a, f[0], f[1])
		}
	}
	return a
}
