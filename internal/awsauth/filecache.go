package awsauth

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/ekstoken/ekstoken/internal/cache"
)

// CredentialsFormat marks cached credentials; anything else is a miss. v2
// entries hold the key of the identity they were resolved for; v1 entries,
// which did not, are misses.
const CredentialsFormat = "ekstoken/credentials/v2"

// FileCache keeps expiring credentials (assumed roles, MFA sessions, SSO
// role credentials, credential_process results with an Expiration) in the
// cache store, so that the next ekstoken process, for any cluster, skips the
// STS call, the MFA prompt or the process run. The Go SDK keeps them in
// memory only (aws-sdk-go-v2 #555, #1633); the aws CLI keeps the same kind
// of file in ~/.aws/cli/cache.
type FileCache struct {
	Store cache.Store
	// Name is the entry's name: a hash of Key
	// (tokencache.Identity.CredentialsName). It is only an index.
	Name string
	// Key is every input that shapes the credentials, secrets as digests
	// (tokencache.Identity.CredentialsKey). It is stored in the entry, and
	// an entry whose key differs is a miss: one copied under another name
	// never serves another identity.
	Key string
	// Profile and RoleARN describe the entry for `ekstoken status`.
	Profile, RoleARN string
	Now              func() time.Time
	// Window: cached credentials are used until this long before they
	// expire, so that a token signed with them still lives a while.
	Window time.Duration
	// Wait bounds the wait for another process resolving the same
	// credentials.
	Wait cache.Wait
	Log  *slog.Logger
	// Renew skips the cached credentials (still writing the new ones):
	// --force-refresh renews the whole chain, a role session that may
	// have been revoked included.
	Renew bool

	// ssoTokenFile, set by Resolve, names the SSO access token file that
	// credentials straight from SSO were got with.
	ssoTokenFile func() string
}

// CredentialsEntry is a credential cache entry as it is on disk (format
// CredentialsFormat). `ekstoken status` and `clear` read it too, and show
// everything but SecretAccessKey and SessionToken.
type CredentialsEntry struct {
	Format          string    `json:"format"`
	Key             string    `json:"key"`
	AccessKeyID     string    `json:"accessKeyId"`
	SecretAccessKey string    `json:"secretAccessKey"`
	SessionToken    string    `json:"sessionToken,omitempty"`
	Expires         time.Time `json:"expires"`
	Source          string    `json:"source"`
	// Profile and RoleARN are for `ekstoken status` and `clear`.
	Profile string `json:"profile,omitempty"`
	RoleARN string `json:"roleArn,omitempty"`
	// SSOTokenFile is the SSO access token file of SSO role credentials:
	// once `aws sso logout` removes it, the credentials are not served.
	SSOTokenFile string `json:"ssoTokenFile,omitempty"`
}

// Wrap returns a provider that answers from the file when it can and
// otherwise asks inner, once for all the processes waiting on the lock.
func (f *FileCache) Wrap(inner aws.CredentialsProvider) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		var c aws.Credentials
		found, unlock, lockErr := f.Store.LookLockLook(ctx, f.Name, f.Wait, func() bool {
			if f.Renew {
				f.Log.Debug("credential cache skipped: renewing the credentials")
				return false
			}
			var ok bool
			c, ok = f.read()
			return ok
		})
		if found {
			return c, nil
		}
		if lockErr != nil {
			f.Log.Debug("credential cache: resolving without the lock", "err", lockErr)
		}
		defer unlock()
		c, err := inner.Retrieve(ctx)
		if err != nil {
			return c, err
		}
		if c.CanExpire && f.Now().Before(c.Expires.Add(-f.Window)) {
			e := CredentialsEntry{
				Format: CredentialsFormat, Key: f.Key, AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
				SessionToken: c.SessionToken, Expires: c.Expires.UTC(), Source: c.Source,
				Profile: f.Profile, RoleARN: f.RoleARN,
			}
			if c.Source == ssocreds.ProviderName && f.ssoTokenFile != nil {
				e.SSOTokenFile = f.ssoTokenFile()
			}
			if err := f.Store.Write(f.Name, e); err != nil {
				f.Log.Debug("credential cache not written", "err", err)
			}
		}
		return c, nil
	})
}

// Serves reports whether the cache holds credentials it would use now.
func (f *FileCache) Serves() bool {
	if f.Renew {
		return false
	}
	_, ok := f.read()
	return ok
}

func (f *FileCache) read() (aws.Credentials, bool) {
	var e CredentialsEntry
	if err := f.Store.Read(f.Name, &e); err != nil {
		f.Log.Debug("credential cache miss", "reason", err)
		return aws.Credentials{}, false
	}
	switch {
	case e.Format != CredentialsFormat || e.AccessKeyID == "" || e.SecretAccessKey == "":
		f.Log.Debug("credential cache miss", "reason", fmt.Sprintf("unknown entry format %q", e.Format))
		return aws.Credentials{}, false
	case e.Key != f.Key:
		f.Log.Debug("credential cache miss", "reason", "entry belongs to another identity")
		return aws.Credentials{}, false
	case !f.Now().Before(e.Expires.Add(-f.Window)):
		f.Log.Debug("credential cache miss", "reason", "expiring", "expires", e.Expires)
		return aws.Credentials{}, false
	case e.SSOTokenFile != "" && !fileExists(e.SSOTokenFile):
		f.Log.Debug("credential cache miss", "reason", "the SSO login ended (aws sso logout?)", "ssoTokenFile", e.SSOTokenFile)
		return aws.Credentials{}, false
	}
	return aws.Credentials{
		AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey, SessionToken: e.SessionToken,
		CanExpire: true, Expires: e.Expires, Source: e.Source + " (cached by ekstoken)",
	}, true
}

// fileExists reports whether path names something, following symlinks as
// the SDK does when it reads the token.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
