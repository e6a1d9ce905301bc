package eksapi

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// EnabledRegions is ec2:DescribeRegions without AllRegions: the regions
// enabled for the account, asked of the account itself rather than read
// from a list compiled into the binary, which would go stale as AWS opens
// regions and would not know which opt-in regions this account enabled.
// Regions whose OptInStatus is "not-opted-in" and regions of another
// partition than the Client's region (which an emulator may list) are
// left out. It is a query API call signed for "ec2", made with the SDK's
// signer and HTTP client like the EKS calls: linking service/ec2 for this
// one call adds 2.4 MB to the binary and an endpoint table init (0.3 ms,
// 92 KB) to every start, cache hits included.
//
// endpoint overrides https://ec2.<region>.<partition domain>.
func (c Client) EnabledRegions(ctx context.Context, endpoint string) ([]string, error) {
	base := endpoint
	if base == "" {
		base = "https://ec2." + c.Config.Region + "." + domain(c.Config.Region)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var out struct {
		Regions []struct {
			Name  string `xml:"regionName"`
			OptIn string `xml:"optInStatus"`
		} `xml:"regionInfo>item"`
	}
	form := url.Values{"Action": {"DescribeRegions"}, "Version": {"2016-11-15"}}
	err := c.do(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/", "ec2", form, timeout, func(status int, _ http.Header, body []byte) error {
		if status != http.StatusOK {
			var e struct {
				Code    string `xml:"Errors>Error>Code"`
				Message string `xml:"Errors>Error>Message"`
			}
			if xml.Unmarshal(body, &e) != nil || e.Code == "" {
				e.Code = http.StatusText(status)
			}
			return &APIError{Code: e.Code, Message: e.Message, Status: status}
		}
		return xml.Unmarshal(body, &out)
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("no complete answer from %s within %v: check the network and AWS_ENDPOINT_URL_EC2", base, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("list the regions enabled for the account (ec2:DescribeRegions in %s): %w", c.Config.Region, err)
	}
	want := domain(c.Config.Region)
	var names []string
	for _, r := range out.Regions {
		if r.Name == "" || r.OptIn == "not-opted-in" || domain(r.Name) != want || !ValidRegion(r.Name) {
			continue
		}
		if strings.HasPrefix(r.Name, "cn-") != strings.HasPrefix(c.Config.Region, "cn-") || strings.HasPrefix(r.Name, "us-gov-") != strings.HasPrefix(c.Config.Region, "us-gov-") {
			continue // aws-cn and aws-us-gov share a suffix test with others: keep to the caller's partition
		}
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// ValidRegion says whether s looks like a region, lowercase letters,
// digits and dashes: what an API answers or a flag says goes into host
// names, URLs and file names only then.
func ValidRegion(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
