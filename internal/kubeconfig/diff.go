package kubeconfig

import (
	"fmt"
	"strings"
)

// Diff is a unified diff (3 lines of context) from old to new, both headed
// with name; "" when they are equal.
func Diff(name string, old, new []byte) string {
	if string(old) == string(new) {
		return ""
	}
	a, b := splitLines(string(old)), splitLines(string(new))
	ops := diffLines(a, b)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", name, name)
	const context = 3
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk runs from this change to the first gap of more than
		// 2*context unchanged lines.
		start := max(i-context, 0)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j + 1
			} else if j-end >= 2*context {
				break
			}
		}
		end = min(end+context, len(ops))
		var oldN, newN int
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				oldN++
			}
			if o.kind != '-' {
				newN++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(ops[start].a, oldN), hunkRange(ops[start].b, newN))
		for _, o := range ops[start:end] {
			line := o.text
			out.WriteByte(o.kind)
			out.WriteString(line)
			if !strings.HasSuffix(line, "\n") {
				out.WriteString("\n\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return out.String()
}

// hunkRange formats a hunk side like GNU diff: "l" for one line, "l,n"
// otherwise, with l the line before the hunk when n is 0.
func hunkRange(first, n int) string {
	switch n {
	case 1:
		return fmt.Sprint(first + 1)
	case 0:
		return fmt.Sprintf("%d,0", first)
	}
	return fmt.Sprintf("%d,%d", first+1, n)
}

// splitLines splits s after each "\n"; a last line without one is kept.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

type diffOp struct {
	kind byte // ' ', '-' or '+'
	a, b int  // 0-based positions in old and new before this line
	text string
}

// diffLines is a longest-common-subsequence line diff. Kubeconfigs are
// small; past a few million cells the middle is just replaced.
func diffLines(a, b []string) []diffOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	n, m := len(ma), len(mb)
	var ops []diffOp
	emit := func(kind byte, i, j int, text string) { ops = append(ops, diffOp{kind, i, j, text}) }
	for i := 0; i < pre; i++ {
		emit(' ', i, i, a[i])
	}
	i, j := 0, 0
	if n*m <= 4<<20 {
		// lcs[i][j] is the LCS length of ma[i:] and mb[j:].
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		for i < n && j < m {
			switch {
			case ma[i] == mb[j]:
				emit(' ', pre+i, pre+j, ma[i])
				i++
				j++
			case lcs[i+1][j] >= lcs[i][j+1]:
				emit('-', pre+i, pre+j, ma[i])
				i++
			default:
				emit('+', pre+i, pre+j, mb[j])
				j++
			}
		}
	}
	for ; i < n; i++ {
		emit('-', pre+i, pre+j, ma[i])
	}
	for ; j < m; j++ {
		emit('+', pre+i, pre+j, mb[j])
	}
	for k := 0; k < suf; k++ {
		emit(' ', len(a)-suf+k, len(b)-suf+k, a[len(a)-suf+k])
	}
	return ops
}
