package doctor

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ekstoken/ekstoken/internal/eksapi"
)

// RunRemote runs the network checks of one context, in order: who STS
// says the credentials are, the clock against STS's, what the cluster
// makes of the token, and what EKS says of the cluster. Each has its own
// short timeout (Timeout).
func RunRemote(ctx context.Context, in RemoteInput) []Check {
	// The credentials just resolved, as they are: asking the provider
	// again might assume the role again or want another MFA code.
	cfg := in.Credentials.Config.Copy()
	creds := in.Credentials.Credentials
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })

	idCheck, id, ans := CheckIdentity(ctx, cfg, in.Now)
	checks := []Check{idCheck, CheckClock(ans)}

	cluster := cmpOr(in.Request.ClusterName, in.Request.ClusterID)
	if in.ClusterErr != nil {
		checks = append(checks, Check{Name: "cluster", Status: Fail,
			Detail: fmt.Sprintf("cannot read the cluster of context %q: %v", in.Context, in.ClusterErr), Fix: "kubectl config view --minify"})
	} else {
		t := in.Cluster
		t.ClusterName, t.Region, t.Principal = cluster, in.Region, id.Principal()
		c, _ := CheckCluster(ctx, t, in.Token)
		checks = append(checks, c)
	}

	if in.Request.ClusterName != "" { // an Outposts local cluster has no DescribeCluster by ID
		getenv := in.Getenv
		if getenv == nil {
			getenv = func(string) string { return "" }
		}
		api := eksapi.Client{Config: cfg, Now: in.Now, Timeout: Timeout,
			Endpoint: cmpOr(getenv("AWS_ENDPOINT_URL_EKS"), getenv("AWS_ENDPOINT_URL"))}
		c, _ := CheckEKS(ctx, api, in.Request.ClusterName)
		checks = append(checks, c)
	}
	return checks
}
