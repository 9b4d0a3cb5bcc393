package backtest

import (
	"context"

	"github.com/switchboard-dev/switchboard/internal/store"
)

// Stored reads messages from a store opened read-only.
type Stored struct {
	R *store.Reader
}

// Scan implements Messages.
func (s Stored) Scan(ctx context.Context, f Filter, fn func(Message) error) error {
	q := store.MessageQuery{From: f.From, To: f.To, Source: f.Source, WebhookType: f.Type}
	return s.R.Messages(ctx, q, func(m store.Message) error {
		return fn(Message{ID: m.ID, Source: m.Source, ReceivedAt: m.ReceivedAt, Body: m.Body})
	})
}
