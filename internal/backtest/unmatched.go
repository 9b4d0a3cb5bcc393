package backtest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/switchboard-dev/switchboard/internal/msgjson"
	"github.com/switchboard-dev/switchboard/router"
)

// UnmatchedReport counts the messages that no rule matches, by type.
type UnmatchedReport struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Messages is how many messages were routed; Unmatched how many of
	// them no enabled rule matched.
	Messages  int `json:"messages"`
	Unmatched int `json:"unmatched"`
	// Types are the unmatched messages by webhook type, most first.
	Types []UnmatchedType `json:"types"`
}

// UnmatchedType is one webhook type of unmatched messages, with its most
// recent example (for "create a rule for this").
type UnmatchedType struct {
	Type      string    `json:"type"`
	Source    string    `json:"source"`
	Count     int       `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// ExampleID and Example are the most recent such message and its body.
	ExampleID string          `json:"example_id"`
	Example   json.RawMessage `json:"example"`
}

// maxUnmatchedTypes bounds the types an UnmatchedReport tracks; a sender
// that makes up a type per message cannot grow it without bound.
const maxUnmatchedTypes = 1000

// Unmatched routes the messages the filter selects through rs and counts
// those no rule matches (a condition that fails at run time does not
// match), by webhook type. Nothing is sent.
func Unmatched(ctx context.Context, src Messages, rs *router.Ruleset, f Filter) (*UnmatchedReport, error) {
	rep := &UnmatchedReport{From: f.From, To: f.To, Types: []UnmatchedType{}}
	byType := map[[2]string]*UnmatchedType{}
	var dec msgjson.Decoder
	reads := &router.Reads{} // matching reads only the conditions' fields
	rs.RoutingReads(reads)
	if reads.Whole {
		reads = nil
	}
	err := src.Scan(ctx, f, func(m Message) error {
		if rep.Messages%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !f.keep(m.Source, m.ReceivedAt) {
			return nil
		}
		if f.Limit > 0 && rep.Messages >= f.Limit {
			return errLimit
		}
		data, ok := dec.Object(m.Body, reads)
		if !ok {
			return nil
		}
		rm := router.Message{ID: m.ID, Source: m.Source, ReceivedAt: m.ReceivedAt, Body: m.Body, Data: data}
		typ := rm.WebhookType()
		if f.Type != "" && typ != f.Type {
			return nil
		}
		rep.Messages++
		if len(rs.Match(&rm)) > 0 {
			return nil
		}
		rep.Unmatched++
		k := [2]string{m.Source, typ}
		t := byType[k]
		if t == nil {
			if len(byType) >= maxUnmatchedTypes {
				return nil
			}
			t = &UnmatchedType{Type: typ, Source: m.Source, FirstSeen: m.ReceivedAt.UTC()}
			byType[k] = t
		}
		t.Count++
		t.LastSeen, t.ExampleID, t.Example = m.ReceivedAt.UTC(), m.ID, json.RawMessage(m.Body)
		return nil
	})
	if err != nil && !errors.Is(err, errLimit) {
		return nil, err
	}
	for _, t := range byType {
		rep.Types = append(rep.Types, *t)
	}
	slices.SortFunc(rep.Types, func(a, b UnmatchedType) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Source, b.Source))
	})
	return rep, nil
}
