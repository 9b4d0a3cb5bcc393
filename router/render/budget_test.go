package render

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBudgetStopsBombs runs templates that would build gigabytes or spin
// for minutes: each fails with ErrBudget, and the process's heap stays
// far below what the template asked for.
func TestBudgetStopsBombs(t *testing.T) {
	cases := []struct {
		name, src string
		esc       Escape
	}{
		{"string doubling in a range", `{{ $s := "x" }}{{ range until 40 }}{{ $s = print $s $s }}{{ end }}{{ len $s }}`, Plain},
		{"doubling with printf", `{{ $s := "ab" }}{{ range until 40 }}{{ $s = printf "%s%s" $s $s }}{{ end }}{{ len $s }}`, Plain},
		{"doubling with cat", `{{ $s := "ab" }}{{ range until 40 }}{{ $s = cat $s $s }}{{ end }}{{ len $s }}`, Mrkdwn},
		{"three nested ranges until 10000", `{{ range until 10000 }}{{ range until 10000 }}{{ range until 10000 }}{{ end }}{{ end }}{{ end }}`, Plain},
		{"nested ranges in html", `<p>{{ range until 10000 }}{{ range until 10000 }}{{ range until 10000 }}{{ end }}{{ end }}{{ end }}</p>`, HTML},
		{"a list of one long string joined", `{{ $s := repeat 60000 "x" }}{{ $l := list }}{{ range until 2000 }}{{ $l = append $l $s }}{{ end }}{{ join "," $l | len }}`, Plain},
		{"one list holding a long string many times", `{{ $s := repeat 60000 "x" }}{{ $l := list $s $s $s $s $s $s $s $s }}{{ $m := list $l $l $l $l $l $l $l $l }}{{ $n := list $m $m $m $m $m $m $m $m }}{{ toJson $n | len }}`, Plain},
		{"printing a shared list", `{{ $s := repeat 60000 "x" }}{{ $l := list $s $s $s $s $s $s $s $s }}{{ $m := list $l $l $l $l $l $l $l $l }}{{ $n := list $m $m $m $m $m $m $m $m }}{{ $n }}`, Plain},
		{"replace multiplying", `{{ $s := repeat 60000 "x" }}{{ replace "x" $s $s | len }}`, Plain},
		{"regexReplaceAll multiplying", `{{ $s := repeat 1000 "x" }}{{ range until 10 }}{{ $s = regexReplaceAll "x" $s "${0}${0}${0}${0}${0}${0}${0}${0}${0}${0}" }}{{ end }}{{ len $s }}`, Plain},
		{"regexReplaceAll on empty matches", `{{ $s := repeat 60000 "x" }}{{ regexReplaceAllLiteral "" $s $s | len }}`, Plain},
		{"printf widths", `{{ $f := repeat 2000 "%0999999d" }}{{ printf $f 1 | len }}`, Plain},
		{"wrapWith multiplying", `{{ $s := repeat 60000 "x" }}{{ wrapWith 1 $s $s | len }}`, Plain},
		{"recursive template", `{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}`, Plain},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm, err := Parse("bomb", c.src, c.esc, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			out, err := tm.Execute(map[string]any{})
			if !errors.Is(err, ErrBudget) && !errors.Is(err, ErrTooLarge) && !strings.Contains(fmtErr(err), "exceeded maximum template depth") {
				t.Fatalf("Execute = %q, %v; want a budget error", trunc(out), err)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<30 {
				t.Errorf("the render allocated %d MiB", grew>>20)
			}
			t.Logf("%v", err)
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// TestBudgetErrors names the limit that was hit, and an instance whose
// budget ran out renders the next message normally.
func TestBudgetErrors(t *testing.T) {
	t.Run("steps", func(t *testing.T) {
		o := testOptions()
		o.MaxSteps = 100
		tm, err := Parse("t", `{{ range until 1000 }}.{{ end }}`, Plain, o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tm.Execute(nil)
		if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "more than 100 steps") {
			t.Fatalf("err = %v", err)
		}
		tm2, _ := Parse("t", `{{ range until 50 }}.{{ end }}`, Plain, o)
		for range 3 { // the budget starts afresh on each execution
			if out, err := tm2.Execute(nil); err != nil || len(out) != 50 {
				t.Fatalf("Execute = %q, %v", out, err)
			}
		}
	})
	t.Run("memory", func(t *testing.T) {
		o := testOptions()
		o.MaxMemory = 1000
		tm, err := Parse("t", `{{ $s := repeat 600 "x" }}{{ $t := print $s $s }}{{ len $t }}`, Plain, o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tm.Execute(nil)
		if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "intermediate values would exceed 1000 bytes") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("time", func(t *testing.T) {
		o := testOptions()
		o.Timeout = time.Nanosecond
		tm, err := Parse("t", `{{ range until 1000 }}{{ sha256sum "x" }}{{ end }}`, Plain, o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tm.Execute(nil)
		if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "took longer than 1ns") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestBudgetAllowsRealTemplates: the defaults leave room for what real
// notifications do — a 10,000-iteration range, printing a large message.
func TestBudgetAllowsRealTemplates(t *testing.T) {
	fees := make([]any, 2000)
	for i := range fees {
		fees[i] = map[string]any{"code": strings.Repeat("c", 100), "amount_cents": float64(i)}
	}
	data := map[string]any{"invoice": map[string]any{"fees": fees}}
	for _, src := range []string{
		`{{ range until 10000 }}{{ end }}done`,
		`{{ range .invoice.fees }}{{ .code | upper | trunc 3 }} {{ money .amount_cents "USD" }}{{ end }}`,
		`{{ $n := 0 }}{{ range .invoice.fees }}{{ $n = add $n 1 }}{{ end }}{{ toJson .invoice | sha256sum }}`,
	} {
		o := testOptions()
		o.MaxBytes = 1 << 20
		tm, err := Parse("t", src, Plain, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tm.Execute(data); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}
