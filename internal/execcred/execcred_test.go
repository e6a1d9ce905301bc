package execcred

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReadInfo(t *testing.T) {
	for _, tt := range []struct {
		name, env string
		want      Info
	}{
		{"absent: a run by hand", "", Info{APIVersion: V1beta1}},
		{"v1, interactive", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}`,
			Info{APIVersion: V1, Interactive: true, Present: true}},
		{"v1beta1", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}`,
			Info{APIVersion: V1beta1, Present: true}},
		{"v1alpha1 is echoed with a warning", `{"apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{}}`,
			Info{APIVersion: V1alpha1, Present: true, Warning: "Kubeconfig user entry is using deprecated API version client.authentication.k8s.io/v1alpha1, which kubectl no longer accepts. Change the user's apiVersion to client.authentication.k8s.io/v1beta1."}},
		{"unknown version", `{"apiVersion":"client.authentication.k8s.io/v2"}`,
			Info{APIVersion: V1beta1, Present: true, Warning: "Unrecognized API version in KUBERNETES_EXEC_INFO, defaulting to client.authentication.k8s.io/v1beta1."}},
		{"not JSON", `{`,
			Info{APIVersion: V1beta1, Present: true, Warning: "Error parsing KUBERNETES_EXEC_INFO, defaulting to client.authentication.k8s.io/v1beta1. This is likely a bug in your Kubernetes client. Please update your Kubernetes client."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ReadInfo(func(k string) string {
				if k == EnvVar {
					return tt.env
				}
				return ""
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	exp := time.Date(2023, 4, 28, 0, 14, 0, 999, time.FixedZone("CEST", 2*3600))
	if err := Write(&b, V1, Credential{Token: "k8s-aws-v1.abc", Expiration: exp}); err != nil {
		t.Fatal(err)
	}
	// The aws CLI's key order; RFC 3339 in UTC, whole seconds, literal Z.
	want := `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{},"status":{"expirationTimestamp":"2023-04-27T22:14:00Z","token":"k8s-aws-v1.abc"}}` + "\n"
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}
