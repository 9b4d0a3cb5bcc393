package rulesfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrLocked is returned by Lock when another writer held the lock for
// longer than the caller was willing to wait.
var ErrLocked = errors.New("the rules file is being saved by another writer")

// FileLock is an exclusive lock on a rules file, shared by every process
// that edits it (replicas of the server on one volume): an advisory
// flock(2) on a hidden lock file beside it, ".<name>.lock". The lock file
// is never removed, so every writer locks the same inode.
type FileLock struct {
	f *os.File
}

// Lock takes the lock of the rules file at path, waiting until ctx ends.
// The kernel releases it if the process dies.
func Lock(ctx context.Context, path string) (*FileLock, error) {
	name := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, readOnly(fmt.Errorf("open lock file: %w", err))
	}
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &FileLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock rules file: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ErrLocked
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// Unlock releases the lock. It is safe to call more than once.
func (l *FileLock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
