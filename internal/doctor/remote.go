package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/ekstoken/ekstoken/internal/eksapi"
	"github.com/ekstoken/ekstoken/internal/token"
)

// Timeout bounds each network check: a diagnosis must not hang on the
// one link that is broken.
const Timeout = 5 * time.Second

// The clock thresholds. EKS accepts a token while STS accepts its
// presigned request, and STS refuses signatures more than a few minutes
// away from its own clock (docs/token.md#sts); a minute already shortens
// every token's life as kubectl sees it.
const (
	ClockWarn = time.Minute
	ClockFail = 5 * time.Minute
)

// AWSIdentity is what STS GetCallerIdentity says of the credentials.
type AWSIdentity struct {
	Account string `json:"account"`
	ARN     string `json:"arn"`
	// Role is, for an assumed-role session, the role behind it as EKS
	// maps it (arn:PARTITION:iam::ACCOUNT:role/NAME, without the role's
	// path, which the session ARN does not carry); else "".
	Role string `json:"role,omitempty"`
}

// Principal is the ARN that EKS access entries and the aws-auth ConfigMap
// match: the role for an assumed-role session, else the ARN itself.
func (id AWSIdentity) Principal() string {
	if id.Role != "" {
		return id.Role
	}
	return id.ARN
}

// STSAnswer is what the identity check saw of STS's answer, for the clock
// check. ServerDate is zero when no answer (or no Date header) came.
type STSAnswer struct {
	Endpoint   string    // the URL called, for messages
	ServerDate time.Time // the answer's Date header
	LocalDate  time.Time // the local clock when the answer came
}

// CheckIdentity calls STS GetCallerIdentity with cfg (credentials and
// region as awsauth.Resolve gives them; AWS_ENDPOINT_URL_STS and
// endpoint_url apply). now is the local clock, read when the answer
// arrives, for CheckClock. The Date header is read from error answers
// too: a skewed clock is the usual reason STS refuses a signature.
func CheckIdentity(ctx context.Context, cfg aws.Config, now func() time.Time) (Check, AWSIdentity, STSAnswer) {
	var ans STSAnswer
	capture := middleware.DeserializeMiddlewareFunc("ekstokenDoctorDate", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		if r, ok := in.Request.(*smithyhttp.Request); ok && r.URL != nil {
			u := *r.URL
			u.RawQuery = ""
			ans.Endpoint = u.String()
		}
		out, md, err := next.HandleDeserialize(ctx, in)
		if r, ok := out.RawResponse.(*smithyhttp.Response); ok && r != nil {
			if d, perr := http.ParseTime(r.Header.Get("Date")); perr == nil {
				ans.ServerDate, ans.LocalDate = d, now()
			}
		}
		return out, md, err
	})
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		// One retry: enough for the SDK's own clock-skew correction,
		// little enough to stay within Timeout.
		o.RetryMaxAttempts = 2
		// A FIPS pseudo-region names the FIPS host of the real region,
		// as the token command signs for it.
		// An endpoint override (a VPC endpoint, a test) is taken as it is:
		// the SDK refuses FIPS with one.
		if real, fips := token.SigningRegion(cfg.Region); fips {
			o.Region = real
			if o.BaseEndpoint == nil {
				o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
			}
		}
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Deserialize.Add(capture, middleware.After)
		})
	})
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	endpoint := cmpOr(ans.Endpoint, "STS in "+cfg.Region)
	if err != nil {
		c := Check{Name: "identity", Status: Fail}
		switch {
		case ctx.Err() != nil:
			c.Detail = fmt.Sprintf("no answer from %s within %v", endpoint, Timeout)
			c.Fix = "check the network, a proxy (HTTPS_PROXY) and AWS_ENDPOINT_URL_STS; behind a VPC endpoint, set AWS_STS_REGIONAL_ENDPOINTS=regional"
		case ans.ServerDate.IsZero() && isNetErr(err):
			c.Detail = fmt.Sprintf("cannot reach %s: %s", endpoint, shortErr(err))
			c.Fix = "check the network, a proxy (HTTPS_PROXY) and AWS_ENDPOINT_URL_STS"
		case ans.ServerDate.IsZero():
			c.Detail = fmt.Sprintf("cannot call STS GetCallerIdentity (%s): %s", endpoint, shortErr(err))
			c.Fix = "check the region, AWS_ENDPOINT_URL_STS and the profile's endpoint_url"
		default:
			c.Detail = fmt.Sprintf("STS at %s refused the credentials: %s", endpoint, shortErr(err))
			c.Fix = "renew the credentials (aws sso login, fresh keys), or fix the clock if the clock check says it is off"
		}
		return c, AWSIdentity{}, ans
	}
	id := AWSIdentity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn)}
	id.Role = RoleOf(id.ARN)
	detail := fmt.Sprintf("account %s, %s", id.Account, id.ARN)
	if id.Role != "" {
		detail += ", role " + id.Role
	}
	return Check{Name: "identity", Status: OK, Detail: detail}, id, ans
}

// RoleOf is the role behind an assumed-role session ARN
// (arn:P:sts::A:assumed-role/NAME/SESSION becomes arn:P:iam::A:role/NAME,
// as EKS canonicalizes it), or "" for any other ARN.
func RoleOf(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "sts" {
		return ""
	}
	res := strings.Split(f[5], "/")
	if len(res) != 3 || res[0] != "assumed-role" || res[1] == "" {
		return ""
	}
	return "arn:" + f[1] + ":iam::" + f[4] + ":role/" + res[1]
}

// CheckClock compares the local clock with STS's, as the identity check
// saw them. The Date header counts whole seconds, so a second of
// difference is noise.
func CheckClock(ans STSAnswer) Check {
	if ans.ServerDate.IsZero() {
		return Check{Name: "clock", Status: Skip, Detail: "no answer with a Date header from STS to compare with"}
	}
	skew := ans.LocalDate.Sub(ans.ServerDate)
	abs := skew.Abs().Truncate(time.Second)
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	detail := fmt.Sprintf("local clock is %v %s STS (%s)", abs, dir, ans.Endpoint)
	const fix = "sync the clock: sudo timedatectl set-ntp true (Linux), sudo sntp -sS time.apple.com (macOS), w32tm /resync (Windows)"
	switch {
	case abs > ClockFail:
		return Check{Name: "clock", Status: Fail, Detail: detail + ": EKS refuses tokens signed this far off", Fix: fix}
	case abs > ClockWarn:
		return Check{Name: "clock", Status: Warn, Detail: detail + ": tokens expire early or late by as much", Fix: fix}
	}
	if abs <= time.Second {
		detail = fmt.Sprintf("local clock agrees with STS (%s)", ans.Endpoint)
	}
	return Check{Name: "clock", Status: OK, Detail: detail}
}

// Target is the API server of a kubeconfig cluster and what EKS should
// see in a token for it.
type Target struct {
	Server string // the cluster's server URL
	// CAData is the PEM of certificate-authority-data (decoded from
	// base64); nil means the system's roots.
	CAData        []byte
	TLSServerName string
	Insecure      bool // insecure-skip-tls-verify
	// ClusterName (or ClusterID) and Region are what the token was signed
	// for, and Principal the IAM ARN EKS maps: for the explanations.
	ClusterName, Region, Principal string
}

// KubeUser is the cluster's view of the caller: what SelfSubjectReview
// says.
type KubeUser struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// CheckCluster sends token to the API server as kubectl auth whoami does
// (a SelfSubjectReview of authentication.k8s.io/v1) and explains the
// answer. It uses net/http alone: client-go stays out of the binary.
func CheckCluster(ctx context.Context, t Target, token string) (Check, KubeUser) {
	c := Check{Name: "cluster"}
	u, err := url.Parse(t.Server)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		c.Status, c.Detail = Fail, fmt.Sprintf("the kubeconfig's server %q is not an https URL", t.Server)
		c.Fix = fmt.Sprintf("ekstoken update-kubeconfig --name %s --region %s", cmpOr(t.ClusterName, "CLUSTER"), cmpOr(t.Region, "REGION"))
		return c, KubeUser{}
	}
	tlsConf := &tls.Config{ServerName: t.TLSServerName, InsecureSkipVerify: t.Insecure} // only when the kubeconfig says insecure-skip-tls-verify, as kubectl does
	if len(t.CAData) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(t.CAData) {
			c.Status, c.Detail = Fail, "the kubeconfig's certificate-authority-data holds no PEM certificate"
			c.Fix = fmt.Sprintf("ekstoken update-kubeconfig --name %s --region %s", cmpOr(t.ClusterName, "CLUSTER"), cmpOr(t.Region, "REGION"))
			return c, KubeUser{}
		}
		tlsConf.RootCAs = pool
	}
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsConf}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	endpoint := strings.TrimSuffix(t.Server, "/") + "/apis/authentication.k8s.io/v1/selfsubjectreviews"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint,
		strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`))
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("bad server URL %q: %v", t.Server, err)
		return c, KubeUser{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		c.Status = Fail
		var unknownCA x509.UnknownAuthorityError
		var hostErr x509.HostnameError
		switch {
		case ctx.Err() != nil:
			c.Detail = fmt.Sprintf("no answer from the API server at %s within %v", t.Server, Timeout)
			c.Fix = "check the network or VPN: a cluster with a private endpoint answers only inside its VPC"
		case errors.As(err, &unknownCA), errors.As(err, &hostErr):
			c.Detail = fmt.Sprintf("the API server at %s is not the one the kubeconfig's certificate authority vouches for: %s", t.Server, shortErr(err))
			c.Fix = fmt.Sprintf("ekstoken update-kubeconfig --name %s --region %s", cmpOr(t.ClusterName, "CLUSTER"), cmpOr(t.Region, "REGION"))
		default:
			c.Detail = fmt.Sprintf("cannot reach the API server at %s: %s", t.Server, shortErr(err))
			c.Fix = "check the network or VPN and the kubeconfig's server; a cluster with a private endpoint answers only inside its VPC"
		}
		return c, KubeUser{}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	who := cmpOr(t.Principal, "your IAM principal")
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated:
		var r struct {
			Status struct {
				UserInfo KubeUser `json:"userInfo"`
			} `json:"status"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Status.UserInfo.Username == "" {
			c.Status, c.Detail = Warn, fmt.Sprintf("the API server at %s accepted the token but its SelfSubjectReview names no user", t.Server)
			return c, KubeUser{}
		}
		ku := r.Status.UserInfo
		c.Status, c.Detail = OK, fmt.Sprintf("%s accepts the token: Kubernetes user %s, groups %s", t.Server, ku.Username, strings.Join(ku.Groups, ", "))
		return c, ku
	case http.StatusUnauthorized:
		c.Status = Fail
		c.Detail = fmt.Sprintf("the API server at %s refused the token (401 Unauthorized): %s is not mapped to a Kubernetes user there, or the token names another cluster (%s), or it has expired",
			t.Server, who, cmpOr(t.ClusterName, "?"))
		c.Fix = unauthorizedFix(t)
		return c, KubeUser{}
	case http.StatusForbidden:
		c.Status, c.Detail = Warn, fmt.Sprintf("the API server at %s accepts the token, but does not let it create a SelfSubjectReview (403): it cannot say which Kubernetes user you are", t.Server)
		c.Fix = "kubectl auth can-i --list shows what you may do"
		return c, KubeUser{}
	case http.StatusNotFound:
		c.Status, c.Detail = Warn, fmt.Sprintf("the API server at %s accepts the token, but serves no SelfSubjectReview (Kubernetes before 1.28): it cannot say which Kubernetes user you are", t.Server)
		return c, KubeUser{}
	}
	c.Status, c.Detail = Fail, fmt.Sprintf("the API server at %s answered %s: %s", t.Server, resp.Status, strings.TrimSpace(string(truncateBytes(body, 200))))
	return c, KubeUser{}
}

// unauthorizedFix lists what to do about a 401, most likely first.
func unauthorizedFix(t Target) string {
	cluster, region, who := cmpOr(t.ClusterName, "CLUSTER"), cmpOr(t.Region, "REGION"), cmpOr(t.Principal, "ARN")
	return fmt.Sprintf("map %s to a Kubernetes user: aws eks create-access-entry --cluster-name %s --region %s --principal-arn %s, "+
		"then aws eks associate-access-policy --cluster-name %s --region %s --principal-arn %s "+
		"--policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy --access-scope type=cluster "+
		"(or add it to the aws-auth ConfigMap); if the cluster is not %s, fix --cluster-name in the kubeconfig "+
		"(ekstoken update-kubeconfig --name NAME --region %s); if a stale token is served, ekstoken clear",
		who, cluster, region, who, cluster, region, who, cluster, region)
}

// EKSInfo is what DescribeCluster says, for whoami and the report.
type EKSInfo struct {
	Status             string `json:"status"`
	AuthenticationMode string `json:"authenticationMode,omitempty"`
}

// Describer is eksapi.Client's DescribeCluster.
type Describer interface {
	Describe(ctx context.Context, name string) (eksapi.Cluster, error)
}

// CheckEKS describes the cluster, when the caller may: its status and
// authentication mode (API, API_AND_CONFIG_MAP or CONFIG_MAP: where
// the ARN must be mapped). A caller without eks:DescribeCluster gets a
// warning, not a failure: kubectl does not need it.
func CheckEKS(ctx context.Context, api Describer, name string) (Check, EKSInfo) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	cl, err := api.Describe(ctx, name)
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "AccessDenied") || strings.Contains(msg, "UnauthorizedOperation") || strings.Contains(msg, "403 Forbidden"):
			return Check{Name: "eks", Status: Warn, Detail: fmt.Sprintf("not allowed to describe the cluster %s (eks:DescribeCluster): status and authentication mode unknown", name),
				Fix: "nothing needed for kubectl; to see them, allow eks:DescribeCluster"}, EKSInfo{}
		case strings.Contains(msg, "ResourceNotFound"):
			return Check{Name: "eks", Status: Fail, Detail: fmt.Sprintf("EKS has no cluster %s in this region and account", name),
				Fix: "aws eks list-clusters shows the names; fix --cluster-name and --region in the kubeconfig"}, EKSInfo{}
		case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
			return Check{Name: "eks", Status: Warn, Detail: fmt.Sprintf("no answer from the EKS API within %v: %s", Timeout, msg),
				Fix: "check the network and AWS_ENDPOINT_URL_EKS"}, EKSInfo{}
		case isNetErr(err):
			// The error names the URL it could not reach.
			return Check{Name: "eks", Status: Warn, Detail: "cannot reach the EKS API: " + msg,
				Fix: "check the network and AWS_ENDPOINT_URL_EKS"}, EKSInfo{}
		}
		return Check{Name: "eks", Status: Warn, Detail: shortErr(err)}, EKSInfo{}
	}
	info := EKSInfo{Status: cl.Status}
	if cl.AccessConfig != nil {
		info.AuthenticationMode = cl.AccessConfig.AuthenticationMode
	}
	detail := fmt.Sprintf("cluster %s is %s", name, cmpOr(cl.Status, "in an unknown state"))
	if info.AuthenticationMode != "" {
		detail += ", authentication mode " + info.AuthenticationMode
	}
	if cl.Status != "" && cl.Status != "ACTIVE" && cl.Status != "UPDATING" {
		return Check{Name: "eks", Status: Warn, Detail: detail, Fix: "wait until the cluster is ACTIVE: aws eks wait cluster-active --name " + name}, info
	}
	return Check{Name: "eks", Status: OK, Detail: detail}, info
}

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}

// shortErr is the innermost useful part of an error: the SDK's chain of
// operation names and request IDs says nothing to the person reading.
func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	s := err.Error()
	if i := strings.LastIndex(s, "api error "); i >= 0 {
		s = s[i+len("api error "):]
	}
	return s
}

func truncateBytes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(bytes.Clone(b[:n]), "..."...)
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
