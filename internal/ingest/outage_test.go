package ingest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/router"
)

// TestClientGoneDuringCommitIsStored: a sender that hangs up while its
// message waits for the group commit does not lose the message, its
// deliveries still reach the workers, and the log does not claim the
// store failed.
func TestClientGoneDuringCommitIsStored(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir(), BatchWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rec := &recorder{}
	logs := &testkit.LogBuffer{}
	rs := ruleset(t)
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: st, Dispatch: rec, Owner: "test",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/webhooks/small", strings.NewReader(`{"a":1}`))
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}", h)
	done := make(chan struct{})
	go func() {
		defer close(done)
		mux.ServeHTTP(httptest.NewRecorder(), req)
	}()
	time.Sleep(20 * time.Millisecond) // the message now waits for its batch
	cancel()
	<-done

	msgs, err := st.RecentMessages(context.Background(), 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("stored messages: %d, %v", len(msgs), err)
	}
	if rec.submits != 1 {
		t.Errorf("%d deliveries handed to the workers, want 1", rec.submits)
	}
	if strings.Contains(logs.String(), "cannot store message") {
		t.Errorf("a stored message was logged as not stored:\n%s", logs.String())
	}
}

// holdingRecorder says every channel is held, as the dispatcher does for
// a channel whose breaker is open.
type holdingRecorder struct{ recorder }

func (*holdingRecorder) HoldUntil(string) (time.Time, bool) { return store.Parked, true }

// TestHeldChannelIsNotLeased: deliveries to a channel that takes nothing
// now are stored waiting (not leased, not handed to the workers).
func TestHeldChannelIsNotLeased(t *testing.T) {
	rec := &holdingRecorder{}
	rs := ruleset(t)
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: rec, Dispatch: rec, Owner: "test"})
	if w := serve(h, "POST", "/webhooks/small", `{"a":1}`, nil); w.Code != 202 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	ds := rec.dels[0]
	if len(ds) != 1 || !ds[0].LeaseUntil.IsZero() || !ds[0].NotBefore.Equal(store.Parked) {
		t.Fatalf("deliveries %+v", ds)
	}
	if rec.submits != 0 {
		t.Fatalf("%d submitted", rec.submits)
	}
}
