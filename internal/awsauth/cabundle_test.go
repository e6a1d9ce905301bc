package awsauth

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/testenv"
)

// isolate gives Resolve static keys from the environment and nothing else
// to find.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_STS": "",
		"AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CREDENTIAL_EXPIRATION": "",
	} {
		t.Setenv(k, v)
	}
}

// A miss that makes no HTTPS call never reads AWS_CA_BUNDLE: a bundle
// that cannot be read at all does not stop it. The SDK alone would fail
// the load on it.
func TestCABundleNotReadWithoutHTTPS(t *testing.T) {
	isolate(t)
	for _, bundle := range []string{filepath.Join(t.TempDir(), "missing.pem"), t.TempDir()} {
		t.Setenv(caBundleEnv, bundle)
		res, err := Resolve(context.Background(), Options{})
		if err != nil {
			t.Fatalf("AWS_CA_BUNDLE=%s: %v", bundle, err)
		}
		if res.Credentials.AccessKeyID != "AKIDEXAMPLE" {
			t.Errorf("credentials %q, want the environment's", res.Credentials.AccessKeyID)
		}
		if got := os.Getenv(caBundleEnv); got != bundle {
			t.Errorf("AWS_CA_BUNDLE after Resolve = %q, want it put back (%q)", got, bundle)
		}
	}
}

const assumeRoleResponse = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>
<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/r/s</Arn><AssumedRoleId>AROAX:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>`

// When an HTTPS call is made, it trusts exactly the bundle's CAs, as the
// SDK's own handling of AWS_CA_BUNDLE does.
func TestCABundleTrustedOnHTTPS(t *testing.T) {
	isolate(t)
	sts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(assumeRoleResponse))
	}))
	defer sts.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	opts := Options{RoleARN: "arn:aws:iam::111122223333:role/r"}

	t.Setenv(caBundleEnv, writePEM(t, sts.Certificate().Raw))
	res, err := Resolve(context.Background(), opts)
	if err != nil {
		t.Fatalf("with the server's CA in AWS_CA_BUNDLE: %v", err)
	}
	if res.Credentials.AccessKeyID != "ASIAASSUMED" {
		t.Errorf("credentials %q, want the assumed role's", res.Credentials.AccessKeyID)
	}

	t.Setenv(caBundleEnv, writePEM(t, otherCA(t)))
	if _, err := Resolve(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("with another CA in AWS_CA_BUNDLE: err = %v, want a certificate error", err)
	}
}

// otherCA is a self-signed CA certificate that signed nothing here.
func otherCA(t *testing.T) []byte {
	t.Helper()
	_, der := testenv.CACert(t)
	return der
}

func writePEM(t *testing.T, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// AWS_SHARED_CREDENTIALS_FILE=~/alt reads the file under the home
// directory, as the aws CLI does; the SDK alone reads "~/alt" literally.
func TestTildeCredentialsFile(t *testing.T) {
	isolate(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "~/alt")
	alt := filepath.Join(home, "alt")
	if err := os.WriteFile(alt, []byte("[default]\naws_access_key_id = AKIDTILDE\naws_secret_access_key = s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(context.Background(), Options{CredentialsFile: alt, ConfigFile: filepath.Join(home, "config")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Credentials.AccessKeyID != "AKIDTILDE" {
		t.Errorf("credentials %q, want those of ~/alt", res.Credentials.AccessKeyID)
	}
}

// AWS_ENDPOINT_URL (every service's endpoint) reaches the STS client that
// assumes a profile's role, as it does in the aws CLI; the SDK alone
// honours only AWS_ENDPOINT_URL_STS there.
func TestGeneralEndpointAssumesProfileRole(t *testing.T) {
	isolate(t)
	var calls int
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(assumeRoleResponse))
	}))
	defer sts.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[profile role]\nrole_arn = arn:aws:iam::111122223333:role/r\nsource_profile = base\n\n"+
		"[profile base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_ENDPOINT_URL", sts.URL)
	res, err := Resolve(context.Background(), Options{Profile: "role", ConfigFile: cfg, CredentialsFile: filepath.Join(dir, "credentials")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Credentials.AccessKeyID != "ASIAASSUMED" || calls != 1 {
		t.Errorf("credentials %q after %d calls to AWS_ENDPOINT_URL, want the role's after one", res.Credentials.AccessKeyID, calls)
	}
}
