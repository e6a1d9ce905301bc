// Package execcred speaks the client-go exec credential protocol: it reads
// what kubectl asks for in KUBERNETES_EXEC_INFO and writes the ExecCredential
// that answers it. It knows nothing about AWS or caching.
//
// The behaviour follows `aws eks get-token` (docs/token.md#execcredential, docs/token.md#apiversion) so that
// ekstoken is a drop-in replacement: the apiVersion kubectl configured is
// echoed back, v1beta1 is the default, and every warning goes to stderr.
package execcred

import (
	"io"
	"time"

	"github.com/ekstoken/ekstoken/internal/jsonlite"
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
	// Warning, when not empty, is a message for stderr (the aws CLI's texts,
	// changed where they would mislead: docs/token.md#apiversion).
	Warning string
}

// ReadInfo decodes KUBERNETES_EXEC_INFO. It never fails: like the aws CLI it
// falls back to v1beta1 and explains why in Info.Warning.
func ReadInfo(getenv func(string) string) Info {
	raw := getenv(EnvVar)
	if raw == "" {
		return Info{APIVersion: V1beta1}
	}
	apiVersion, interactive, ok := decodeInfo(raw)
	if !ok {
		return Info{APIVersion: V1beta1, Present: true, Warning: "Error parsing " + EnvVar +
			", defaulting to " + V1beta1 + ". This is likely a bug in your Kubernetes client. Please update your Kubernetes client."}
	}
	info := Info{APIVersion: apiVersion, Interactive: interactive, Present: true}
	switch apiVersion {
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

// decodeInfo reads apiVersion and spec.interactive as json.Unmarshal into
// a struct of those two fields would: the document must be valid JSON, an
// absent or null field is its zero value, and a field of the wrong type is
// an error. TestDecodeInfoAgreesWithEncodingJSON holds it to that.
func decodeInfo(raw string) (apiVersion string, interactive bool, ok bool) {
	v, err := jsonlite.Parse([]byte(raw))
	if err != nil {
		return "", false, false
	}
	if v.Kind == jsonlite.Null {
		return "", false, true
	}
	if v.Kind != jsonlite.Object {
		return "", false, false
	}
	if a, found := v.Get("apiVersion"); found {
		switch a.Kind {
		case jsonlite.String:
			apiVersion = a.Str
		case jsonlite.Null:
		default:
			return "", false, false
		}
	}
	spec, found := v.Get("spec")
	if !found || spec.Kind == jsonlite.Null {
		return apiVersion, false, true
	}
	if spec.Kind != jsonlite.Object {
		return "", false, false
	}
	if i, found := spec.Get("interactive"); found {
		switch i.Kind {
		case jsonlite.Bool:
			interactive = i.Bool
		case jsonlite.Null:
		default:
			return "", false, false
		}
	}
	return apiVersion, interactive, true
}

// Credential is the part of an ExecCredential that ekstoken fills in.
type Credential struct {
	Token      string
	Expiration time.Time
}

// TimeFormat is RFC 3339 in UTC with whole seconds, as the aws CLI prints it.
const TimeFormat = "2006-01-02T15:04:05Z"

// Write prints one ExecCredential for apiVersion. The envelope is built anew
// on every call, never replayed from a cache, so one cached token can serve
// kubeconfigs of different apiVersions.
func Write(w io.Writer, apiVersion string, c Credential) error {
	_, err := w.Write(Marshal(apiVersion, c))
	return err
}

// Marshal is the ExecCredential Write prints, newline included: the bytes
// json.Marshal gives for {kind, apiVersion, spec: {}, status:
// {expirationTimestamp, token}}, written without reflection
// (TestMarshalAgreesWithEncodingJSON).
func Marshal(apiVersion string, c Credential) []byte {
	b := make([]byte, 0, 160+len(c.Token))
	b = append(b, `{"kind":"ExecCredential","apiVersion":`...)
	b = jsonlite.AppendString(b, apiVersion)
	b = append(b, `,"spec":{},"status":{"expirationTimestamp":`...)
	b = jsonlite.AppendString(b, c.Expiration.UTC().Format(TimeFormat))
	b = append(b, `,"token":`...)
	b = jsonlite.AppendString(b, c.Token)
	return append(b, "}}\n"...)
}
