package awsauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// explained is a message for a person over the SDK's error, which stays
// reachable for errors.As and is logged whole under --debug.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

func explainf(err error, format string, args ...any) error {
	return &explained{msg: fmt.Sprintf(format, args...), err: err}
}

// envKeys reports keys in the environment, as the SDK reads them.
func envKeys(getenv func(string) string) bool {
	return getenv("AWS_ACCESS_KEY_ID") != "" || getenv("AWS_ACCESS_KEY") != ""
}

// partialEnvKeys refuses an access key ID in the environment without its
// secret key, as the aws CLI does ("Partial credentials found in env"):
// the SDK would silently skip it and sign as someone else, or end in an
// instance-metadata error. With --profile the environment's keys do not
// count, as in the aws CLI.
func partialEnvKeys(getenv func(string) string, profileFlag bool) error {
	if profileFlag || !envKeys(getenv) {
		return nil
	}
	if getenv("AWS_SECRET_ACCESS_KEY") == "" && getenv("AWS_SECRET_KEY") == "" {
		return errors.New("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both (with AWS_SESSION_TOKEN for temporary keys), or unset AWS_ACCESS_KEY_ID to use a profile")
	}
	return nil
}

// isSSOUnauthorized reports the SSO portal's refusal of the access token.
func isSSOUnauthorized(err error) bool {
	var op *smithy.OperationError
	var api smithy.APIError
	return errors.As(err, &op) && op.ServiceID == "SSO" && errors.As(err, &api) && api.ErrorCode() == "UnauthorizedException"
}

// isAccessDenied reports STS's refusal of a role, by error code.
func isAccessDenied(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && strings.HasPrefix(api.ErrorCode(), "AccessDenied")
}

// explain turns the SDK's errors into ones a person can act on. The SDK's
// own text (operation chains, request IDs, retry counts) goes to the debug
// log; the message keeps only the service's code and message, or the
// innermost cause.
func (o Options) explain(ctx context.Context, err error) error {
	var expired *ExpiredError
	if errors.As(err, &expired) {
		// Found under the SDK's wrapping when the expired keys were the
		// base of --role-arn: the explanation is ours already.
		if expired.Profile == "" {
			expired.Profile = o.profileName()
		}
		return expired
	}
	profile := o.profileName()
	getenv := o.getenv()
	// The SDK quotes a credential_process's whole output when it cannot
	// parse it, secret key and session token included: keep only the
	// parser's own complaint, in the message and in the debug log.
	var pe *processcreds.ProviderError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "process output:") {
		reason := "unreadable output"
		if inner := errors.Unwrap(pe.Err); inner != nil {
			reason = inner.Error()
		}
		o.log().Debug("credential resolution failed", "err", "credential_process output not understood: "+reason)
		return &explained{msg: fmt.Sprintf("the credential_process of profile %q printed something that is not credentials JSON "+
			"(Version 1, AccessKeyId, SecretAccessKey, SessionToken, Expiration in RFC 3339): %s; run the process by hand to see its output",
			profile, reason)}
	}
	o.log().Debug("credential resolution failed", "err", err)
	var notExist config.SharedConfigProfileNotExistError
	if errors.As(err, &notExist) {
		have := Profiles(o.ConfigFile, o.CredentialsFile)
		list := "none"
		if len(have) > 0 {
			list = strings.Join(have, ", ")
		}
		return explainf(err, "AWS profile %q not found in %s or %s (profiles there: %s); pass --profile or set AWS_PROFILE to one of them",
			profile, o.ConfigFile, o.CredentialsFile, list)
	}
	var noMFA config.AssumeRoleTokenProviderNotSetError
	if errors.As(err, &noMFA) {
		return explainf(err, "%s", o.mfaMessage(profile))
	}
	// Legacy SSO profiles fail with InvalidTokenError; sso-session ones
	// with a plain "refresh cached SSO token failed" error.
	// (the SDK has no type for it). A token the portal no longer accepts
	// (signed out elsewhere, session revoked) needs the same login.
	var sso *ssocreds.InvalidTokenError
	if errors.As(err, &sso) || strings.Contains(err.Error(), "cached SSO token") || isSSOUnauthorized(err) {
		return &SSOLoginError{Profile: profile, Err: err}
	}
	if o.container {
		// Container credentials (ECS, EKS Pod Identity) involve no
		// profile: name the variable that pointed at the endpoint.
		v := "AWS_CONTAINER_CREDENTIALS_FULL_URI"
		uri := getenv(v)
		if uri == "" {
			v, uri = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
		}
		return explainf(err, "the container credentials endpoint (%s=%s) gave no credentials: %s; check that the pod or task has a role, and that its authorization token (AWS_CONTAINER_AUTHORIZATION_TOKEN or _FILE) is readable",
			v, uri, Reason(err))
	}
	if o.webIdentity && o.RoleARN == "" {
		// IRSA: name the variables that chose the role and the token.
		if file := getenv("AWS_WEB_IDENTITY_TOKEN_FILE"); file != "" {
			return explainf(err, "cannot assume role %s with the web identity token in %s (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE): %s; check the role's trust policy for the token's issuer and subject",
				getenv("AWS_ROLE_ARN"), file, Reason(err))
		}
		return explainf(err, "cannot assume the role of profile %q with its web_identity_token_file: %s; check the role's trust policy for the token's issuer and subject",
			profile, Reason(err))
	}
	// The instance metadata service is the chain's last resort: a failure
	// there, even under an AssumeRole whose base credentials it was asked
	// for (--role-arn with nothing else), means no credentials anywhere.
	if failedAt(err, "ec2imds") {
		var b strings.Builder
		fmt.Fprintf(&b, "no AWS credentials found: tried the environment (AWS_ACCESS_KEY_ID), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), "+
			"profile %q in %s and %s, container credentials and EC2 instance metadata", profile, o.ConfigFile, o.CredentialsFile)
		if o.RoleARN != "" {
			b.WriteString(" (for the credentials that assume --role-arn " + o.RoleARN + ")")
		}
		if getenv("AWS_SECRET_ACCESS_KEY") != "" && !envKeys(getenv) {
			b.WriteString("; AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both")
		}
		b.WriteString("; run `aws configure`, `aws sso login`, or set AWS_PROFILE")
		return explainf(err, "%s", b.String())
	}
	if isAccessDenied(err) {
		role, base := o.RoleARN, o.baseIdentity
		if role == "" {
			role, base = o.profileRole(ctx, profile)
		}
		if role != "" {
			return explainf(err, "cannot assume role %s with the credentials of profile %q%s: check the role's trust policy and the caller's sts:AssumeRole permission (%s)",
				role, profile, base, Reason(err))
		}
	}
	return explainf(err, "get AWS credentials for profile %q: %s", profile, Reason(err))
}

// mfaMessage says why no MFA code could be asked for, and the one command
// that asks for it in a terminal and leaves the role session in the cache
// for kubectl.
func (o Options) mfaMessage(profile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "profile %q needs an MFA code, and ", profile)
	if o.FromKubectl {
		b.WriteString("kubectl had no terminal to lend ekstoken to ask for it (kubectl ran in a pipe, an IDE or another program; " +
			"or the kubeconfig user says `interactiveMode: Never`, then change it to IfAvailable)")
	} else {
		b.WriteString("ekstoken has no terminal to ask for it on (stdin is not a terminal)")
	}
	cmd := o.LoginCommand
	if cmd == "" {
		cmd = "ekstoken token --profile " + profile
	}
	fmt.Fprintf(&b, ": run this once in a terminal, type the code, and kubectl will use the role session it starts until it ends: %s", cmd)
	return b.String()
}

// Reason is what a person reads of an SDK error: the service's error code
// and message, or the network's complaint, without the SDK's operation
// chain, request IDs and retry counts.
func Reason(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		code, msg := api.ErrorCode(), api.ErrorMessage()
		switch {
		case code == "":
			return msg
		case msg == "":
			return code
		}
		return code + ": " + msg
	}
	// A request that never got an answer (refused, timed out, a TLS
	// certificate not trusted): the endpoint and the cause.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Sprintf("%s: %v", urlErr.URL, innermost(urlErr.Err))
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() != 0 {
		return fmt.Sprintf("HTTP %d", resp.HTTPStatusCode())
	}
	var max *retry.MaxAttemptsError
	if errors.As(err, &max) && max.Err != nil {
		return Reason(max.Err)
	}
	var op *smithy.OperationError
	if errors.As(err, &op) && op.Err != nil {
		return innermost(op.Err).Error()
	}
	return err.Error()
}

// innermost is the last error of a wrap chain: the cause itself.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// failedAt reports whether an operation of the SDK service serviceID is
// anywhere in err's chain.
func failedAt(err error, serviceID string) bool {
	for err != nil {
		// Each link is looked at on its own (errors.As would find only the
		// outermost operation).
		if op, ok := err.(*smithy.OperationError); ok && op.ServiceID == serviceID { //nolint:errorlint // see above
			return true
		}
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range multi.Unwrap() {
				if failedAt(e, serviceID) {
					return true
				}
			}
			return false
		}
		err = errors.Unwrap(err)
	}
	return false
}
