package tokencache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/ekstoken/ekstoken/internal/entryfile"
)

// identityEnv lists the environment variables that can change which identity
// signs, or which STS answers for it. The list is explicit: hashing every
// AWS_* variable would split the cache on AWS_PAGER (peers.md §4.3).
var identityEnv = []string{
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_EC2_METADATA_DISABLED",
}

// fileStamp identifies a version of a file without reading it: editing the
// credentials file (new keys) makes a new key.
type fileStamp struct {
	Path    string
	Size    int64
	ModTime time.Time
}

func stamp(path string) fileStamp {
	s := fileStamp{Path: path}
	if st, err := os.Stat(path); err == nil {
		s.Size, s.ModTime = st.Size(), st.ModTime()
	}
	return s
}

// Request holds the command-line inputs that choose an identity.
type Request struct {
	ClusterName string
	ClusterID   string // Outposts local clusters; exclusive with ClusterName
	Region      string
	Profile     string
	RoleARN     string
	SessionName string
	ExternalID  string
}

// Identity is every input that can change the identity or the token. Its
// hash names the cache entry; two identities never share one.
type Identity struct {
	Cluster     string
	ClusterIsID bool
	Region      string
	Profile     string
	ProfileFlag bool // --profile beats env keys, AWS_PROFILE does not
	// AccessKeyID is the ID of keys in the environment (never the secret),
	// kept even with --profile: a profile with credential_source =
	// Environment signs with them.
	RoleARN     string
	SessionName string
	ExternalID  string
	AccessKeyID string
	Env         map[string]string
	Config      fileStamp
	Credentials fileStamp
}

// Name is the cache entry name of the identity: a hash of every field,
// each written with its name and length, so no two identities collide by
// shifting text between fields. Hashing by hand rather than through
// encoding/json keeps reflection off the hit path.
func (id Identity) Name() string { return "token-" + id.hash(true) }

// CredentialsName names the cached credentials of the identity. Cluster and
// region do not shape credentials, so every cluster of one profile shares
// them: an MFA profile prompts once per role session, not once per cluster.
func (id Identity) CredentialsName() string { return "credentials-" + id.hash(false) }

func (id Identity) hash(withCluster bool) string {
	h := sha256.New()
	field := func(name, value string) {
		fmt.Fprintf(h, "%s=%d:%s;", name, len(value), value)
	}
	field("v", "1")
	if withCluster {
		field("cluster", id.Cluster)
		field("clusterIsID", strconv.FormatBool(id.ClusterIsID))
		field("region", id.Region)
	}
	field("profile", id.Profile)
	if id.AccessKeyID != "" {
		// Only with keys in the environment does --profile change who
		// signs; without them, --profile p and AWS_PROFILE=p are one
		// identity and share their entries.
		field("profileFlag", strconv.FormatBool(id.ProfileFlag))
	}
	field("roleArn", id.RoleARN)
	field("sessionName", id.SessionName)
	field("externalId", id.ExternalID)
	field("accessKeyId", id.AccessKeyID)
	for _, k := range identityEnv {
		field("env."+k, id.Env[k])
	}
	for _, f := range []struct {
		name string
		fileStamp
	}{{"config", id.Config}, {"credentials", id.Credentials}} {
		name := f.name
		field(name+".path", f.Path)
		field(name+".size", strconv.FormatInt(f.Size, 10))
		field(name+".mtime", strconv.FormatInt(f.ModTime.UnixNano(), 10))
	}
	return hex.EncodeToString(h.Sum(nil)[:20])
}

// NewIdentity gathers the key inputs from the request, the environment and
// file stamps, resolving what the aws CLI would: flag, then AWS_REGION /
// AWS_DEFAULT_REGION, AWS_PROFILE / AWS_DEFAULT_PROFILE. A region that only
// the profile knows stays "", and the profile's name and file stamp stand in
// for it.
func NewIdentity(r Request, getenv func(string) string, home string) Identity {
	id := Identity{
		Cluster: r.ClusterName, ProfileFlag: r.Profile != "",
		RoleARN: r.RoleARN, SessionName: r.SessionName, ExternalID: r.ExternalID,
		Env: map[string]string{},
	}
	if r.ClusterID != "" {
		id.Cluster, id.ClusterIsID = r.ClusterID, true
	}
	id.Region = firstNonEmpty(r.Region, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"))
	id.Profile = firstNonEmpty(r.Profile, getenv("AWS_PROFILE"), getenv("AWS_DEFAULT_PROFILE"), "default")
	// Environment keys beat AWS_PROFILE, not --profile (token-spec.md §7.16).
	id.AccessKeyID = firstNonEmpty(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_ACCESS_KEY"))
	for _, k := range identityEnv {
		if v := getenv(k); v != "" {
			id.Env[k] = v
		}
	}
	id.Config = stamp(firstNonEmpty(getenv("AWS_CONFIG_FILE"), entryfile.Join(home, ".aws", "config")))
	id.Credentials = stamp(firstNonEmpty(getenv("AWS_SHARED_CREDENTIALS_FILE"), entryfile.Join(home, ".aws", "credentials")))
	return id
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// DefaultDir is the cache directory when no --cache-dir is given:
// EKSTOKEN_CACHE_DIR, then $KUBECACHEDIR/ekstoken (the convention of kubectl
// and kubelogin), then ~/.kube/cache/ekstoken. It is "" when none applies.
func DefaultDir(getenv func(string) string, home string) string {
	switch {
	case getenv("EKSTOKEN_CACHE_DIR") != "":
		return getenv("EKSTOKEN_CACHE_DIR")
	case getenv("KUBECACHEDIR") != "":
		return entryfile.Join(getenv("KUBECACHEDIR"), "ekstoken")
	case home != "":
		return entryfile.Join(home, ".kube", "cache", "ekstoken")
	}
	return ""
}
