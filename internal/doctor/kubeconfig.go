package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"gopkg.in/yaml.v3"
)

// ExecConfig is a user's exec plugin.
type ExecConfig struct {
	APIVersion      string   `yaml:"apiVersion"`
	Command         string   `yaml:"command"`
	Args            []string `yaml:"args"`
	Env             []EnvVar `yaml:"env"`
	InteractiveMode string   `yaml:"interactiveMode"`
}

// EnvVar is one entry of an exec plugin's env.
type EnvVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type named[T any] struct {
	file string
	v    T
}

// merged is the kubeconfig kubectl sees: for each name, the first file
// that defines it wins, as does the first current-context that is set.
type merged struct {
	files    []string
	read     int // files that exist
	current  string
	contexts map[string]named[[2]string] // cluster, user
	order    []string
	clusters map[string]named[clusterConfig]
	users    map[string]named[*ExecConfig]
}

func loadMerged(files []string) (*merged, error) {
	m := &merged{files: files,
		contexts: map[string]named[[2]string]{},
		clusters: map[string]named[clusterConfig]{},
		users:    map[string]named[*ExecConfig]{},
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // kubectl skips files that do not exist
		}
		if err != nil {
			return nil, fmt.Errorf("read kubeconfig %s: %w", f, err)
		}
		m.read++
		var k kubeconfigFile
		if err := yaml.Unmarshal(b, &k); err != nil {
			return nil, fmt.Errorf("kubeconfig %s does not parse (kubectl refuses it too): %w", f, err)
		}
		if m.current == "" {
			m.current = k.CurrentContext
		}
		for _, c := range k.Contexts {
			if _, ok := m.contexts[c.Name]; !ok {
				m.contexts[c.Name] = named[[2]string]{f, [2]string{c.Context.Cluster, c.Context.User}}
				m.order = append(m.order, c.Name)
			}
		}
		for _, c := range k.Clusters {
			if _, ok := m.clusters[c.Name]; !ok {
				m.clusters[c.Name] = named[clusterConfig]{f, c.Cluster}
			}
		}
		for _, u := range k.Users {
			if _, ok := m.users[u.Name]; !ok {
				m.users[u.Name] = named[*ExecConfig]{f, u.User.Exec}
			}
		}
	}
	return m, nil
}
