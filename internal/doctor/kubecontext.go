package doctor

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// KubeContext is one context of the kubeconfig files kubectl reads, with
// the cluster and user it names, merged as kubectl merges the files: the
// first file that names a context, cluster or user wins, and the first
// file that sets current-context chooses it.
type KubeContext struct {
	Name, File, User, Cluster string
	Target                    Target // Server, CAData, TLSServerName, Insecure
	Exec                      *Exec  // nil when the user runs no exec plugin
}

// Exec is a kubeconfig user's exec plugin.
type Exec struct {
	Command string
	Args    []string
	Env     map[string]string
}

// kubeconfigFile is the part of a kubeconfig that doctor and whoami read.
// Secrets (client keys, tokens, passwords) are not even decoded.
type kubeconfigFile struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string        `yaml:"name"`
		Cluster clusterConfig `yaml:"cluster"`
	} `yaml:"clusters"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Exec *ExecConfig `yaml:"exec"`
		} `yaml:"user"`
	} `yaml:"users"`
}

// clusterConfig is a kubeconfig cluster, as doctor and whoami reach it.
type clusterConfig struct {
	Server                   string `yaml:"server"`
	CertificateAuthority     string `yaml:"certificate-authority"`
	CertificateAuthorityData string `yaml:"certificate-authority-data"`
	TLSServerName            string `yaml:"tls-server-name"`
	Insecure                 bool   `yaml:"insecure-skip-tls-verify"`
}

// LoadContext finds context name ("" for the current context) in files,
// in kubectl's order (kubectllookup.Kubeconfigs). A file that does not
// exist is skipped, as kubectl skips it.
func LoadContext(files []string, name string) (KubeContext, error) {
	m, err := loadMerged(files)
	if err != nil {
		return KubeContext{}, err
	}
	if m.read == 0 {
		return KubeContext{}, fmt.Errorf("no kubeconfig: none of %s exists", strings.Join(files, ", "))
	}
	return m.context(name)
}

// context is context name ("" for the current one) of the merged
// kubeconfig, with its cluster (CA data read) and its user's exec plugin.
func (m *merged) context(name string) (KubeContext, error) {
	var kc KubeContext
	if name == "" {
		if m.current == "" {
			return kc, errors.New("the kubeconfig has no current-context: pass --context NAME (kubectl config get-contexts lists them)")
		}
		name = m.current
	}
	cu, ok := m.contexts[name]
	if !ok {
		return kc, fmt.Errorf("no context %q in the kubeconfig (%s): kubectl config get-contexts lists them", name, strings.Join(m.files, ", "))
	}
	kc.Name, kc.File, kc.Cluster, kc.User = name, cu.file, cu.v[0], cu.v[1]
	cl, ok := m.clusters[kc.Cluster]
	if !ok {
		return kc, fmt.Errorf("context %q names cluster %q, which the kubeconfig does not define", name, kc.Cluster)
	}
	c := cl.v
	kc.Target = Target{Server: c.Server, TLSServerName: c.TLSServerName, Insecure: c.Insecure}
	switch {
	case c.CertificateAuthorityData != "":
		ca, err := base64.StdEncoding.DecodeString(c.CertificateAuthorityData)
		if err != nil {
			return kc, fmt.Errorf("kubeconfig %s: cluster %q: certificate-authority-data is not base64: %w", cl.file, kc.Cluster, err)
		}
		kc.Target.CAData = ca
	case c.CertificateAuthority != "":
		p := c.CertificateAuthority
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cl.file), p) // relative to the kubeconfig, as kubectl reads it
		}
		ca, err := os.ReadFile(p)
		if err != nil {
			return kc, fmt.Errorf("kubeconfig %s: cluster %q: certificate-authority: %w", cl.file, kc.Cluster, err)
		}
		kc.Target.CAData = ca
	}
	u, ok := m.users[kc.User]
	if !ok {
		return kc, fmt.Errorf("context %q names user %q, which the kubeconfig does not define", name, kc.User)
	}
	if e := u.v; e != nil {
		kc.Exec = &Exec{Command: e.Command, Args: e.Args, Env: map[string]string{}}
		for _, v := range e.Env {
			kc.Exec.Env[v.Name] = v.Value
		}
	}
	return kc, nil
}

// TokenRequest reads what an exec plugin signs for, when it is ekstoken
// (either form) or `aws eks get-token`: the same flags, in any order.
// Flags that change only caching or output are skipped.
func (e *Exec) TokenRequest() (tokencache.Request, error) {
	var r tokencache.Request
	if e == nil {
		return r, errors.New("the user runs no exec plugin, so it is not an EKS user")
	}
	base := strings.ToLower(filepath.Base(strings.ReplaceAll(e.Command, `\`, "/")))
	base = strings.TrimSuffix(base, ".exe")
	if base != "ekstoken" && base != "aws" {
		return r, fmt.Errorf("the user runs %s, not ekstoken or aws eks get-token: run `ekstoken setup --dry-run` to see it switched to ekstoken", e.Command)
	}
	var pos []string
	args := e.Args
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			pos = append(pos, a)
			continue
		}
		flag, val, hasVal := strings.Cut(a, "=")
		switch flag {
		case "--no-cache", "--force-refresh", "--no-credential-cache", "--sso-login", "--debug",
			"--no-cli-pager", "--no-cli-auto-prompt", "--no-paginate":
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return r, fmt.Errorf("%s has no value in the kubeconfig's args", flag)
			}
			i++
			val = args[i]
		}
		switch flag {
		case "--cluster-name":
			r.ClusterName = val
		case "--cluster-id":
			r.ClusterID = val
		case "--region":
			r.Region = val
		case "--profile":
			r.Profile = val
		case "--role-arn", "--role":
			r.RoleARN = val
		case "--session-name":
			r.SessionName = val
		case "--external-id":
			r.ExternalID = val
		}
	}
	if !slices.Equal(pos, []string{"token"}) && !slices.Equal(pos, []string{"eks", "get-token"}) {
		return r, fmt.Errorf("%s %s is not a token command", e.Command, strings.Join(pos, " "))
	}
	if r.ClusterName == "" && r.ClusterID == "" {
		return r, errors.New("the exec args name no --cluster-name or --cluster-id")
	}
	return r, nil
}
