package store

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestHistory(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		ctx := ctxT(t)
		// Content with bytes that text columns would mangle: NUL, CRLF,
		// invalid UTF-8, trailing spaces.
		saves := []Save{
			{Author: "admin", Action: ActionCreate, Rules: []string{"big-invoice"}, Summary: `created rule "big-invoice"`,
				Version: "aaaa", Content: []byte("rules:\n  - name: big-invoice # keep\n\n")},
			{Author: "admin", Action: ActionRename, Rules: []string{"big-invoice", "huge-invoice"}, Summary: "renamed",
				Version: "bbbb", Content: []byte("rules: \r\n\x00\xff\n")},
			{Author: "", Action: ActionDelete, Rules: nil, Summary: "deleted", Version: "cccc", Content: []byte{}},
		}
		var ids []int64
		for _, sv := range saves {
			clk.Add(time.Second)
			id, err := s.RecordSave(ctx, sv)
			if err != nil {
				t.Fatalf("RecordSave: %v", err)
			}
			ids = append(ids, id)
		}
		if !(ids[0] < ids[1] && ids[1] < ids[2]) {
			t.Fatalf("ids not increasing: %v", ids)
		}
		list, err := s.History(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[1] {
			t.Fatalf("History(2) = %+v, want newest first %v, %v", list, ids[2], ids[1])
		}
		if got := list[1]; got.Action != ActionRename || got.Version != "bbbb" || got.Author != "admin" ||
			len(got.Rules) != 2 || got.Rules[1] != "huge-invoice" || got.Content != nil ||
			!got.Time.Equal(newClock().Now().Add(2*time.Second).Truncate(time.Microsecond)) {
			t.Errorf("History entry = %+v", got)
		}
		if len(list[0].Rules) != 0 || list[0].Rules == nil {
			t.Errorf("rules of a save without names = %#v, want empty list", list[0].Rules)
		}
		for i, id := range ids {
			t.Run(saves[i].Action, func(t *testing.T) {
				got, err := s.HistoryEntry(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Content, saves[i].Content) || got.Summary != saves[i].Summary {
					t.Errorf("HistoryEntry(%d) = %q %q, want %q %q", id, got.Content, got.Summary, saves[i].Content, saves[i].Summary)
				}
			})
		}
		if _, err := s.HistoryEntry(ctx, ids[2]+100); !errors.Is(err, ErrNoHistory) {
			t.Errorf("HistoryEntry(unknown) = %v, want ErrNoHistory", err)
		}
	})
}
