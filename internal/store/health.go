package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
)

// ErrUnhealthy wraps every problem Health reports: the store cannot keep
// what it is given, so ingest must not acknowledge anything.
var ErrUnhealthy = errors.New("store unhealthy")

// MinFreeBytes is the free space below which a SQLite store's disk counts
// as full: a group commit of large messages needs a few megabytes.
const MinFreeBytes = 16 << 20

// SQLite primary result codes that mean the database file cannot be
// trusted any more.
const (
	sqliteCorrupt = 11
	sqliteNotADB  = 26
)

// dbFile is what a SQLite store knows of its file, to notice it removed
// or replaced while the process holds it open: SQLite would go on writing
// to the unlinked file, and everything acknowledged would be lost at the
// next start.
type dbFile struct {
	path string
	info os.FileInfo
}

func (s *Store) recordFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	s.file = &dbFile{path: path, info: fi}
	return nil
}

// Health reports, without a query, whether the store can keep what it is
// given: on SQLite, that its file is still the one opened (not removed or
// replaced), that no corruption was seen, and that its disk has
// MinFreeBytes free. Removal, replacement and corruption stay reported
// until a restart. On PostgreSQL, the server answers for its own disk
// and Health reports only corruption seen.
func (s *Store) Health() error {
	if p := s.broken.Load(); p != nil {
		return *p
	}
	if s.file == nil {
		return nil
	}
	if err := s.checkFile(); err != nil {
		return err
	}
	if free, ok := freeBytes(filepath.Dir(s.file.path)); ok && free < MinFreeBytes {
		return fmt.Errorf("%w: %d bytes free on the disk of %s, want at least %d", ErrUnhealthy, free, s.file.path, MinFreeBytes)
	}
	return nil
}

// checkFile fails, for good, once the database file is missing or another
// file: SQLite keeps writing to the file it opened.
func (s *Store) checkFile() error {
	if s.file == nil {
		return nil
	}
	if p := s.broken.Load(); p != nil {
		return *p
	}
	fi, err := os.Stat(s.file.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s.breakDown(fmt.Errorf("%w: database file %s was removed; restart to open a new one", ErrUnhealthy, s.file.path))
	case err != nil:
		return fmt.Errorf("%w: stat %s: %w", ErrUnhealthy, s.file.path, err)
	case !os.SameFile(fi, s.file.info):
		return s.breakDown(fmt.Errorf("%w: database file %s was replaced; restart to open it", ErrUnhealthy, s.file.path))
	}
	return nil
}

// noteErr marks the store broken when err says its file is corrupt.
func (s *Store) noteErr(err error) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		if c := se.Code() & 0xff; c == sqliteCorrupt || c == sqliteNotADB {
			s.breakDown(fmt.Errorf("%w: database is corrupt: %w", ErrUnhealthy, err))
		}
	}
}

// breakDown records err as the store's lasting problem (the first one
// wins) and returns it.
func (s *Store) breakDown(err error) error {
	if s.broken.CompareAndSwap(nil, &err) {
		return err
	}
	return *s.broken.Load()
}
