package backtest

import (
	"slices"
	"strings"
)

// maxDiffLines bounds each side of a line diff; longer parts are compared
// as a whole (the diff says they differ).
const maxDiffLines = 400

// diffParts writes a line diff of two renderings, part by part: lines
// only before start with "-", lines only after with "+", common lines
// with two spaces; each changed part is headed by "@@ part @@".
func diffParts(before, after map[string]string) string {
	names := map[string]bool{}
	for k := range before {
		names[k] = true
	}
	for k := range after {
		names[k] = true
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		if before[k] == after[k] {
			continue
		}
		b.WriteString("@@ " + k + " @@\n")
		b.WriteString(diffLines(before[k], after[k]))
	}
	return b.String()
}

// diffLines is a longest-common-subsequence line diff.
func diffLines(a, b string) string {
	x, y := splitLines(a), splitLines(b)
	var out strings.Builder
	if len(x) > maxDiffLines || len(y) > maxDiffLines {
		for _, l := range x {
			out.WriteString("- " + l + "\n")
		}
		for _, l := range y {
			out.WriteString("+ " + l + "\n")
		}
		return out.String()
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out.WriteString("  " + x[i] + "\n")
			i++
			j++
		case j < len(y) && (i == len(x) || lcs[i][j+1] > lcs[i+1][j]):
			out.WriteString("+ " + y[j] + "\n")
			j++
		default:
			out.WriteString("- " + x[i] + "\n")
			i++
		}
	}
	return out.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
