package awsauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// caBundleEnv names a PEM file of the only CAs the SDK's HTTPS calls trust.
const caBundleEnv = "AWS_CA_BUNDLE"

// envMu serializes the moment loadConfig hides AWS_CA_BUNDLE from the
// process environment.
var envMu sync.Mutex

// loadConfig is config.LoadDefaultConfig, except that a CA bundle named by
// AWS_CA_BUNDLE is parsed only when an HTTPS call is about to be made.
//
// The SDK reads AWS_CA_BUNDLE from the process environment while it loads
// and parses every certificate of the bundle at once: about 6 ms for a
// 220 KB system bundle, half of a whole miss. Most misses make no HTTPS
// call at all (a token is a presigned URL; keys from the environment or a
// file need no request), so the variable is hidden from the load and the
// bundle is given to an HTTP client that reads it on its first request.
// It is put back before the load returns: processes that resolving
// credentials may start (credential_process, aws sso login) still see it.
// A ca_bundle set in the shared config file is left to the SDK.
func loadConfig(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	envMu.Lock()
	defer envMu.Unlock()
	bundle, set := os.LookupEnv(caBundleEnv)
	if !set || bundle == "" {
		return config.LoadDefaultConfig(ctx, opts...)
	}
	if err := os.Unsetenv(caBundleEnv); err != nil {
		return config.LoadDefaultConfig(ctx, opts...)
	}
	cfg, err := config.LoadDefaultConfig(ctx, append([]func(*config.LoadOptions) error{
		config.WithHTTPClient(&lazyCAClient{path: bundle}),
	}, opts...)...)
	os.Setenv(caBundleEnv, bundle)
	if err != nil {
		// A ca_bundle in the profile as well cannot be added to this
		// client, and any other failure is best reported by the SDK's own
		// load: do that, eagerly, as the SDK would have.
		return config.LoadDefaultConfig(ctx, opts...)
	}
	return cfg, nil
}

// lazyCAClient is an aws.HTTPClient whose transport trusts exactly the CAs
// of the PEM file at path, as the SDK's own handling of AWS_CA_BUNDLE does,
// read on the first request.
type lazyCAClient struct {
	path   string
	once   sync.Once
	client aws.HTTPClient
	err    error
}

func (c *lazyCAClient) Do(req *http.Request) (*http.Response, error) {
	c.once.Do(c.build)
	if c.err != nil {
		return nil, c.err
	}
	return c.client.Do(req)
}

func (c *lazyCAClient) build() {
	pem, err := os.ReadFile(c.path)
	if err != nil {
		c.err = fmt.Errorf("read the CA bundle that %s names: %w", caBundleEnv, err)
		return
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		c.err = fmt.Errorf("%s: %s holds no PEM certificate; point %s at a PEM file or unset it", c.path, caBundleEnv, caBundleEnv)
		return
	}
	c.client = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.RootCAs = pool
	})
}
