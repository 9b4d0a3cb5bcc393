package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// maxShape is the most rows one batch statement writes: a power of two,
// well under both databases' limits on bound parameters (SQLite 32766,
// PostgreSQL 65535) with the widest row (18 columns).
const maxShape = 256

// shapes splits n rows into statement sizes that are powers of two, at
// most maxShape, largest first: 300 → 256, 32, 8, 4. Multi-row statements
// then come in a handful of fixed shapes, each parsed once and kept
// prepared, instead of one text per batch size that the database parses
// on every call.
func shapes(n int) []int {
	var out []int
	for n >= maxShape {
		out = append(out, maxShape)
		n -= maxShape
	}
	for n > 0 {
		size := 1 << (bits.Len(uint(n)) - 1)
		out = append(out, size)
		n -= size
	}
	return out
}

// padShape is the smallest power of two ≥ n (at most maxShape): the shape
// of an "IN (…)" list, which repeats its last ID to fill it.
func padShape(n int) int {
	if n <= 1 {
		return 1
	}
	return min(1<<bits.Len(uint(n-1)), maxShape)
}

// stmtKey names a prepared statement: what it does and how many rows.
type stmtKey struct {
	name string
	rows int
}

// stmtCache keeps the writer's prepared statements, one per statement and
// shape. Statements are prepared outside transactions (on SQLite the
// writer has one connection, which a transaction holds), then bound to a
// transaction with Tx.StmtContext, which reuses the connection's prepared
// form.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[stmtKey]*sql.Stmt
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[stmtKey]*sql.Stmt)}
}

// prepare makes sure every shape up to upTo rows (powers of two, at most
// maxShape) of the statement name is prepared; build returns its text for
// a number of rows. Call it before the transaction that uses them.
func (c *stmtCache) prepare(ctx context.Context, name string, upTo int, build func(rows int) string) error {
	top := padShape(upTo)
	for rows := 1; rows <= top; rows *= 2 {
		k := stmtKey{name, rows}
		c.mu.Lock()
		have, closed := c.m[k] != nil, c.closed
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if have {
			continue
		}
		// Not under c.mu: preparing waits for a connection, which a
		// transaction looking up its statements may hold.
		st, err := c.db.PrepareContext(ctx, build(rows))
		if err != nil {
			return fmt.Errorf("prepare %s (%d rows): %w", name, rows, err)
		}
		c.mu.Lock()
		if c.m[k] != nil || c.closed {
			st.Close()
		} else {
			c.m[k] = st
		}
		c.mu.Unlock()
	}
	return nil
}

// in returns the prepared statement name for rows, bound to tx. prepare
// must have covered rows.
func (c *stmtCache) in(ctx context.Context, tx *sql.Tx, name string, rows int) (*sql.Stmt, error) {
	c.mu.Lock()
	st := c.m[stmtKey{name, rows}]
	c.mu.Unlock()
	if st == nil {
		return nil, fmt.Errorf("statement %s (%d rows) is not prepared", name, rows)
	}
	return tx.StmtContext(ctx, st), nil
}

// close closes every statement; later prepare calls fail.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var err error
	for k, st := range c.m {
		err = errors.Join(err, st.Close())
		delete(c.m, k)
	}
	return err
}
