package updatekubeconfig

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/testenv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// fakeEKSAPI answers DescribeCluster and ListClusters on 127.0.0.1 from
// clusters (name -> the JSON "cluster" object), and ListClusters pages with
// next (page, 1-based, to nextToken; nil: one page).
type fakeEKSAPI struct {
	mu       sync.Mutex
	clusters map[string]map[string]any
	next     func(page int) string
	pages    int
}

func (f *fakeEKSAPI) start(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Path == "/clusters" {
			f.pages++
			names := []string{}
			for n := range f.clusters {
				names = append(names, n)
			}
			slices.Sort(names)
			out := map[string]any{"clusters": names}
			if f.next != nil {
				out["nextToken"] = f.next(f.pages)
			}
			_ = json.NewEncoder(w).Encode(out)
			return
		}
		c, ok := f.clusters[strings.TrimPrefix(r.URL.Path, "/clusters/")]
		if !ok {
			w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"No cluster found"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"cluster": c})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func caPEM(t *testing.T) []byte {
	t.Helper()
	pem, _ := testenv.CACert(t)
	return pem
}

func clusterARN(name string) string { return "arn:aws:eks:eu-west-1:111122223333:cluster/" + name }

func goodCluster(t *testing.T, name string) map[string]any {
	return map[string]any{"name": name, "arn": clusterARN(name), "status": "ACTIVE",
		"endpoint":             "https://" + strings.ToUpper(name) + "0123.gr7.eu-west-1.eks.amazonaws.com",
		"certificateAuthority": map[string]any{"data": base64.StdEncoding.EncodeToString(caPEM(t))}}
}

// runUpdate runs update-kubeconfig for in, writing kc, against the fake
// API at url with fixed keys, and checks what it asked of awsauth.
func runUpdate(t *testing.T, url, kc string, in Input) (stdout, stderr string, err error) {
	t.Helper()
	in.Endpoint, in.Kubeconfig, in.Command, in.Region = url, kc, "ekstoken", "eu-west-1"
	var out, errb bytes.Buffer
	err = Run(t.Context(), Env{
		Getenv: func(string) string { return "" },
		Stdin:  strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Now: time.Now, Home: t.TempDir(),
		Resolve: func(_ context.Context, o awsauth.Options) (awsauth.Result, error) {
			if o.Region != in.Region || o.Profile != in.Profile || o.RoleARN != in.RoleARN {
				t.Errorf("resolved credentials for %+v, want region %q, profile %q, role %q", o, in.Region, in.Profile, in.RoleARN)
			}
			return awsauth.Result{Config: aws.Config{
				Region:      o.Region,
				Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
			}}, nil
		},
	}, in)
	return out.String(), errb.String(), err
}

// A broken or hostile EKS API never gets into the kubeconfig: certificate
// data that is not base64 of a PEM certificate, an endpoint that is not
// https, a description of another cluster, or ListClusters pages that
// never end. The file stays byte for byte what it was, with --name and
// with --all (where one bad cluster stops them all), and the error names
// the cluster and what was wrong.
func TestUpdateKubeconfigRefusesBadAPI(t *testing.T) {
	existing := "apiVersion: v1\n# mine\nclusters: []\ncontexts: []\ncurrent-context: \"\"\nkind: Config\nusers: []\n"
	for _, tc := range []struct {
		name  string
		spoil func(c map[string]any)
		want  string
	}{
		{"CA not base64", func(c map[string]any) { c["certificateAuthority"] = map[string]any{"data": "%%% not base64 %%%"} }, "not valid base64"},
		{"CA not PEM", func(c map[string]any) {
			c["certificateAuthority"] = map[string]any{"data": base64.StdEncoding.EncodeToString([]byte("hello, world"))}
		}, "PEM certificate"},
		{"endpoint http", func(c map[string]any) { c["endpoint"] = "http://x.example" }, "not an https URL"},
		{"endpoint with a newline", func(c map[string]any) { c["endpoint"] = "https://x.example\n  insecure-skip-tls-verify: true" }, "not an https URL"},
		{"another cluster", func(c map[string]any) { c["name"] = "evil" }, `"evil" instead`},
	} {
		for _, all := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s all=%v", tc.name, all), func(t *testing.T) {
				f := &fakeEKSAPI{clusters: map[string]map[string]any{"a": goodCluster(t, "a"), "b": goodCluster(t, "b"), "c": goodCluster(t, "c")}}
				tc.spoil(f.clusters["b"])
				url := f.start(t)
				kc := filepath.Join(t.TempDir(), "config")
				if err := os.WriteFile(kc, []byte(existing), 0o600); err != nil {
					t.Fatal(err)
				}
				in := Input{Name: "b", SetCurrent: true}
				if all {
					in = Input{All: true}
				}
				out, errOut, err := runUpdate(t, url, kc, in)
				if err == nil || out != "" || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"b"`) {
					t.Errorf("error %v, stdout %q, stderr:\n%s\nwant an error naming cluster \"b\" and %q", err, out, errOut, tc.want)
				}
				if got, _ := os.ReadFile(kc); string(got) != existing {
					t.Errorf("the kubeconfig changed:\n%s", got)
				}
				// Nothing is said to have been added when nothing is written.
				if strings.Contains(errOut, "Added new context") || strings.Contains(errOut, "Updated context") {
					t.Errorf("stderr claims a change that was not written:\n%s", errOut)
				}
			})
		}
	}

	for _, tc := range []struct {
		name string
		next func(page int) string
		want string
	}{
		{"endless pages", func(p int) string { return fmt.Sprint("token-", p) }, "after 1000 pages"},
		{"repeated token", func(int) string { return "same" }, "already given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEKSAPI{clusters: map[string]map[string]any{"a": goodCluster(t, "a")}, next: tc.next}
			url := f.start(t)
			kc := filepath.Join(t.TempDir(), "config")
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				_, _, err = runUpdate(t, url, kc, Input{All: true})
			}()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("update-kubeconfig --all is still paging after a minute")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(kc); err == nil {
				t.Errorf("a kubeconfig was written")
			}
		})
	}
}

// update-kubeconfig says for every context whether it was added or
// updated, in the aws CLI's words; keeps the interactiveMode of a user it
// replaces; switches current-context with --name (as the aws CLI does)
// unless --set-current=false, and leaves it alone with --all unless
// --set-current.
func TestUpdateKubeconfigContextsAndCurrent(t *testing.T) {
	f := &fakeEKSAPI{clusters: map[string]map[string]any{"a": goodCluster(t, "a"), "b": goodCluster(t, "b"), "c": goodCluster(t, "c")}}
	url := f.start(t)
	kc := filepath.Join(t.TempDir(), "config")
	// The user of b exists, with an interactiveMode its owner chose.
	initial := `apiVersion: v1
clusters:
- cluster:
    server: https://other.example
  name: other
contexts:
- context:
    cluster: other
    user: other
  name: other
- context:
    cluster: ` + clusterARN("b") + `
    user: ` + clusterARN("b") + `
  name: ` + clusterARN("b") + `
current-context: other
kind: Config
preferences: {}
users:
- name: other
  user:
    token: static
- name: ` + clusterARN("b") + `
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, b]
      interactiveMode: Never
`
	if err := os.WriteFile(kc, []byte(initial), 0o600); err != nil {
		t.Fatal(err)
	}
	type state struct {
		Current string
		Modes   map[string]string
	}
	read := func() state {
		var doc struct {
			Current string `yaml:"current-context"`
			Users   []struct {
				Name string
				User struct {
					Exec struct {
						InteractiveMode string `yaml:"interactiveMode"`
					}
				}
			}
		}
		b, _ := os.ReadFile(kc)
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		s := state{Current: doc.Current, Modes: map[string]string{}}
		for _, u := range doc.Users {
			s.Modes[strings.TrimPrefix(u.Name, clusterARN(""))] = u.User.Exec.InteractiveMode
		}
		return s
	}
	for _, step := range []struct {
		in    Input
		lines []string // starts of stderr lines that must be there
		want  state
	}{
		{
			in:    Input{All: true},
			lines: []string{"Added new context " + clusterARN("a") + " to " + kc, "Updated context " + clusterARN("b") + " in " + kc, "Added new context " + clusterARN("c") + " to " + kc, "current-context stays other"},
			want:  state{Current: "other", Modes: map[string]string{"other": "", "a": "", "b": "Never", "c": ""}},
		},
		{
			in:    Input{All: true},
			lines: []string{"Context " + clusterARN("a") + " in " + kc + " is up to date", "Context " + clusterARN("b") + " in " + kc + " is up to date"},
			want:  state{Current: "other", Modes: map[string]string{"other": "", "a": "", "b": "Never", "c": ""}},
		},
		{
			in:    Input{Name: "a"},
			lines: []string{"Context " + clusterARN("a") + " in " + kc + " is up to date", "current-context stays other"},
			want:  state{Current: "other", Modes: map[string]string{"other": "", "a": "", "b": "Never", "c": ""}},
		},
		{
			in:    Input{Name: "b", SetCurrent: true},
			lines: []string{"Updated context " + clusterARN("b") + " in " + kc},
			want:  state{Current: clusterARN("b"), Modes: map[string]string{"other": "", "a": "", "b": "Never", "c": ""}},
		},
		{
			in:    Input{All: true, SetCurrent: true},
			lines: []string{"Updated context " + clusterARN("c") + " in " + kc},
			want:  state{Current: clusterARN("c"), Modes: map[string]string{"other": "", "a": "", "b": "Never", "c": ""}},
		},
	} {
		_, errOut, err := runUpdate(t, url, kc, step.in)
		if err != nil {
			t.Fatalf("%+v: %v\n%s", step.in, err, errOut)
		}
		for _, l := range step.lines {
			if !slices.ContainsFunc(strings.Split(errOut, "\n"), func(s string) bool { return strings.HasPrefix(s, l) }) {
				t.Errorf("%+v: no line of stderr starts with %q:\n%s", step.in, l, errOut)
			}
		}
		if diff := cmp.Diff(step.want, read()); diff != "" {
			t.Errorf("%+v: kubeconfig (-want +got):\n%s", step.in, diff)
		}
	}
}
