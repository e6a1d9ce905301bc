package tokencache

import (
	"errors"
	"hash/crc64"
	"io"
	"os"
	"strconv"

	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/sha256lite"
)

// identityEnv lists the environment variables that can change which identity
// signs, or which STS answers for it. The list is explicit: hashing every
// AWS_* variable would split the cache on AWS_PAGER. Why each one is here,
// and why some look-alikes are not:
//
//   - AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME: IRSA's role and session.
//   - AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI: the ECS or EKS Pod
//     Identity agent that answers. On EKS the URI is the same for every pod
//     of a node: the authorization token (secretEnv, fileEnv) tells them apart.
//   - AWS_EC2_METADATA_SERVICE_ENDPOINT / _MODE, AWS_EC2_METADATA_DISABLED:
//     which instance metadata service answers, or whether one does: another
//     endpoint is another instance role.
//   - AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS,
//     AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT: the STS host that the
//     token names and that assumes roles.
//   - AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL_SSO_OIDC: the portal that turns
//     an SSO login into role credentials.
//   - AWS_CREDENTIAL_EXPIRATION: when environment keys end, which caps the
//     token.
//
// Left out on purpose, since they change how a call is made, not who makes
// it: AWS_CA_BUNDLE (which certificates are trusted), AWS_EC2_METADATA_V1_DISABLED
// (whether IMDSv1 may be a fallback; the same instance answers),
// AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, AWS_SDK_UA_APP_ID, AWS_PAGER and
// HTTP(S)_PROXY. AWS_STS_REGIONAL_ENDPOINTS is read by neither aws-sdk-go-v2
// nor the token: the SDK always signs for the regional STS host.
var identityEnv = []string{
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "AWS_EC2_METADATA_DISABLED",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC",
	"AWS_CREDENTIAL_EXPIRATION",
}

// secretEnv are secrets that choose the identity. Only their digest enters
// the key, which entries store: a secret is never written in clear. A new
// secret key under the same key ID, a new session token, another pod's
// container authorization token: each is another identity.
var secretEnv = []string{
	"AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
}

// fileEnv name files whose content chooses the identity: the service
// account token of IRSA and of EKS Pod Identity. Their path is the same in
// every pod; what they say is not.
var fileEnv = []string{"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"}

// maxKeyFile bounds how much of one file the key reads on every hit. AWS
// config files are a few KiB (a thousand profiles, about 100 KiB); one
// larger than this is keyed by its first maxKeyFile bytes and its size,
// modification time and inode: only a rewrite in place past its first
// maxKeyFile bytes that keeps size and time goes unnoticed.
const maxKeyFile = 256 << 10

// fileStamp identifies what a file says: editing the credentials file (new
// keys), even in place with the same size and time, makes a new key.
type fileStamp struct {
	Path string
	// Digest is a hash of the file's content, "" when it cannot be read.
	Digest string
}

func stamp(path string) fileStamp {
	s := fileStamp{Path: path}
	if path == "" {
		return s
	}
	f, st, err := entryfile.OpenRegular(path)
	if err != nil {
		return s
	}
	defer f.Close()
	// The content goes through CRC-64, which runs at memory speed, and
	// only its checksum through SHA-256: sha256lite, the hit path's SHA-256,
	// is slow on large files (a thousand-profile config is about 100 KiB).
	// A checksum of 64 bits notices any rotation of keys; SHA-256 over it
	// keeps what the entry stores from saying anything about the file.
	// One buffer the file's size (a config file is a few KiB), one read.
	buf := make([]byte, min(max(st.Size(), 0), maxKeyFile))
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return s
	}
	sum := "crc64=" + strconv.FormatUint(crc64.Checksum(buf[:n], crc64.MakeTable(crc64.ECMA)), 16) + ";size=" + strconv.Itoa(n)
	if n == maxKeyFile {
		// Larger files are keyed by their first maxKeyFile bytes, size,
		// time and file identity.
		sum += ";fileSize=" + strconv.FormatInt(st.Size(), 10) + ";mtime=" + strconv.FormatInt(st.ModTime().UnixNano(), 10) +
			";file=" + entryfile.ChangeStamp(st)
	}
	s.Digest = secretDigest(sum)
	return s
}

// secretDigest is what the key keeps of a secret.
func secretDigest(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256lite.Sum256([]byte("ekstoken secret;" + v))
	return sha256lite.Hex(sum[:])
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
// Key is stored in the entry and compared on every hit; the hash of the
// Key names the entry's file, which is only an index.
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
	// Secrets holds digests of secretEnv, never the values.
	Secrets map[string]string
	// Files holds the content stamps of fileEnv.
	Files       map[string]fileStamp
	Config      fileStamp
	Credentials fileStamp
}

// EnvKeys says whether keys in the environment sign the token directly:
// a key ID and its secret (the SDK ignores a key ID alone), no --profile
// (which beats them) and no --role-arn.
func (id Identity) EnvKeys() bool {
	secret := id.Secrets["AWS_SECRET_ACCESS_KEY"] != "" || id.Secrets["AWS_SECRET_KEY"] != ""
	return id.AccessKeyID != "" && secret && !id.ProfileFlag && id.RoleARN == ""
}

// Key is the identity as text: every field, each written with its name and
// length, so that no two identities give the same text by shifting it
// between fields. Secrets appear only as digests. Writing it by hand rather
// than through encoding/json keeps reflection off the hit path.
func (id Identity) Key() string { return id.key(true) }

// CredentialsKey is Key without cluster and region, which do not shape
// credentials: every cluster of one profile shares them, so an MFA profile
// prompts once per role session, not once per cluster.
func (id Identity) CredentialsKey() string { return id.key(false) }

// Name is the cache entry name of the identity.
func (id Identity) Name() string { return TokenName(id.Key()) }

// CredentialsName names the cached credentials of the identity.
func (id Identity) CredentialsName() string { return CredentialsName(id.CredentialsKey()) }

// TokenName and CredentialsName make a file name from a key. The name is
// only an index: a hit compares the key stored in the entry, so a name
// collision, or an entry copied under another name, is a miss.
func TokenName(key string) string { return "token-" + nameHash(key) }

// CredentialsName: see TokenName.
func CredentialsName(key string) string { return "credentials-" + nameHash(key) }

// AppendKeyField appends one field of an identity key to b, as
// name=length:value; so that no two lists of fields give the same text,
// whatever the values hold. Token, credential and exec keys use it.
func AppendKeyField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=')
	b = strconv.AppendInt(b, int64(len(value)), 10)
	b = append(b, ':')
	b = append(b, value...)
	return append(b, ';')
}

func nameHash(key string) string {
	sum := sha256lite.Sum256([]byte(key))
	return sha256lite.Hex(sum[:20])
}

func (id Identity) key(withCluster bool) string {
	var b []byte
	field := func(name, value string) { b = AppendKeyField(b, name, value) }
	field("v", "2")
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
	for _, k := range secretEnv {
		field("secret."+k, id.Secrets[k])
	}
	for _, k := range fileEnv {
		field("file."+k, id.Files[k].Digest)
	}
	field("config.path", id.Config.Path)
	field("config.digest", id.Config.Digest)
	field("credentials.path", id.Credentials.Path)
	field("credentials.digest", id.Credentials.Digest)
	return string(b)
}

// NewIdentity gathers the key inputs from the request, the environment and
// the files it names, resolving what the aws CLI would: flag, then
// AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE / AWS_DEFAULT_PROFILE. A
// region that only the profile knows stays "", and the config file's
// content stands in for it.
func NewIdentity(r Request, getenv func(string) string, home string) Identity {
	id := Identity{
		Cluster: r.ClusterName, ProfileFlag: r.Profile != "",
		RoleARN: r.RoleARN, SessionName: r.SessionName, ExternalID: r.ExternalID,
		Env: map[string]string{}, Secrets: map[string]string{}, Files: map[string]fileStamp{},
	}
	if r.ClusterID != "" {
		id.Cluster, id.ClusterIsID = r.ClusterID, true
	}
	id.Region = firstNonEmpty(r.Region, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"))
	id.Profile = firstNonEmpty(r.Profile, getenv("AWS_PROFILE"), getenv("AWS_DEFAULT_PROFILE"), "default")
	// Environment keys beat AWS_PROFILE, not --profile.
	id.AccessKeyID = firstNonEmpty(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_ACCESS_KEY"))
	for _, k := range identityEnv {
		if v := getenv(k); v != "" {
			id.Env[k] = v
		}
	}
	for _, k := range secretEnv {
		if v := getenv(k); v != "" {
			id.Secrets[k] = secretDigest(v)
		}
	}
	for _, k := range fileEnv {
		if p := getenv(k); p != "" {
			id.Files[k] = stamp(p)
		}
	}
	configFile, credentialsFile := AWSFiles(getenv, home)
	id.Config, id.Credentials = stamp(configFile), stamp(credentialsFile)
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

// AWSFiles are the shared config and credentials files the aws CLI reads:
// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE (a leading ~ expanded),
// else ~/.aws/config and ~/.aws/credentials.
func AWSFiles(getenv func(string) string, home string) (config, credentials string) {
	config = ExpandHome(firstNonEmpty(getenv("AWS_CONFIG_FILE"), entryfile.Join(home, ".aws", "config")), home)
	credentials = ExpandHome(firstNonEmpty(getenv("AWS_SHARED_CREDENTIALS_FILE"), entryfile.Join(home, ".aws", "credentials")), home)
	return config, credentials
}

// ExpandHome replaces a leading "~" (alone, or before a separator) with
// home, as the aws CLI does for AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE. Other paths, and "~user", are returned as
// they are.
func ExpandHome(path, home string) string {
	if home == "" || path == "" || path[0] != '~' {
		return path
	}
	if len(path) == 1 {
		return home
	}
	if path[1] == '/' || path[1] == os.PathSeparator {
		return entryfile.Join(home, path[2:])
	}
	return path
}
