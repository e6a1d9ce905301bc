// Package execcred speaks the client-go exec credential protocol: it reads
// what kubectl asks for in KUBERNETES_EXEC_INFO and writes the ExecCredential
// that answers it. It knows nothing about AWS or caching.
//
// The behaviour follows `aws eks get-token` (token-spec.md §1.7, §1.8) so that
// ekstoken is a drop-in replacement: the apiVersion kubectl configured is
// echoed back, v1beta1 is the default, and every warning goes to stderr.
package execcred

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// The API versions of client.authentication.k8s.io.
const (
	V1       = "client.authentication.k8s.io/v1"
	V1beta1  = "client.authentication.k8s.io/v1beta1"
	V1alpha1 = "client.authentication.k8s.io/v1alpha1"
)

// EnvVar is the variable client-go sets for every exec plugin run.
const EnvVar = "KUBERNETES_EXEC_INFO"

// Info is what kubectl told the plugin about this run.
type Info struct {
	// APIVersion is the version the answer must carry: client-go rejects any
	// other ("exec plugin is configured to use API version X, plugin returned
	// version Y").
	APIVersion string
	// Interactive is true only when client-go connected the terminal's stdin.
	Interactive bool
	// Present is false when KUBERNETES_EXEC_INFO was absent, which means a
	// person ran the plugin by hand.
	Present bool
	// Warning, when not empty, is a message for stderr (same texts as the aws
	// CLI, token-spec.md §1.8).
	Warning string
}

// ReadInfo decodes KUBERNETES_EXEC_INFO. It never fails: like the aws CLI it
// falls back to v1beta1 and explains why in Info.Warning.
func ReadInfo(getenv func(string) string) Info {
	raw := getenv(EnvVar)
	if raw == "" {
		return Info{APIVersion: V1beta1}
	}
	var in struct {
		APIVersion string `json:"apiVersion"`
		Spec       struct {
			Interactive bool `json:"interactive"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return Info{APIVersion: V1beta1, Present: true, Warning: "Error parsing " + EnvVar +
			", defaulting to " + V1beta1 + ". This is likely a bug in your Kubernetes client. Please update your Kubernetes client."}
	}
	info := Info{APIVersion: in.APIVersion, Interactive: in.Spec.Interactive, Present: true}
	switch in.APIVersion {
	case V1, V1beta1:
	case V1alpha1:
		info.Warning = "Kubeconfig user entry is using deprecated API version " + V1alpha1 +
			", which kubectl no longer accepts. Change the user's apiVersion to " + V1beta1 + "."
	default:
		info.APIVersion = V1beta1
		info.Warning = "Unrecognized API version in " + EnvVar + ", defaulting to " + V1beta1 + "."
	}
	return info
}

// Credential is the part of an ExecCredential that ekstoken fills in.
type Credential struct {
	Token      string
	Expiration time.Time
}

type envelope struct {
	Kind       string   `json:"kind"`
	APIVersion string   `json:"apiVersion"`
	Spec       struct{} `json:"spec"`
	Status     status   `json:"status"`
}

type status struct {
	ExpirationTimestamp string `json:"expirationTimestamp"`
	Token               string `json:"token"`
}

// TimeFormat is RFC 3339 in UTC with whole seconds, as the aws CLI prints it.
const TimeFormat = "2006-01-02T15:04:05Z"

// Write prints one ExecCredential for apiVersion. The envelope is built anew
// on every call, never replayed from a cache, so one cached token can serve
// kubeconfigs of different apiVersions.
func Write(w io.Writer, apiVersion string, c Credential) error {
	env := envelope{Kind: "ExecCredential", APIVersion: apiVersion, Status: status{
		ExpirationTimestamp: c.Expiration.UTC().Format(TimeFormat),
		Token:               c.Token,
	}}
	b, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode ExecCredential: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
