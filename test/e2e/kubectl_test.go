package e2e

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/google/go-cmp/cmp"
)

// kubectl runs ekstoken in both kubeconfig forms: the first kubectl process
// gets a token signed and cached, and the next one sends that same token.
func TestKubectl(t *testing.T) {
	t.Parallel()
	kubectlPath(t)
	for _, u := range []fakeeks.User{
		execUser("token", v1beta1, tokenArgs...),
		execUser("get-token", v1, dropInArgs...), // as `aws eks update-kubeconfig` writes it
	} {
		t.Run(u.Name, func(t *testing.T) {
			s := startEKS(t, nil)
			sb := newSandbox(t)
			kc := writeKubeconfig(t, s, u)
			env := sb.withKeys()

			out, errOut, err := kubectl(t, env, kc, u.Name, "get", "namespaces")
			if err != nil {
				t.Fatalf("kubectl get namespaces: %v\n%s", err, errOut)
			}
			var names []string
			for line := range strings.Lines(out) {
				if f := strings.Fields(line); len(f) > 0 {
					names = append(names, f[0])
				}
			}
			if diff := cmp.Diff([]string{"NAME", "default", "kube-system"}, names); diff != "" {
				t.Errorf("kubectl get namespaces (-want +got):\n%s\n%s", diff, out)
			}
			first := checkStats(t, s, 0, 1).Authenticated
			_, cached := onlyEntry(t, sb.cacheDir)
			nextSecond(t, cached)

			out, errOut, err = kubectl(t, env, kc, u.Name, "auth", "whoami", "-o", "json")
			if err != nil {
				t.Fatalf("kubectl auth whoami: %v\n%s", err, errOut)
			}
			var review struct {
				Status struct{ UserInfo struct{ Username string } }
			}
			if err := json.Unmarshal([]byte(out), &review); err != nil {
				t.Fatalf("kubectl auth whoami: %v\n%s", err, out)
			}
			if got := review.Status.UserInfo.Username; got != aliceARN {
				t.Errorf("kubectl auth whoami: username %q, want %q", got, aliceARN)
			}

			// Two kubectl processes, one token: the second one came from the cache.
			if st := checkStats(t, s, 0, 1); st.Authenticated <= first {
				t.Errorf("authenticated requests went from %d to %d", first, st.Authenticated)
			}
			if _, now := onlyEntry(t, sb.cacheDir); now != cached {
				t.Errorf("the cache entry changed between kubectl runs")
			}
			mustVerify(t, s, cached)
			checkStats(t, s, 0, 1) // the cached token is the one kubectl sent
		})
	}
}

// Tokens that EKS would refuse are refused through kubectl too, each for
// its own reason, while a good user on the same server gets in.
func TestKubectlRejections(t *testing.T) {
	t.Parallel()
	kubectlPath(t)

	// rejected runs `kubectl get namespaces` as context, which must fail
	// as unauthorized because fakeeks refused the token for reason.
	rejected := func(t *testing.T, s *fakeeks.Server, env []string, kc, context, reason string) {
		t.Helper()
		out, errOut, err := kubectl(t, env, kc, context, "get", "namespaces")
		if err == nil {
			t.Fatalf("kubectl as %s succeeded:\n%s", context, out)
		}
		if !strings.Contains(errOut, "You must be logged in to the server") {
			t.Errorf("kubectl as %s failed, but not as unauthorized:\n%s", context, errOut)
		}
		st := s.Stats()
		if st.Authenticated != 0 || st.Rejected == 0 || !strings.Contains(st.LastRejectReason, reason) {
			t.Errorf("fakeeks stats = %+v, want rejections only, for %q", st, reason)
		}
	}
	accepted := func(t *testing.T, env []string, kc, context string) {
		t.Helper()
		if _, errOut, err := kubectl(t, env, kc, context, "get", "namespaces"); err != nil {
			t.Errorf("kubectl as %s: %v\n%s", context, err, errOut)
		}
	}

	t.Run("wrong cluster", func(t *testing.T) {
		s := startEKS(t, nil)
		sb := newSandbox(t)
		kc := writeKubeconfig(t, s,
			execUser("other", v1beta1, "token", "--cluster-name", "other-cluster", "--region", region),
			execUser("right", v1beta1, tokenArgs...))
		rejected(t, s, sb.withKeys(), kc, "other", "signature mismatch")
		accepted(t, sb.withKeys(), kc, "right")
	})

	t.Run("unknown keys", func(t *testing.T) {
		s := startEKS(t, nil)
		sb := newSandbox(t)
		kc := writeKubeconfig(t, s, execUser("token", v1beta1, tokenArgs...))
		rejected(t, s, sb.with("AWS_ACCESS_KEY_ID=AKIDUNKNOWNEXAMPLE", "AWS_SECRET_ACCESS_KEY=unknown"), kc, "token",
			"unknown access key id")
		accepted(t, sb.withKeys(), kc, "token")
	})

	t.Run("expired", func(t *testing.T) {
		s := startEKS(t, func() time.Time { return time.Now().Add(20 * time.Minute) })
		sb := newSandbox(t)
		kc := writeKubeconfig(t, s, execUser("token", v1beta1, tokenArgs...))
		rejected(t, s, sb.withKeys(), kc, "token", "expired")
	})

	t.Run("tampered", func(t *testing.T) {
		s := startEKS(t, nil)
		sb := newSandbox(t)
		good := getToken(t, sb.withKeys(), tokenArgs...)
		bad := flipSignature(t, good)
		if _, err := s.Verify(bad); err == nil || !strings.Contains(err.Error(), "signature mismatch") {
			t.Fatalf("Verify(tampered token) = %v, want a signature mismatch", err)
		}
		mustVerify(t, s, good)

		kc := writeKubeconfig(t, s, fakeeks.User{Name: "tampered", Token: bad}, fakeeks.User{Name: "good", Token: good})
		if out, errOut, err := kubectl(t, sb.with(), kc, "tampered", "get", "namespaces"); err == nil ||
			!strings.Contains(errOut, "You must be logged in to the server") {
			t.Errorf("kubectl with the tampered token: err %v\n%s%s", err, out, errOut)
		}
		accepted(t, sb.with(), kc, "good")
	})
}

// flipSignature changes the last character of the token's X-Amz-Signature.
func flipSignature(t *testing.T, tok string) string {
	t.Helper()
	u := presignedURL(t, tok)
	sig := u.Query().Get("X-Amz-Signature")
	if len(sig) != 64 || !strings.HasSuffix(u.RawQuery, "X-Amz-Signature="+sig) {
		t.Fatalf("no hex signature at the end of %s", u)
	}
	last := "0"
	if sig[63] == '0' {
		last = "1"
	}
	u.RawQuery = strings.TrimSuffix(u.RawQuery, sig[63:]) + last
	return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(u.String()))
}

// kubectl asks for v1beta1 and v1 ExecCredentials and refuses an answer in
// another version; both are served from one cache entry.
func TestExecAPIVersions(t *testing.T) {
	t.Parallel()
	kubectlPath(t)
	s := startEKS(t, nil)
	sb := newSandbox(t)
	// Here the cache lives where kubectl's own does: $KUBECACHEDIR/ekstoken.
	kubeCache := filepath.Join(sb.home, "kube-cache")
	sb.cacheDir = filepath.Join(kubeCache, "ekstoken")
	env := slices.DeleteFunc(sb.withKeys("KUBECACHEDIR="+kubeCache), func(kv string) bool {
		return strings.HasPrefix(kv, "EKSTOKEN_CACHE_DIR=")
	})
	kc := writeKubeconfig(t, s, execUser("v1beta1", v1beta1, tokenArgs...), execUser("v1", v1, tokenArgs...))

	var cached string
	for _, context := range []string{"v1beta1", "v1"} {
		if _, errOut, err := kubectl(t, env, kc, context, "get", "namespaces"); err != nil {
			t.Fatalf("kubectl as %s: %v\n%s", context, err, errOut)
		}
		if cached == "" {
			_, cached = onlyEntry(t, sb.cacheDir)
			nextSecond(t, cached)
		}
	}
	if _, now := onlyEntry(t, sb.cacheDir); now != cached {
		t.Errorf("the cache entry changed between the v1beta1 and v1 runs")
	}
	mustVerify(t, s, cached)
	checkStats(t, s, 0, 1)

	// The answer follows KUBERNETES_EXEC_INFO on a hit and on a refresh.
	info := `KUBERNETES_EXEC_INFO={"apiVersion":"` + v1 + `","kind":"ExecCredential","spec":{"interactive":false}}`
	for _, args := range [][]string{tokenArgs, slices.Concat(tokenArgs, []string{"--force-refresh"})} {
		stdout, stderr, code := runEkstoken(t, slices.Concat(env, []string{info}), args...)
		if code != 0 {
			t.Fatalf("ekstoken %v: exit %d\n%s", args, code, stderr)
		}
		parseCredential(t, stdout, v1)
	}
}
