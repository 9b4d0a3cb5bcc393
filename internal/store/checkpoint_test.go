package store

import (
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// TestCheckpointBesideWriter checks that the SQLite writer does not
// checkpoint in its commits and that the checkpointer runs while messages
// are stored.
func TestCheckpointBesideWriter(t *testing.T) {
	s := openT(t, Options{DataDir: t.TempDir()})
	var auto int
	if err := s.w.QueryRowContext(ctxT(t), "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Errorf("writer's wal_autocheckpoint = %d, want 0 (checkpoints run beside it)", auto)
	}
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() { enqueue(t, s, "", newDelivery("r", "c")) })
	}
	wg.Wait()
	testkit.Eventually(t, "a checkpoint after the commits", 10*time.Second, func() bool { return s.ck.runs.Load() > 0 })
	if got := countMessages(t, s); got != 200 {
		t.Errorf("messages = %d, want 200", got)
	}
}

// TestRestartDoesNotWaitOnReaders: a reader that keeps an old snapshot
// open stops the WAL from restarting; the restart then gives up at once
// (it would hold every commit back while it waited), copies what it can
// and tries again later, and succeeds once the reader is done.
func TestRestartDoesNotWaitOnReaders(t *testing.T) {
	s := openT(t, Options{DataDir: t.TempDir()})
	s.ck.restartAt = 20 // pages
	tx, err := s.r.BeginTx(ctxT(t), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRowContext(ctxT(t), "SELECT count(*) FROM messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"webhook_type":"invoice.created","notes":"` + strings.Repeat("x", 4000) + `"}`)
	more := func() {
		for range 40 {
			m := message("lago", "")
			m.Body = body
			if _, err := s.Enqueue(ctxT(t), m, "", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	more()
	// Well before the 10 s a restart used to wait for readers.
	testkit.Eventually(t, "a restart that gave up on the reader", 5*time.Second, func() bool {
		more()
		return s.ck.busyRestarts.Load() > 0
	})
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "a restart once the reader is done", 10*time.Second, func() bool {
		more()
		return s.ck.restarts.Load() > s.ck.busyRestarts.Load()
	})
}

// TestRestartAfterWriteOut: before it restarts the WAL, the checkpointer
// fsyncs the database file itself and copies what was committed
// meanwhile, so that the restart, which holds commits back, has little
// left to write; the WAL then starts again from its beginning and every
// message is still there.
func TestRestartAfterWriteOut(t *testing.T) {
	s := openT(t, Options{DataDir: t.TempDir()})
	s.ck.restartAt = 20 // pages
	body := []byte(`{"webhook_type":"invoice.created","notes":"` + strings.Repeat("x", 4000) + `"}`)
	n := 0
	more := func() {
		for range 20 {
			m := message("lago", "")
			m.Body = body
			if _, err := s.Enqueue(ctxT(t), m, "", nil); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	testkit.Eventually(t, "a WAL restart", 10*time.Second, func() bool {
		more()
		return s.ck.restarts.Load() > s.ck.busyRestarts.Load()
	})
	if syncs, restarts := s.ck.syncs.Load(), s.ck.restarts.Load(); syncs < restarts {
		t.Errorf("%d fsyncs of the database file before %d restarts, want one before each", syncs, restarts)
	}
	if got := countMessages(t, s); got != n {
		t.Errorf("messages = %d, want %d", got, n)
	}
}
