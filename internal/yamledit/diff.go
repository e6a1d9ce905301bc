package yamledit

import (
	"fmt"
	"sort"
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

// diffLines is a line diff. Common lines that occur once in each side
// anchor it (patience diff: the longest run of such lines in the same
// order), and the short stretches between anchors get an exact
// longest-common-subsequence diff. setup's edits are a few lines in each
// user entry, between lines that name the user, so a file of thousands of
// users costs linear time and still gives one small hunk per user.
func diffLines(a, b []string) []diffOp {
	var ops []diffOp
	diffRange(a, b, 0, 0, 0, &ops)
	return ops
}

// lcsCells bounds the table of the exact diff of one stretch; past it the
// stretch is shown as removed and added.
const lcsCells = 4 << 20

// maxAnchorDepth bounds the recursion of diffRange, so that input built
// to find one anchor per level still costs linear time per level.
const maxAnchorDepth = 16

// diffRange appends the diff of a and b, which start at lines a0 and b0
// of the whole files; depth counts the anchoring rounds above.
func diffRange(a, b []string, a0, b0, depth int, ops *[]diffOp) {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		*ops = append(*ops, diffOp{' ', a0 + pre, b0 + pre, a[pre]})
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	ma0, mb0 := a0+pre, b0+pre
	var anchors [][2]int
	if depth < maxAnchorDepth {
		anchors = uniqueCommon(ma, mb)
	}
	if len(anchors) > 0 {
		i, j := 0, 0
		for _, an := range anchors {
			diffRange(ma[i:an[0]], mb[j:an[1]], ma0+i, mb0+j, depth+1, ops)
			*ops = append(*ops, diffOp{' ', ma0 + an[0], mb0 + an[1], ma[an[0]]})
			i, j = an[0]+1, an[1]+1
		}
		diffRange(ma[i:], mb[j:], ma0+i, mb0+j, depth+1, ops)
	} else {
		lcsDiff(ma, mb, ma0, mb0, ops)
	}
	for k := len(a) - suf; k < len(a); k++ {
		*ops = append(*ops, diffOp{' ', a0 + k, b0 + len(b) - len(a) + k, a[k]})
	}
}

// uniqueCommon is the longest sequence of index pairs (i, j), increasing
// in both, of lines that occur exactly once in a and once in b with
// a[i] == b[j].
func uniqueCommon(a, b []string) [][2]int {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	type seen struct{ na, nb, ia, ib int }
	count := make(map[string]*seen, len(a))
	for i, l := range a {
		if c := count[l]; c != nil {
			c.na++
		} else {
			count[l] = &seen{na: 1, ia: i}
		}
	}
	for j, l := range b {
		if c := count[l]; c != nil {
			c.nb++
			c.ib = j
		}
	}
	var pairs [][2]int // in a's order
	for i, l := range a {
		if c := count[l]; c.na == 1 && c.nb == 1 && c.ia == i {
			pairs = append(pairs, [2]int{i, c.ib})
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	// Longest increasing subsequence of the b positions (patience sorting).
	var tops []int // tops[k]: index in pairs ending a run of length k+1
	prev := make([]int, len(pairs))
	for p, pr := range pairs {
		k := sort.Search(len(tops), func(k int) bool { return pairs[tops[k]][1] >= pr[1] })
		if k > 0 {
			prev[p] = tops[k-1]
		} else {
			prev[p] = -1
		}
		if k == len(tops) {
			tops = append(tops, p)
		} else {
			tops[k] = p
		}
	}
	out := make([][2]int, len(tops))
	for k, p := len(tops)-1, tops[len(tops)-1]; k >= 0; k, p = k-1, prev[p] {
		out[k] = pairs[p]
	}
	return out
}

// lcsDiff is the exact longest-common-subsequence diff of a stretch with
// no unique common line, or removed-then-added when it is too large.
func lcsDiff(ma, mb []string, a0, b0 int, ops *[]diffOp) {
	n, m := len(ma), len(mb)
	emit := func(kind byte, i, j int, text string) { *ops = append(*ops, diffOp{kind, a0 + i, b0 + j, text}) }
	i, j := 0, 0
	if n*m <= lcsCells {
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
				emit(' ', i, j, ma[i])
				i++
				j++
			case lcs[i+1][j] >= lcs[i][j+1]:
				emit('-', i, j, ma[i])
				i++
			default:
				emit('+', i, j, mb[j])
				j++
			}
		}
	}
	for ; i < n; i++ {
		emit('-', i, j, ma[i])
	}
	for ; j < m; j++ {
		emit('+', i, j, mb[j])
	}
}
