package discover

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/eksapi"
)

// MarkerEnv is set in the exec env of every user discovery writes, to the
// profile and region that found the cluster and the cluster's name:
// --prune removes only users that carry it, only for the places it looked
// in this time, and only when that cluster was not found there (under
// whatever name). kubectl passes it to ekstoken, which ignores it.
const MarkerEnv = "EKSTOKEN_DISCOVERED"

func placeKey(profile, region string) string { return "profile=" + profile + " region=" + region }

func markerValue(f found) string {
	return placeKey(f.id.label, f.region) + " cluster=" + f.cluster.Name
}

// markerPlace is the place part of a marker value.
func markerPlace(v string) string {
	place, _, _ := strings.Cut(v, " cluster=")
	return place
}

// checkTemplate refuses a template with an unknown placeholder, or one
// that names no cluster (every context would get the same name).
func checkTemplate(t string) error {
	for rest := t; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("--name-template %q: unclosed {", t)
		}
		p := rest[i : i+j+1]
		rest = rest[i+j+1:]
		switch p {
		case "{profile}", "{cluster}", "{region}", "{account}", "{arn}":
		default:
			return fmt.Errorf("--name-template %q: unknown placeholder %s (use {profile}, {cluster}, {region}, {account}, {arn})", t, p)
		}
	}
	if !strings.Contains(t, "{cluster}") && !strings.Contains(t, "{arn}") {
		return fmt.Errorf("--name-template %q names no cluster: include {cluster} or {arn}", t)
	}
	return nil
}

func render(t string, f found) string {
	return strings.NewReplacer("{profile}", f.id.label, "{cluster}", f.cluster.Name, "{region}", f.region,
		"{account}", f.account, "{arn}", f.cluster.ARN).Replace(t)
}

// nameAll names every cluster from template t. Where two would get the
// same name, the region is added ("prod/api@eu-west-1"), then the
// account; a cluster that still collides (the same cluster reached by two
// profiles, with a template without {profile}) is written once, for the
// first profile in order, and the others are returned to be reported.
func nameAll(clusters []found, t string) (kept []found, skipped []string) {
	count := func(key func(found) string) map[string]int {
		n := map[string]int{}
		for _, f := range clusters {
			n[key(f)]++
		}
		return n
	}
	base := func(f found) string { return render(t, f) }
	withRegion := func(f found) string { return base(f) + "@" + f.region }
	withAccount := func(f found) string { return withRegion(f) + "@" + f.account }
	byBase, byRegion, byAccount := count(base), count(withRegion), count(withAccount)
	for i, f := range clusters {
		switch {
		case byBase[base(f)] == 1:
			clusters[i].name = base(f)
		case byRegion[withRegion(f)] == 1:
			clusters[i].name = withRegion(f)
		case byAccount[withAccount(f)] == 1:
			clusters[i].name = withAccount(f)
		default:
			// The same cluster, reached twice: a suffix would not tell
			// them apart.
			clusters[i].name = base(f)
		}
	}
	seen := map[string]string{}
	for _, f := range clusters {
		if by, dup := seen[f.name]; dup {
			skipped = append(skipped, fmt.Sprintf("%s: %s through profile %s is already written through profile %s (add {profile} to --name-template for both)", f.name, f.cluster.ARN, f.id.label, by))
			continue
		}
		seen[f.name] = f.id.label
		kept = append(kept, f)
	}
	return kept, skipped
}

// summary says what was looked through and what refused, on stderr.
func summary(w io.Writer, n, profiles int, looked []place, calls int, refused []refusal, skipped []string, took time.Duration) {
	regions := map[string]bool{}
	for _, p := range looked {
		if p.region != "" {
			regions[p.region] = true
		}
	}
	fmt.Fprintf(w, "found %s through %s in %s (%s, %s)\n", count(n, "cluster"), count(profiles, "profile"), count(len(regions), "region"),
		count(calls, "call"), took.Round(time.Millisecond))
	for _, s := range skipped {
		fmt.Fprintln(w, "skipped "+s)
	}
	if len(refused) == 0 {
		return
	}
	fmt.Fprintf(w, "%s refused; the others were written:\n", count(len(refused), "place"))
	type line struct{ where, msg string }
	var lines []line
	for _, r := range refused {
		where := r.who
		if r.where != "" {
			where += " in " + r.where
		}
		msg := strings.ReplaceAll(oneLine(r.err), "list EKS clusters in "+r.where+": ", "")
		var api *eksapi.APIError
		if r.where != "" && errors.As(r.err, &api) && (api.Code == "UnrecognizedClientException" || api.Code == "InvalidClientTokenId") {
			msg += " (so AWS answers in a region not enabled for the account: enable it, or leave it out)"
		}
		lines = append(lines, line{where, msg})
	}
	// A profile refused alike in every region it was looked in (denied,
	// say) is one line, not one per region.
	perProfile := map[string]int{}
	for _, p := range looked {
		if p.region != "" {
			perProfile[p.profile]++
		}
	}
	said := map[string]bool{}
	for i, r := range refused {
		if r.where != "" && perProfile[r.who] > 1 {
			same := 0
			for j, o := range refused {
				if o.who == r.who && o.where != "" && lines[j].msg == lines[i].msg {
					same++
				}
			}
			if same == perProfile[r.who] {
				if !said[r.who] {
					said[r.who] = true
					fmt.Fprintf(w, "  %s in all %d regions: %s\n", r.who, same, lines[i].msg)
				}
				continue
			}
		}
		fmt.Fprintf(w, "  %s: %s\n", lines[i].where, lines[i].msg)
	}
}

func oneLine(err error) string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		var parts []string
		for _, e := range joined.Unwrap() {
			parts = append(parts, oneLine(e))
		}
		return strings.Join(parts, "; ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
