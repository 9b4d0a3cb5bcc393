package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestExpandID: the start of an ID names it when it is unique, an exact ID
// wins, an ambiguous start is refused with the IDs it could mean, and
// LIKE's wildcards are never wildcards.
func TestExpandID(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		var ids []string
		for i := 0; i < 3; i++ {
			sl, err := s.AddSilence(ctxT(t), Silence{Rule: "r", Reason: "x", EndsAt: clk.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, sl.ID)
		}
		// The last characters of a UUIDv7 are random: each ID minus its
		// last 4 is almost surely unique among three.
		for _, id := range ids {
			got, err := s.ExpandID(ctxT(t), SilenceIDs, id[:len(id)-4]+"…")
			if err != nil || got != id {
				t.Errorf("ExpandID(%s…) = %q, %v; want %s", id[:len(id)-4], got, err, id)
			}
			if got, err := s.ExpandID(ctxT(t), SilenceIDs, id); err != nil || got != id {
				t.Errorf("ExpandID(%s) = %q, %v", id, got, err)
			}
		}
		_, err := s.ExpandID(ctxT(t), SilenceIDs, "sil-")
		var amb *AmbiguousIDError
		if !errors.As(err, &amb) || len(amb.Matches) != 3 || !strings.Contains(err.Error(), `"sil-" is ambiguous`) {
			t.Errorf("ExpandID(sil-) = %v", err)
		}
		for _, p := range []string{"sil-%", "sil-_", "", "nope", "…"} {
			if _, err := s.ExpandID(ctxT(t), SilenceIDs, p); !errors.Is(err, ErrSilenceNotFound) {
				t.Errorf("ExpandID(%q) = %v, want ErrSilenceNotFound", p, err)
			}
		}
		if _, err := s.ExpandID(ctxT(t), DeliveryIDs, "0"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a delivery ID in an empty table: %v", err)
		}
		if _, err := s.ExpandID(ctxT(t), "messages; DROP TABLE x", "0"); err == nil {
			t.Error("an unknown kind was accepted")
		}
	})
}
