package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/moto"
)

// discoverRegions are 17 regions enabled by default in every account.
var discoverRegions = []string{
	"ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
	"ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
}

// runDiscover measures `ekstoken discover` over 3 accounts (roles assumed
// from one profile, which moto maps to their accounts) × 17 regions, one
// cluster per account in every third region, against moto_server: wall
// time with the pool (--parallel 8) against one call at a time
// (--parallel 1), interleaved rounds, medians.
func runDiscover(rounds int, out io.Writer) error {
	dir, err := os.MkdirTemp("", "ekstoken-bench-discover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := devbin.Build(dir)
	if err != nil {
		return err
	}
	srv, err := moto.Start()
	if err != nil {
		return fmt.Errorf("moto_server: %w", err)
	}
	defer srv.Close()
	// As is, and with the round trip of a call to another continent
	// (about 80 ms), which is what the pool hides.
	const latency = 80 * time.Millisecond
	eksLocal, closeLocal, err := realCAProxy(srv.URL, 0)
	if err != nil {
		return err
	}
	defer closeLocal()
	eksFar, closeFar, err := realCAProxy(srv.URL, latency)
	if err != nil {
		return err
	}
	defer closeFar()

	home := filepath.Join(dir, "home")
	cfg := "[profile base]\nregion = us-east-1\n"
	accounts := []string{"111111111111", "222222222222", "333333333333"}
	clusters := 0
	for i, acct := range accounts {
		role := "arn:aws:iam::" + acct + ":role/admin"
		cfg += fmt.Sprintf("[profile acct-%d]\nrole_arn = %s\nsource_profile = base\nregion = us-east-1\n", i+1, role)
		creds, err := assume(srv.URL, role)
		if err != nil {
			return err
		}
		for j, r := range discoverRegions {
			if (i+j)%3 == 0 {
				if err := createCluster(srv.URL, creds, r, fmt.Sprintf("c-%s-%d", r, i+1)); err != nil {
					return err
				}
				clusters++
			}
		}
	}
	if err := writeFiles(filepath.Join(home, ".aws"), map[string]string{"config": cfg,
		"credentials": "[base]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = secret\n"}); err != nil {
		return err
	}
	env := append(os.Environ(), "HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, ".aws", "credentials"), "AWS_ENDPOINT_URL="+srv.URL,
		"AWS_EC2_METADATA_DISABLED=true", "KUBECONFIG="+filepath.Join(home, "kubeconfig"),
		"AWS_PROFILE=", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=")
	args := []string{"discover", "--profile", "acct-*", "--dry-run", "--command", "ekstoken"}
	for _, r := range discoverRegions {
		args = append(args, "--region", r)
	}
	type setting struct {
		name, eks string
		parallel  int
	}
	settings := []setting{
		{"--parallel 8 (default), moto as is", eksLocal, 8}, {"--parallel 1 (one call at a time), moto as is", eksLocal, 1},
		{fmt.Sprintf("--parallel 8 (default), %v added to each EKS call", latency), eksFar, 8},
		{fmt.Sprintf("--parallel 1 (one call at a time), %v added to each EKS call", latency), eksFar, 1},
	}
	times := map[string][]float64{}
	var sample string
	for round := range rounds {
		order := slices.Clone(settings)
		if round%2 == 1 {
			slices.Reverse(order) // alternate which goes first
		}
		for _, st := range order {
			cmd := exec.Command(bin, append(args, "--parallel", strconv.Itoa(st.parallel))...)
			cmd.Env = append(env, "AWS_ENDPOINT_URL_EKS="+st.eks)
			var stderr bytes.Buffer
			cmd.Stderr, cmd.Stdout = &stderr, io.Discard
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("discover %s: %w\n%s", st.name, err, stderr.String())
			}
			times[st.name] = append(times[st.name], time.Since(start).Seconds())
			if !strings.Contains(stderr.String(), fmt.Sprintf("found %d clusters", clusters)) {
				return fmt.Errorf("discover %s found the wrong clusters:\n%s", st.name, stderr.String())
			}
			sample = stderr.String()
		}
	}
	med := func(v []float64) float64 { s := slices.Clone(v); slices.Sort(s); return s[len(s)/2] }
	fmt.Fprintf(out, "### Discovery: %d accounts × %d regions, %d clusters, against moto_server (%d rounds, medians)\n\n", len(accounts), len(discoverRegions), clusters, rounds)
	fmt.Fprintln(out, "| ekstoken discover | wall time |\n|---|---|")
	for _, st := range settings {
		fmt.Fprintf(out, "| %s | %.2f s |\n", st.name, med(times[st.name]))
	}
	fmt.Fprintf(out, "\nWith the pool: %.1f× faster on moto as is, %.1f× with %v per EKS call. What it prints (last run):\n\n```\n%s```\n",
		med(times[settings[1].name])/med(times[settings[0].name]), med(times[settings[3].name])/med(times[settings[2].name]), latency, tail(sample, 8))
	return nil
}

func tail(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n")+"\n", "\n")
	lines = lines[:len(lines)-1]
	if len(lines) > n {
		lines = append([]string{lines[0], "...\n"}, lines[len(lines)-n+1:]...)
	}
	return strings.Join(lines, "")
}

func writeFiles(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for n, text := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func assume(motoURL, role string) (aws.Credentials, error) {
	c := sts.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(motoURL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", "")})
	o, err := c.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("bench")})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("assume %s on moto: %w", role, err)
	}
	return aws.Credentials{AccessKeyID: *o.Credentials.AccessKeyId, SecretAccessKey: *o.Credentials.SecretAccessKey, SessionToken: *o.Credentials.SessionToken}, nil
}

func createCluster(motoURL string, creds aws.Credentials, region, name string) error {
	b, _ := json.Marshal(map[string]any{"name": name, "roleArn": "arn:aws:iam::123456789012:role/eks",
		"resourcesVpcConfig": map[string]any{"subnetIds": []string{"subnet-1"}}})
	req, err := http.NewRequest(http.MethodPost, motoURL+"/clusters", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(b)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "eks", region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("create cluster %s in %s on moto: %s %s", name, region, resp.Status, msg)
	}
	return nil
}

// realCAProxy is, delay later, moto's EKS API with a real certificate in every
// description: moto's is random bytes, which discover refuses as kubectl
// would.
func realCAProxy(motoURL string, delay time.Duration) (string, func(), error) {
	target, err := url.Parse(motoURL)
	if err != nil {
		return "", nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-ca"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", nil, err
	}
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
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
				body, _ = json.Marshal(doc)
			}
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		proxy.ServeHTTP(w, r)
	}))
	return srv.URL, srv.Close, nil
}
