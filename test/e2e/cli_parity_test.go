package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// For the same keys, region, cluster and second, ekstoken prints what the
// aws CLI installed here prints: the same URL byte for byte, or with a
// session token the same parameters and signature in Go's order
// (docs/token.md#v2), and the same expirationTimestamp. The CLI's clock
// cannot be pinned, so both sign at once and the pair is retried until
// they signed in the same second.
func TestSameTokenAsAWSCLI(t *testing.T) {
	t.Parallel()
	aws := requireTool(t, "aws")
	for _, tc := range []struct{ name, region, sessionToken string }{
		{"us-west-2", "us-west-2", ""},
		{"china", "cn-north-1", ""},
		{"govcloud", "us-gov-west-1", ""},
		{"session token", "eu-west-1", "FQoGZXIvYXdzEXAMPLE+/=token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t)
			env := append(sb.env, "AWS_ACCESS_KEY_ID=AKIDPARITYEXAMPLE001", "AWS_SECRET_ACCESS_KEY=parity/secret/EXAMPLEKEY")
			if tc.sessionToken != "" {
				env = append(env, "AWS_SESSION_TOKEN="+tc.sessionToken)
			}
			for range 10 {
				r := command(t, env, aws, "--region", tc.region, "eks", "get-token", "--cluster-name", "parity", "--output", "json")()
				if r.code() != 0 {
					t.Fatalf("aws eks get-token: exit %d: %s", r.code(), r.stderr)
				}
				cliOut := r.stdout
				ourOut, ourErr, code := runEkstoken(t, env, "--region", tc.region, "eks", "get-token", "--cluster-name", "parity", "--output", "json", "--no-cache")
				if code != 0 {
					t.Fatalf("ekstoken: exit %d: %s", code, ourErr)
				}
				cli, ours := decodeCredential(t, cliOut), decodeCredential(t, ourOut)
				if cli.query.Get("X-Amz-Date") != ours.query.Get("X-Amz-Date") {
					continue // signed in different seconds: try again
				}
				if tc.sessionToken == "" && cli.url != ours.url {
					t.Errorf("URLs differ:\n aws      %s\n ekstoken %s", cli.url, ours.url)
				}
				if diff := cmp.Diff(cli.query, ours.query); diff != "" {
					t.Errorf("query (-aws +ekstoken):\n%s", diff)
				}
				if cli.host != ours.host || cli.expiration != ours.expiration || cli.apiVersion != ours.apiVersion {
					t.Errorf("aws: %s %s %s; ekstoken: %s %s %s", cli.host, cli.expiration, cli.apiVersion, ours.host, ours.expiration, ours.apiVersion)
				}
				return
			}
			t.Fatal("aws and ekstoken never signed in the same second in 10 tries")
		})
	}
}

type signedCredential struct {
	url, host, expiration, apiVersion string
	query                             url.Values
}

func decodeCredential(t *testing.T, stdout string) signedCredential {
	t.Helper()
	var ec struct {
		APIVersion string `json:"apiVersion"`
		Status     struct {
			ExpirationTimestamp string `json:"expirationTimestamp"`
			Token               string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(stdout), &ec); err != nil {
		t.Fatalf("not an ExecCredential: %v: %q", err, stdout)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(ec.Status.Token, "k8s-aws-v1."))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return signedCredential{url: string(raw), host: u.Host, expiration: ec.Status.ExpirationTimestamp, apiVersion: ec.APIVersion, query: u.Query()}
}
