package ingest

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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

// TestStoreThatHangsAnswers503: a store that stops answering (here SQLite
// held locked by another process's transaction; a PostgreSQL server that
// froze does the same) gets the sender a 503 with Retry-After within
// EnqueueTimeout, never a connection closed unanswered at the server's
// write timeout; the sender's retry once the store answers again is taken
// (or is a duplicate of a commit that finished late).
func TestStoreThatHangsAnswers503(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rs := ruleset(t)
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: st, Dispatch: &recorder{}, Owner: "test",
		EnqueueTimeout: 300 * time.Millisecond})

	other, err := sql.Open("sqlite", filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}

	const body = `{"webhook_type":"invoice.created","invoice":{"number":"INV-1"}}`
	headers := map[string]string{"X-Lago-Signature": sign(body), "X-Lago-Signature-Algorithm": "hmac", "X-Lago-Unique-Key": "hang-1"}
	start := time.Now()
	w := serve(h, "POST", "/webhooks/lago", body, headers)
	if took := time.Since(start); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || took > 5*time.Second {
		t.Fatalf("with the store locked: %d (Retry-After %q) after %s, want 503 with Retry-After within the enqueue timeout",
			w.Code, w.Header().Get("Retry-After"), took)
	}

	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the retry to be taken", 15*time.Second, func() bool {
		w = serve(h, "POST", "/webhooks/lago", body, headers)
		return w.Code == http.StatusAccepted || w.Code == http.StatusOK
	})
	msgs, err := st.RecentMessages(context.Background(), 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("stored messages: %d, %v; want the one message once", len(msgs), err)
	}
}
