package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpg"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// pg is one PostgreSQL server shared by the package's tests, each test
// getting its own database.
var pg testpg.Shared

func TestMain(m *testing.M) { testkit.Main(m, &pg) }

// eachBackend runs test against SQLite and PostgreSQL, handing it Options
// that locate a fresh, empty database.
func eachBackend(t *testing.T, test func(t *testing.T, base Options)) {
	t.Helper()
	backends := []struct {
		name string
		opts func(t *testing.T) Options
	}{
		{name: "sqlite", opts: func(t *testing.T) Options { return Options{DataDir: t.TempDir()} }},
		{name: "postgres", opts: func(t *testing.T) Options { return Options{DatabaseURL: pg.DSN(t)} }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.opts(t)) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openT(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(ctxT(t), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// newClock is a settable clock for Options.Now.
func newClock() *testclock.Clock {
	return testclock.New(time.Date(2025, 3, 14, 9, 26, 53, 589_793_000, time.UTC))
}

var seq atomic.Int64

// id returns a unique ID with a readable prefix.
func id(prefix string) string { return fmt.Sprintf("%s_%06d", prefix, seq.Add(1)) }

func message(source, key string) Message {
	return Message{
		ID: id("msg"), Source: source, Key: key, WebhookType: "invoice.created", RulesVersion: "v1",
		Body: []byte(`{"webhook_type":"invoice.created","invoice":{"number":"INV-0001"}}`),
	}
}

func newDelivery(rule, channel string) RoutedDelivery {
	return RoutedDelivery{Notification: notifiers.Notification{
		ID: id("dlv"), Rule: rule, Channel: channel,
		Parts: notifiers.Parts{Text: "Invoice INV-0001 for *Acme*", Body: `{"n":1}`},
	}}
}

// enqueue stores one message with the given deliveries and fails the test
// on error or duplicate.
func enqueue(t *testing.T, s *Store, owner string, ds ...RoutedDelivery) Message {
	t.Helper()
	m := message("lago", "")
	for i := range ds {
		ds[i].MessageID = m.ID
	}
	dup, err := s.Enqueue(ctxT(t), m, owner, ds)
	if err != nil || dup {
		t.Fatalf("Enqueue = dup %v, %v", dup, err)
	}
	return m
}

func get(t *testing.T, s *Store, id string) (StoredDelivery, []Attempt) {
	t.Helper()
	d, as, err := s.Get(ctxT(t), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return d, as
}

func wantState(t *testing.T, s *Store, id, state string) StoredDelivery {
	t.Helper()
	d, _ := get(t, s, id)
	if d.State != state {
		t.Fatalf("delivery %s is %s, want %s (last error %q)", id, d.State, state, d.LastError)
	}
	return d
}

func countMessages(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(ctxT(t), "SELECT count(*) FROM messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func countDeliveries(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(ctxT(t), "SELECT count(*) FROM deliveries").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
