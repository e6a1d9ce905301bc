package gettoken

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"time"
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
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

func stamp(path string) fileStamp {
	s := fileStamp{Path: path}
	if st, err := os.Stat(path); err == nil {
		s.Size, s.ModTime = st.Size(), st.ModTime()
	}
	return s
}

// identity is every input that can change the identity or the token. Its
// hash names the cache entry; two identities never share one.
type identity struct {
	Cluster     string            `json:"cluster"`
	ClusterIsID bool              `json:"clusterIsId"`
	Region      string            `json:"region"`
	Profile     string            `json:"profile"`
	ProfileFlag bool              `json:"profileFlag"` // --profile beats env keys, AWS_PROFILE does not
	RoleARN     string            `json:"roleArn"`
	SessionName string            `json:"sessionName"`
	ExternalID  string            `json:"externalId"`
	AccessKeyID string            `json:"accessKeyId"` // env keys: the ID only, never the secret
	Env         map[string]string `json:"env"`
	Config      fileStamp         `json:"config"`
	Credentials fileStamp         `json:"credentials"`
}

func (id identity) name() string {
	b, _ := json.Marshal(id) // a struct of strings cannot fail to encode
	sum := sha256.Sum256(b)
	return "token-" + hex.EncodeToString(sum[:20])
}
