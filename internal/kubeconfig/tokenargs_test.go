package kubeconfig

import (
	"testing"

	"github.com/ekstoken/ekstoken/internal/fastpath"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/google/go-cmp/cmp"
)

// Whatever TokenArgs writes, the token command reads back as the same
// request (fastpath.Parse parses as cobra does; internal/app fuzzes that),
// with the token command's default session name where none was given.
func TestTokenArgsParseBack(t *testing.T) {
	for _, r := range []tokencache.Request{
		{ClusterName: "prod"},
		{ClusterName: "prod", Region: "eu-west-1"},
		{ClusterID: "0123abcd-4567-89ef-0123-456789abcdef", Region: "us-west-2"},
		{ClusterName: "a b", Region: "eu-west-1", Profile: "with space", RoleARN: "arn:aws:iam::111122223333:role/x",
			ExternalID: "ext=id", SessionName: "me@example.com"},
		{ClusterName: "prod", Region: "eu-west-1", RoleARN: "arn:aws:iam::111122223333:role/x"},
		{ClusterName: "prod", Profile: "dev"},
	} {
		args := TokenArgs(r)
		got, ok := fastpath.Parse(args)
		if !ok {
			t.Errorf("%q: the token command's parser declines it", args)
			continue
		}
		want := r
		if want.SessionName == "" {
			want.SessionName = tokencache.DefaultSessionName
		}
		if diff := cmp.Diff(want, got.Request); diff != "" {
			t.Errorf("%q parses to another request (-want +got):\n%s", args, diff)
		}
	}
}

// The args keep one order, the one setup has always written, so a rerun
// of setup or update-kubeconfig changes no byte of a user it wrote.
func TestTokenArgsOrder(t *testing.T) {
	got := TokenArgs(tokencache.Request{ClusterName: "c", Region: "r", Profile: "p", RoleARN: "role", ExternalID: "x", SessionName: "s"})
	want := []string{"token", "--cluster-name", "c", "--region", "r", "--profile", "p", "--role-arn", "role", "--external-id", "x", "--session-name", "s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := TokenArgs(tokencache.Request{ClusterName: "ignored", ClusterID: "id", Region: "r"}); !cmp.Equal(got, []string{"token", "--cluster-id", "id", "--region", "r"}) {
		t.Errorf("Outposts: %q", got)
	}
}
