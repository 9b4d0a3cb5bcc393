package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// TestStoreFileGone: once the SQLite file is removed or replaced under a
// running store, nothing more is acknowledged and Ping (readiness) fails,
// for good: SQLite would write on to the unlinked file and lose it all at
// the next start.
func TestStoreFileGone(t *testing.T) {
	for _, tt := range []struct {
		name string
		do   func(t *testing.T, path string)
	}{
		{"removed", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced", func(t *testing.T, path string) {
			if err := os.Rename(path, path+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, Options{DataDir: dir})
			enqueue(t, s, "")
			if err := s.Ping(ctxT(t)); err != nil {
				t.Fatalf("Ping before: %v", err)
			}
			tt.do(t, filepath.Join(dir, FileName))
			_, err := s.Enqueue(ctxT(t), message("lago", ""), "", nil)
			if !errors.Is(err, ErrUnhealthy) {
				t.Fatalf("Enqueue after the file was %s: %v, want ErrUnhealthy", tt.name, err)
			}
			if err := s.Ping(ctxT(t)); !errors.Is(err, ErrUnhealthy) {
				t.Fatalf("Ping after the file was %s: %v, want ErrUnhealthy", tt.name, err)
			}
			if err := s.Health(); !errors.Is(err, ErrUnhealthy) {
				t.Fatalf("Health: %v", err)
			}
		})
	}
}

// TestStoreCorrupt: a database file overwritten with garbage makes Ping
// fail, and the store stays unhealthy.
func TestStoreCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{DataDir: dir})
	enqueue(t, s, "")
	// Move everything from the WAL into the file first: a checkpoint
	// that a reader blocks (busy) leaves pages in the WAL, where a fresh
	// connection would read them instead of the damaged file.
	testkit.Eventually(t, "a complete checkpoint", 10*time.Second, func() bool {
		var busy, log, done int
		err := s.w.QueryRowContext(ctxT(t), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &done)
		if err != nil {
			t.Fatal(err)
		}
		return busy == 0
	})
	// Overwrite the file in place (same inode): its header and first
	// pages become garbage.
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7 + 3)
	}
	if _, err := f.WriteAt(garbage, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Readers cache pages: a fresh connection sees the damage.
	s.r.SetMaxIdleConns(0)
	err = s.Ping(ctxT(t))
	t.Logf("Ping: %v", err)
	if err == nil {
		t.Fatal("Ping on a corrupt file succeeded")
	}
	if _, err := s.Enqueue(ctxT(t), message("lago", ""), "", nil); err == nil {
		t.Fatal("Enqueue on a corrupt file succeeded")
	}
	if err := s.Health(); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("Health after corruption was seen: %v, want ErrUnhealthy", err)
	}
}
