package fatigue

import (
	"fmt"
	"testing"
)

// Every combination of facts walks the steps that apply, in order, and
// ends with Send.
func TestOrder(t *testing.T) {
	for bits := range 1 << 5 {
		f := Facts{
			Silenced:  bits&1 != 0,
			QuietDrop: bits&2 != 0,
			Throttled: bits&4 != 0,
			Grouped:   bits&8 != 0,
			QuietHold: bits&16 != 0,
		}
		var want []Step
		for _, s := range []Step{Silence, QuietDrop, Throttle, Group, Hold} {
			if f.applies(s) {
				want = append(want, s)
			}
		}
		var got []Step
		for s := First(f); s != Send; s = Next(f, s) {
			got = append(got, s)
			if len(got) > 5 {
				t.Fatalf("%+v: no end after %v", f, got)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%+v: walk %v, want %v", f, got, want)
		}
	}
}

func TestFirst(t *testing.T) {
	for _, c := range []struct {
		f    Facts
		want Step
	}{
		{Facts{}, Send},
		{Facts{Silenced: true, QuietDrop: true, Throttled: true}, Silence},
		{Facts{QuietDrop: true, Throttled: true, Grouped: true}, QuietDrop},
		{Facts{Throttled: true, Grouped: true, QuietHold: true}, Throttle},
		{Facts{Grouped: true, QuietHold: true}, Group},
		{Facts{QuietHold: true}, Hold},
	} {
		if got := First(c.f); got != c.want {
			t.Errorf("First(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
}

// TestReasonText: a reason recorded when a delivery was held back is said
// as what happened before, once a replay queued or sent it anyway; other
// reasons, and held-back deliveries still in their state, read as stored.
func TestReasonText(t *testing.T) {
	for _, tt := range []struct{ state, reason, want string }{
		{"silenced", "silenced by sil-1: offboarding", "silenced by sil-1: offboarding"},
		{"delivered", "silenced by sil-1: offboarding", "sent anyway on replay; before that: silenced by sil-1: offboarding"},
		{"pending", "throttled by r (every 6h)", "queued again on replay; before that: throttled by r (every 6h)"},
		{"delivered", "digest of 3 messages", "digest of 3 messages"},
		{"dead", "", ""},
	} {
		if got := ReasonText(tt.state, tt.reason); got != tt.want {
			t.Errorf("ReasonText(%q, %q) = %q, want %q", tt.state, tt.reason, got, tt.want)
		}
	}
}
