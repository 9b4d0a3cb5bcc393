package store

import (
	"strings"
	"testing"
	"time"
)

// A delivery whose request body is the message as received stores no copy
// of it: its parts leave the body out, and every read (Get, List, Claim)
// takes it from the message.
func TestMessageBodyStoredOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		m := message("lago", "")
		asIs := newDelivery("r", "http-as-is")
		asIs.Parts.Body = string(m.Body)
		rendered := newDelivery("r", "http-rendered") // its own body, `{"n":1}`
		for _, d := range []*RoutedDelivery{&asIs, &rendered} {
			d.MessageID = m.ID
		}
		if dup, err := s.Enqueue(ctxT(t), m, "", []RoutedDelivery{asIs, rendered}); err != nil || dup {
			t.Fatalf("Enqueue = dup %v, %v", dup, err)
		}

		var parts string
		var flag int
		q := "SELECT parts, body_is_message FROM deliveries WHERE id = $1"
		if err := s.r.QueryRowContext(ctxT(t), q, asIs.ID).Scan(&parts, &flag); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(parts, `"body"`) || flag != 1 {
			t.Errorf("as-is delivery stored parts %s, body_is_message %d; want the body left out and 1", parts, flag)
		}
		if err := s.r.QueryRowContext(ctxT(t), q, rendered.ID).Scan(&parts, &flag); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(parts, `{\"n\":1}`) || flag != 0 {
			t.Errorf("rendered delivery stored parts %s, body_is_message %d; want its own body and 0", parts, flag)
		}

		for _, tt := range []struct {
			d    RoutedDelivery
			want string
		}{{asIs, string(m.Body)}, {rendered, `{"n":1}`}} {
			if d, _ := get(t, s, tt.d.ID); d.Parts.Body != tt.want || d.Parts.Text != tt.d.Parts.Text {
				t.Errorf("Get(%s) parts %+v, want body %s", tt.d.ID, d.Parts, tt.want)
			}
		}
		ds, err := s.Claim(ctxT(t), "replica-a", clk.Now(), time.Minute, 10)
		if err != nil || len(ds) != 2 {
			t.Fatalf("Claim = %d deliveries, %v", len(ds), err)
		}
		for _, d := range ds {
			want := `{"n":1}`
			if d.ID == asIs.ID {
				want = string(m.Body)
			}
			if d.Parts.Body != want {
				t.Errorf("claimed %s with body %q, want %q", d.ID, d.Parts.Body, want)
			}
		}
	})
}
