package kubeconfig

import (
	"fmt"
	"strings"
	"testing"
)

// Every comment in or around a rewritten args list is kept exactly once,
// wherever it sits: after any argument (the last one too), on its own
// line before any argument, after the list, with any spacing, in block
// and flow lists, with LF and CRLF line endings.
func TestRewriteKeepsEachCommentOnce(t *testing.T) {
	args := []string{"--region", "eu-west-1", "eks", "get-token", "--cluster-name", "prod", "--output", "json"}
	head := "apiVersion: v1\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
	type variant struct {
		name string
		src  string
	}
	var vs []variant
	block := func(dashInd string, lineComment map[int]string, headComment map[int]string, foot string) string {
		var b strings.Builder
		b.WriteString(head + "      args:\n")
		for i, a := range args {
			if c, ok := headComment[i]; ok {
				b.WriteString(dashInd + c + "\n")
			}
			b.WriteString(dashInd + "- " + a + lineComment[i] + "\n")
		}
		b.WriteString(foot)
		b.WriteString("      command: aws\n")
		return b.String()
	}
	for _, ind := range []string{"      ", "        "} {
		for i := range args {
			for _, sp := range []string{" ", "   ", "\t"} {
				c := fmt.Sprintf("%s# after arg %d", sp, i)
				vs = append(vs, variant{fmt.Sprintf("ind%d line comment on %d %q", len(ind), i, sp), block(ind, map[int]string{i: c}, nil, "")})
			}
			vs = append(vs, variant{fmt.Sprintf("ind%d head comment before %d", len(ind), i), block(ind, nil, map[int]string{i: fmt.Sprintf("# before arg %d", i)}, "")})
		}
		all := map[int]string{}
		heads := map[int]string{}
		for i := range args {
			all[i] = fmt.Sprintf(" # after arg %d", i)
			heads[i] = fmt.Sprintf("# before arg %d", i)
		}
		vs = append(vs, variant{fmt.Sprintf("ind%d every comment", len(ind)), block(ind, all, heads, ind+"# foot of args\n")})
		vs = append(vs, variant{fmt.Sprintf("ind%d foot comment", len(ind)), block(ind, nil, nil, ind+"# foot of args\n")})
		vs = append(vs, variant{fmt.Sprintf("ind%d foot comment, deeper", len(ind)), block(ind, nil, nil, ind+"  # foot of args\n")})
		vs = append(vs, variant{fmt.Sprintf("ind%d foot comment after a blank line", len(ind)), block(ind, map[int]string{7: " # last"}, nil, "\n"+ind+"# foot of args\n")})
	}
	vs = append(vs,
		variant{"flow, comment after", head + "      args: [" + strings.Join(args, ", ") + "] # the args\n      command: aws\n"},
		variant{"flow, comment line before", head + "      # the args\n      args: [" + strings.Join(args, ", ") + "]\n      command: aws # the command\n"},
		variant{"flow, one per line, comment after", head + "      args: [\n        " + strings.Join(args, ",\n        ") + "\n      ] # the args\n      command: aws\n"},
	)
	for _, v := range vs {
		for _, nl := range []string{"\n", "\r\n"} {
			src := strings.ReplaceAll(v.src, "\n", nl)
			out, changes, err := Rewrite([]byte(src), RewriteOptions{Command: "ekstoken"})
			if err != nil || len(changes) != 1 {
				t.Errorf("%s (%q): %d changes, %v\n%s", v.name, nl, len(changes), err, src)
				continue
			}
			for _, l := range strings.Split(src, nl) {
				_, c, ok := strings.Cut(l, "#")
				if !ok {
					continue
				}
				if n := strings.Count(string(out), "#"+c); n != 1 {
					t.Errorf("%s (%q): comment %q is in the result %d times, want once:\n%s", v.name, nl, "#"+c, n, out)
				}
			}
			if again, ch, err := Rewrite(out, RewriteOptions{Command: "ekstoken"}); err != nil || len(ch) != 0 || string(again) != string(out) {
				t.Errorf("%s (%q): a second run changed it: %v", v.name, nl, err)
			}
		}
	}
}
