package awsauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// stsError is an STS error response as the SDK returns it.
func stsError(op, code, msg string, status int) error {
	return &smithy.OperationError{ServiceID: "STS", OperationName: op, Err: &awshttp.ResponseError{
		RequestID: "4f1e0c1e-0000-4000-8000-000000000000",
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient},
		},
	}}
}

// refused is a connection refused after the SDK's retries.
func refused(service, op, u string) error {
	return &smithy.OperationError{ServiceID: service, OperationName: op, Err: &retry.MaxAttemptsError{Attempt: 3,
		Err: &smithyhttp.RequestSendError{Err: &url.Error{Op: "Get", URL: u,
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}}}}
}

// Every explanation: what the person reads names what happened and what to
// do, never the SDK's operation chain; the SDK's error stays reachable and
// is logged whole for --debug.
func TestExplain(t *testing.T) {
	sdkJargon := []string{"operation error", "RequestID", "https response error", "exceeded maximum number of attempts", "failed to refresh cached credentials"}
	for _, tt := range []struct {
		name string
		opts Options
		env  map[string]string
		err  error
		want []string
		not  []string
		as   any // a pointer to a type errors.As must still find
	}{
		{
			name: "role refused", opts: Options{RoleARN: "arn:aws:iam::1:role/locked", baseIdentity: " (key AKIA1 from EnvConfigCredentials)"},
			err:  fmt.Errorf("failed to refresh cached credentials, %w", stsError("AssumeRole", "AccessDenied", "User: alice is not authorized", 403)),
			want: []string{"arn:aws:iam::1:role/locked", "AKIA1", "AccessDenied: User: alice is not authorized", "trust policy"},
			as:   new(smithy.APIError),
		},
		{
			name: "other STS error", err: stsError("AssumeRole", "RegionDisabledException", "STS is not activated in this region", 403),
			want: []string{`profile "dev"`, "RegionDisabledException: STS is not activated"},
		},
		{
			name: "container endpoint", opts: Options{container: true}, env: map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"},
			err:  fmt.Errorf("failed to refresh cached credentials, failed to load credentials, %w", refused("endpoint-credentials", "GetCredentials", "http://169.254.170.23/v1/credentials")),
			want: []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials", "connection refused"},
			not:  []string{"profile", "default"},
		},
		{
			name: "container endpoint, relative", opts: Options{container: true}, env: map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"},
			err:  fmt.Errorf("failed to load credentials, %w", refused("endpoint-credentials", "GetCredentials", "http://169.254.170.2/v2/credentials/abc")),
			want: []string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/abc"},
			not:  []string{"profile"},
		},
		{
			name: "web identity", opts: Options{webIdentity: true},
			env:  map[string]string{"AWS_ROLE_ARN": "arn:aws:iam::1:role/irsa", "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
			err:  fmt.Errorf("failed to refresh cached credentials, %w", stsError("AssumeRoleWithWebIdentity", "InvalidIdentityToken", "No OpenIDConnect provider found", 400)),
			want: []string{"arn:aws:iam::1:role/irsa", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token", "InvalidIdentityToken: No OpenIDConnect provider found"},
			not:  []string{`profile "`},
		},
		{
			name: "nothing anywhere",
			err:  fmt.Errorf("failed to refresh cached credentials, no EC2 IMDS role found, %w", &smithy.OperationError{ServiceID: "ec2imds", OperationName: "GetMetadata", Err: errors.New("access disabled to EC2 IMDS via client option")}),
			want: []string{"no AWS credentials found", `profile "dev"`, "aws configure"},
			not:  []string{"AWS_SECRET_ACCESS_KEY is set"},
		},
		{
			// --role-arn with no base credentials: the IMDS failure is
			// under the AssumeRole operation that wanted them.
			name: "nothing anywhere under --role-arn", opts: Options{RoleARN: "arn:aws:iam::1:role/r"},
			err: &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole",
				Err: fmt.Errorf("failed to retrieve credentials: %w", &smithy.OperationError{ServiceID: "ec2imds", OperationName: "GetMetadata", Err: errors.New("access disabled to EC2 IMDS via client option")})},
			want: []string{"no AWS credentials found", "--role-arn arn:aws:iam::1:role/r", "aws configure"},
			not:  []string{"operation error", "access disabled"},
		},
		{
			name: "nothing anywhere, lone secret key", env: map[string]string{"AWS_SECRET_ACCESS_KEY": "s"},
			err:  refused("ec2imds", "GetMetadata", "http://169.254.169.254/latest/api/token"),
			want: []string{"AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"},
		},
		{
			name: "MFA from kubectl", opts: Options{FromKubectl: true, LoginCommand: "ekstoken token --cluster-name prod --region eu-west-1 --profile dev"},
			err:  config.AssumeRoleTokenProviderNotSetError{},
			want: []string{"kubectl had no terminal to lend", "ekstoken token --cluster-name prod --region eu-west-1 --profile dev", "MFA"},
			as:   new(config.AssumeRoleTokenProviderNotSetError),
		},
		{
			name: "MFA by hand without a terminal", opts: Options{LoginCommand: "ekstoken token --cluster-name c --profile dev"},
			err:  fmt.Errorf("wrapped: %w", config.AssumeRoleTokenProviderNotSetError{}),
			want: []string{"stdin is not a terminal", "ekstoken token --cluster-name c --profile dev"},
			not:  []string{"kubectl had no terminal", "interactiveMode"},
		},
		{
			name: "profile not found", err: config.SharedConfigProfileNotExistError{Profile: "dev"},
			want: []string{`AWS profile "dev" not found`},
		},
		{
			name: "SSO token refused by the portal",
			err: fmt.Errorf("failed to refresh cached credentials, %w", &smithy.OperationError{ServiceID: "SSO", OperationName: "GetRoleCredentials",
				Err: &smithy.GenericAPIError{Code: "UnauthorizedException", Message: "Session token not found or invalid"}}),
			want: []string{"aws sso login --profile dev"},
			as:   new(*SSOLoginError),
		},
		{
			name: "SSO", err: fmt.Errorf("x: %w", &ssocreds.InvalidTokenError{Err: errors.New("the SSO session has expired or is invalid")}),
			want: []string{"aws sso login --profile dev"},
			as:   new(*SSOLoginError),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			o := tt.opts
			o.EffectiveProfile, o.ConfigFile, o.CredentialsFile = "dev", "/h/.aws/config", "/h/.aws/credentials"
			o.Getenv = func(k string) string { return tt.env[k] }
			o.Log = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
			got := o.explain(context.Background(), tt.err)
			msg := got.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			for _, w := range append(tt.not, sdkJargon...) {
				if strings.Contains(msg, w) {
					t.Errorf("message has %q:\n%s", w, msg)
				}
			}
			if tt.as != nil && !errors.As(got, tt.as) {
				t.Errorf("errors.As(%T) no longer finds the SDK's error", tt.as)
			}
			if !strings.Contains(log.String(), "credential resolution failed") || !strings.Contains(log.String(), strings.SplitN(tt.err.Error(), ",", 2)[0]) {
				t.Errorf("debug log lacks the SDK's chain:\n%s", log.String())
			}
		})
	}
}

func TestPartialEnvKeys(t *testing.T) {
	for _, tt := range []struct {
		env         map[string]string
		profileFlag bool
		want        string // "" means no error
	}{
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKIA1"}, false, "AWS_SECRET_ACCESS_KEY is not"},
		{map[string]string{"AWS_ACCESS_KEY": "AKIA1"}, false, "AWS_SECRET_ACCESS_KEY is not"},
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SESSION_TOKEN": "t"}, false, "AWS_SECRET_ACCESS_KEY is not"},
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKIA1"}, true, ""},
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s"}, false, ""},
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_KEY": "s"}, false, ""},
		{map[string]string{}, false, ""},
	} {
		err := partialEnvKeys(func(k string) string { return tt.env[k] }, tt.profileFlag)
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v (--profile %v): %v, want %q", tt.env, tt.profileFlag, err, tt.want)
		}
	}
}

func TestReason(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{stsError("AssumeRole", "ExpiredToken", "The security token included in the request is expired", 403), "ExpiredToken: The security token included in the request is expired"},
		{refused("STS", "AssumeRole", "https://sts.eu-west-1.amazonaws.com/"), "https://sts.eu-west-1.amazonaws.com/: connection refused"},
		{&smithy.OperationError{ServiceID: "SSO", OperationName: "GetRoleCredentials", Err: errors.New("plain")}, "plain"},
		{errors.New("not the SDK's"), "failed to refresh cached credentials, not the SDK's"},
	} {
		if got := Reason(fmt.Errorf("failed to refresh cached credentials, %w", tt.err)); got != tt.want {
			t.Errorf("Reason = %q, want %q", got, tt.want)
		}
	}
}
