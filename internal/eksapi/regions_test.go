package eksapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"
)

// EnabledRegions keeps the regions the account can use in the caller's
// partition: not those not opted in, not another partition's, not a name
// that is not a region; and an error answer comes back as an APIError.
func TestEnabledRegions(t *testing.T) {
	item := func(name, optIn string) string {
		return "<item><regionName>" + name + "</regionName><optInStatus>" + optIn + "</optInStatus></item>"
	}
	body := `<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><regionInfo>` +
		item("eu-west-1", "opt-in-not-required") + item("ap-east-1", "not-opted-in") + item("me-south-1", "opted-in") +
		item("us-gov-west-1", "opt-in-not-required") + item("cn-north-1", "opt-in-not-required") +
		item("evil/../x", "opt-in-not-required") + item("us-east-1", "opt-in-not-required") + item("eu-west-1", "opt-in-not-required") +
		`</regionInfo></DescribeRegionsResponse>`
	var form string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form = r.PostForm.Encode()
		if !strings.Contains(r.Header.Get("Authorization"), "/ec2/aws4_request") {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `<Response><Errors><Error><Code>AuthFailure</Code><Message>not signed for ec2</Message></Error></Errors></Response>`)
			return
		}
		if r.Header.Get("X-Deny") != "" || strings.HasPrefix(r.URL.Path, "/deny") {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors></Response>`)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		region, path string
		want         []string
	}{
		{"eu-west-1", "", []string{"eu-west-1", "me-south-1", "us-east-1"}},
		{"us-gov-west-1", "", []string{"us-gov-west-1"}},
		{"cn-north-1", "", []string{"cn-north-1"}},
	} {
		c := Client{Config: aws.Config{Region: tc.region, Credentials: credentials.NewStaticCredentialsProvider("AKID", "s", "")}, Now: time.Now}
		got, err := c.EnabledRegions(t.Context(), srv.URL+tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("from %s (-want +got):\n%s", tc.region, diff)
		}
		if !strings.Contains(form, "Action=DescribeRegions") || strings.Contains(form, "AllRegions=true") {
			t.Errorf("form %q", form)
		}
	}
	c := Client{Config: aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "s", "")}, Now: time.Now}
	_, err := c.EnabledRegions(t.Context(), srv.URL+"/deny")
	var api *APIError
	if !errors.As(err, &api) || api.Code != "UnauthorizedOperation" {
		t.Errorf("error %v, want UnauthorizedOperation", err)
	}
}
