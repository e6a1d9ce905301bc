package discover

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/ekstoken/ekstoken/internal/testenv"
)

// Keys of the base profile (moto's default account 123456789012) and of a
// principal the EKS proxy denies.
const (
	baseKey   = "AKIAIOSFODNN7EXAMPLE"
	deniedKey = "AKIADENIEDEXAMPLE000"
)

// world is moto_server with an EKS proxy in front that gives every cluster
// a real CA (moto's is random bytes, which kubectl and Check refuse),
// denies deniedKey as AWS denies a principal without eks:ListClusters,
// and answers for optIn as AWS answers in a region not enabled.
type world struct {
	moto, eks string
	optIn     string
	mu        sync.Mutex
	calls     map[string]int // region -> EKS calls
}

var credentialRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/\d+/([a-z0-9-]+)/`)

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{moto: testenv.StartMoto(t), optIn: "ap-east-1", calls: map[string]int{}}
	target, err := url.Parse(w.moto)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := testenv.CACert(t)
	ca := base64.StdEncoding.EncodeToString(pem)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var doc map[string]any
		if json.Unmarshal(body, &doc) == nil {
			if c, ok := doc["cluster"].(map[string]any); ok {
				c["certificateAuthority"] = map[string]any{"data": ca}
				if e, _ := c["endpoint"].(string); e != "" {
					c["endpoint"] = strings.TrimSuffix(e, "/")
				}
				body, _ = json.Marshal(doc)
			}
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil {
			http.Error(rw, "unsigned", http.StatusForbidden)
			return
		}
		w.mu.Lock()
		w.calls[m[2]]++
		w.mu.Unlock()
		switch {
		case m[1] == deniedKey:
			rw.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
			rw.WriteHeader(http.StatusForbidden)
			fmt.Fprint(rw, `{"message":"User: arn:aws:iam::333333333333:user/denied is not authorized to perform: eks:ListClusters"}`)
		case m[2] == w.refusing():
			rw.Header().Set("X-Amzn-Errortype", "UnrecognizedClientException")
			rw.WriteHeader(http.StatusForbidden)
			fmt.Fprint(rw, `{"message":"The security token included in the request is invalid"}`)
		default:
			proxy.ServeHTTP(rw, r)
		}
	}))
	t.Cleanup(srv.Close)
	w.eks = srv.URL
	return w
}

func (w *world) refusing() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.optIn
}

func (w *world) refuse(region string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.optIn = region
}

// keys are the credentials moto gives a session of role in its account.
func (w *world) keys(t *testing.T, role string) aws.Credentials {
	t.Helper()
	if role == "" {
		return aws.Credentials{AccessKeyID: baseKey, SecretAccessKey: "secret"}
	}
	c := sts.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(w.moto),
		Credentials: credentials.NewStaticCredentialsProvider(baseKey, "secret", "")})
	out, err := c.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("setup")})
	if err != nil {
		t.Fatalf("assume %s on moto: %v", role, err)
	}
	return aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
}

// eksCall makes a signed EKS call to moto as creds.
func (w *world) eksCall(t *testing.T, creds aws.Credentials, region, method, path string, body any) {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, w.moto+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(b)
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "eks", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s in %s: %s %s", method, path, region, resp.Status, msg)
	}
}

func (w *world) create(t *testing.T, creds aws.Credentials, region, name string) {
	t.Helper()
	w.eksCall(t, creds, region, http.MethodPost, "/clusters", map[string]any{
		"name": name, "roleArn": "arn:aws:iam::123456789012:role/eks",
		"resourcesVpcConfig": map[string]any{"subnetIds": []string{"subnet-1"}}})
}

func (w *world) delete(t *testing.T, creds aws.Credentials, region, name string) {
	t.Helper()
	w.eksCall(t, creds, region, http.MethodDelete, "/clusters/"+name, nil)
}

// sandbox is a home with an AWS config of profiles: base (keys, account
// 123456789012), acct-1 and acct-2 (roles in 111111111111 and
// 222222222222 assumed from base, which moto maps to those accounts), and
// denied (keys the EKS proxy denies). The SDK reads the process
// environment, so it is set with t.Setenv: these tests are not parallel.
func sandbox(t *testing.T, w *world) (home, kc string) {
	t.Helper()
	home = t.TempDir()
	aws := filepath.Join(home, ".aws")
	if err := os.MkdirAll(aws, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "[default]\nregion = eu-west-1\n" +
		"[profile base]\nregion = eu-west-1\n" +
		"[profile acct-1]\nrole_arn = arn:aws:iam::111111111111:role/admin\nsource_profile = base\nregion = eu-west-1\n" +
		"[profile acct-2]\nrole_arn = arn:aws:iam::222222222222:role/admin\nsource_profile = base\nregion = eu-west-1\n" +
		"[profile denied]\nregion = eu-west-1\n"
	creds := "[base]\naws_access_key_id = " + baseKey + "\naws_secret_access_key = secret\n" +
		"[denied]\naws_access_key_id = " + deniedKey + "\naws_secret_access_key = secret\n"
	for name, text := range map[string]string{"config": cfg, "credentials": creds} {
		if err := os.WriteFile(filepath.Join(aws, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_EKS", "AWS_ENDPOINT_URL_EC2", "KUBECONFIG", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(aws, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(aws, "credentials"))
	t.Setenv("AWS_ENDPOINT_URL", w.moto)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return home, filepath.Join(home, ".kube", "config")
}

// discoverIn runs discover as the command line would, against w.
func discoverIn(t *testing.T, w *world, home string, in Input) (stdout, stderr string, err error) {
	t.Helper()
	in.Endpoint, in.Command = w.eks, "ekstoken"
	var out, errb bytes.Buffer
	err = Run(context.Background(), Env{
		Getenv: os.Getenv, Home: home, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Now: time.Now, Executable: os.Executable,
	}, in)
	return out.String(), errb.String(), err
}
