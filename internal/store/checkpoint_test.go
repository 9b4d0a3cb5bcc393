package store

import (
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
