package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// SQLite's WAL is copied back into the database file by checkpoints. By
// default the connection that commits runs one whenever the WAL passes
// 1,000 pages, inside the commit, so that every so often a group of
// Enqueue callers waits for the copy and the database file's fsync. The
// writer here has automatic checkpoints off; a checkpointer goroutine with
// its own connection runs them beside the writer instead.
//
// A PASSIVE checkpoint fsyncs the database file only when it has copied
// the WAL to its very end, which under steady writes it never has: the
// pages it copies stay dirty in the page cache until the next RESTART
// checkpoint, whose fsync then writes them all out while it holds every
// commit back (60–110 ms under the bench's load, about once a second). So
// the checkpointer starts the write-out of what each PASSIVE checkpoint
// copied (Linux; a hint that waits for nothing), and before a restart it
// fsyncs the database file and copies what was committed meanwhile, all
// outside SQLite's locks: the restart then has little left to copy and to
// write. Under the bench's load the longest commit went from 70–110 ms to
// 20–35 ms.
const (
	// checkpointEvery is how often, at most, the checkpointer runs while
	// the writer commits: rarely enough that a page rewritten by many
	// commits (the tail of a table or an index) is copied once for all of
	// them, which is what keeps checkpoints no dearer than before.
	checkpointEvery = 250 * time.Millisecond
	// restartFrames is the WAL length (pages) above which a checkpoint
	// also restarts the WAL. A PASSIVE checkpoint never waits for the
	// writer, so under steady writes the WAL is never all copied and
	// would only grow; a RESTART checkpoint holds new commits back while it
	// copies what the PASSIVE one left (little) and waits for readers, and
	// lets the next commit write the WAL from its start. Each restart is a
	// pause for ingest: at 32 MiB they came about once a second under the
	// bench's load and set its p99 (43–45 ms); at 64 MiB, 33–36 ms, and
	// 31–34 ms with restartWait. 16,384 pages is 64 MiB of WAL file at
	// most, in normal running.
	restartFrames = 16384
	// restartWait bounds how long a restart waits for the writer and for
	// readers while new commits wait for it; a restart that cannot finish
	// in time copies what it can, like a PASSIVE one, and the next round
	// tries again. Past maxFrames it waits up to longRestartWait: the WAL
	// must not grow without bound behind readers that never pause, but a
	// commit must never wait out the writer's busy timeout (10 s) either.
	restartWait     = 10 * time.Millisecond
	longRestartWait = time.Second
	maxFrames       = 4 * restartFrames
)

// checkpointer runs WAL checkpoints on its own connection.
type checkpointer struct {
	db *sql.DB
	// file is the database file at path, opened by the first checkpoint
	// to write out what checkpoints copy.
	path string
	file *os.File
	// copied is the WAL frames the last PASSIVE checkpoint reported
	// copied.
	copied int64
	kick   chan struct{} // the writer committed (capacity 1)
	stop   chan struct{}
	done   chan struct{}
	// note receives the error of a failed checkpoint (health).
	note func(error)
	// syncs counts the fsyncs of the database file by the checkpointer.
	syncs atomic.Int64
	// restartAt and maxFrames are restartFrames and maxFrames (tests
	// lower them).
	restartAt, maxFrames int64
	// runs counts the checkpoints run, restarts those that tried to
	// restart the WAL and busyRestarts those of them that could not wait
	// long enough to.
	runs, restarts, busyRestarts atomic.Int64
}

func newCheckpointer(path string, note func(error)) (*checkpointer, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	c := &checkpointer{db: db, path: path, kick: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{}), note: note, restartAt: restartFrames, maxFrames: maxFrames}
	go c.run()
	return c, nil
}

// committed tells the checkpointer that the WAL grew; it never blocks.
func (c *checkpointer) committed() {
	if c == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	var last time.Time
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			return
		}
		if wait := checkpointEvery - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.stop:
				t.Stop()
				return
			}
		}
		c.checkpoint()
		last = time.Now()
	}
}

// checkpoint copies the WAL into the database without waiting for the
// writer, then restarts the WAL if it has grown past restartFrames.
func (c *checkpointer) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var busy, frames, copied int64
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	c.runs.Add(1)
	if err == nil && copied != c.copied {
		// Pages were copied, or the WAL restarted since.
		c.copied = copied
		err = c.openFile()
		if err == nil {
			startWriteback(c.file)
		}
	}
	if err == nil && frames >= c.restartAt {
		// Write out what the PASSIVE checkpoints copied while commits go
		// on, and copy what was committed meanwhile, so that the restart
		// has little to copy and to fsync while it holds commits back.
		if err = c.file.Sync(); err == nil {
			c.syncs.Add(1)
			err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
			c.copied = copied
		}
	}
	if err == nil && frames >= c.restartAt {
		err = c.restart(ctx, frames)
	}
	if err != nil {
		// The WAL keeps every commit; the next checkpoint tries again.
		c.note(err)
	}
}

// openFile opens the database file once, for fsyncs.
func (c *checkpointer) openFile() error {
	if c.file != nil {
		return nil
	}
	f, err := os.Open(c.path)
	if err != nil {
		return err
	}
	c.file = f
	return nil
}

// restart runs a RESTART checkpoint on the WAL of frames pages, waiting
// at most restartWait for the writer and readers (longRestartWait past
// maxFrames).
func (c *checkpointer) restart(ctx context.Context, frames int64) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	wait := restartWait
	if frames >= c.maxFrames {
		wait = longRestartWait
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", wait.Milliseconds())); err != nil {
		return err
	}
	var busy, copied int64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &copied); err != nil {
		return err
	}
	c.restarts.Add(1)
	if busy != 0 {
		c.busyRestarts.Add(1)
	}
	return nil
}

// close stops the checkpointer and closes its connection. The writer's
// connection, closed last, checkpoints what is left.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	select {
	case <-c.stop:
		return nil
	default:
	}
	close(c.stop)
	<-c.done
	err := c.db.Close()
	if c.file != nil {
		err = errors.Join(err, c.file.Close())
	}
	return err
}
