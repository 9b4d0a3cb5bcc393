package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// readerPage is how many messages Reader.Messages reads per query.
const readerPage = 500

// Reader reads stored messages without writing anything: the SQLite file
// is opened read-only (mode=ro, query_only), PostgreSQL sessions are
// read-only (default_transaction_read_only), nothing is migrated and no
// writer runs. Backtests read through it, so a running server is never
// disturbed beyond the reads.
type Reader struct {
	db      *sql.DB
	dialect dialect
	shared  bool // the connections belong to a Store
}

// OpenReader opens the store o names for reading only. The store must
// exist (a SQLite file is never created).
func OpenReader(ctx context.Context, o Options) (*Reader, error) {
	r := &Reader{}
	switch {
	case o.DatabaseURL != "":
		if !strings.HasPrefix(o.DatabaseURL, "postgres://") && !strings.HasPrefix(o.DatabaseURL, "postgresql://") {
			return nil, errors.New("database URL must start with postgres:// or postgresql://")
		}
		sep := "?"
		if strings.Contains(o.DatabaseURL, "?") {
			sep = "&"
		}
		db, err := sql.Open("pgx", o.DatabaseURL+sep+"default_transaction_read_only=on")
		if err != nil {
			return nil, errors.New("database URL is not a valid PostgreSQL connection URL")
		}
		db.SetMaxOpenConns(2)
		r.db, r.dialect = db, postgresDialect
	case o.DataDir != "":
		path := filepath.Join(o.DataDir, FileName)
		if strings.ContainsAny(path, "?#") {
			return nil, fmt.Errorf("data directory %q: ? and # are not supported in the path", o.DataDir)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no store at %s: %w", path, err)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		db, err := sql.Open("sqlite", "file:"+abs+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		db.SetMaxOpenConns(1)
		r.db, r.dialect = db, sqliteDialect
	default:
		return nil, errors.New("no data directory and no database URL")
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	var n int
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		r.db.Close()
		return nil, fmt.Errorf("read %s store: %w", r.dialect, err)
	}
	return r, nil
}

// Close closes the Reader.
func (r *Reader) Close() error {
	if r.shared {
		return nil
	}
	return r.db.Close()
}

// MessageQuery selects stored messages.
type MessageQuery struct {
	// From and To bound received_at: From <= t < To. Zero: unbounded.
	From, To time.Time
	// Source and WebhookType, if set, select on those columns.
	Source, WebhookType string
}

// Messages calls fn with every stored message the query selects, oldest
// first (by receive time, then ID), with its body. It reads a page at a
// time, so memory does not grow with the number of messages, and stops at
// the first error fn returns.
func (r *Reader) Messages(ctx context.Context, q MessageQuery, fn func(Message) error) error {
	from, to := int64(-1<<62), int64(1<<62)
	if !q.From.IsZero() {
		from = micros(q.From)
	}
	if !q.To.IsZero() {
		to = micros(q.To)
	}
	lastAt, lastID := from, ""
	first := true
	for {
		// Keyset pagination on (received_at, id): the messages_received
		// index serves the range.
		rows, err := r.db.QueryContext(ctx, `SELECT id, source, idem_key, received_at, webhook_type, rules_version, body
			FROM messages
			WHERE received_at >= $1 AND received_at < $2
			AND (received_at > $1 OR id > $3 OR $4)
			AND ($5 = '' OR source = $5) AND ($6 = '' OR webhook_type = $6)
			ORDER BY received_at, id LIMIT $7`,
			lastAt, to, lastID, first, q.Source, q.WebhookType, readerPage)
		if err != nil {
			return fmt.Errorf("read messages: %w", err)
		}
		n := 0
		for rows.Next() {
			var m Message
			var key sql.NullString
			var rx int64
			if err := rows.Scan(&m.ID, &m.Source, &key, &rx, &m.WebhookType, &m.RulesVersion, &m.Body); err != nil {
				rows.Close()
				return fmt.Errorf("read messages: %w", err)
			}
			m.Key, m.ReceivedAt = key.String, fromMicros(rx)
			lastAt, lastID = rx, m.ID
			n++
			if err := fn(m); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("read messages: %w", err)
		}
		if n < readerPage {
			return nil
		}
		first = false
	}
}

// Count returns the number of rows of a table, for checks that a reader
// changed nothing. table must be one of the store's tables.
func (r *Reader) Count(ctx context.Context, table string) (int, error) {
	switch table {
	case "messages", "deliveries", "attempts", "throttles", "digest_groups", "schema_migrations", "silences", "channel_breakers", "config_history":
	default:
		return 0, fmt.Errorf("unknown table %q", table)
	}
	var n int
	err := r.db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// MessageReader returns a Reader over the store's read connections, for
// a server's own backtests. Its Close does nothing: the store owns the
// connections.
func (s *Store) MessageReader() *Reader {
	return &Reader{db: s.r, dialect: s.dialect, shared: true}
}

// SetMessageRetention sets how long Sweep keeps messages after receipt
// (the rules file's retention.messages); zero or less restores the
// default. Safe to call while the store runs.
func (s *Store) SetMessageRetention(d time.Duration) {
	if d <= 0 {
		d = s.o.Retention.Messages
	}
	s.keepMessages.Store(int64(d))
}

// messageRetention is the retention Sweep applies to messages.
func (s *Store) messageRetention() time.Duration {
	if d := s.keepMessages.Load(); d > 0 {
		return time.Duration(d)
	}
	return s.o.Retention.Messages
}
