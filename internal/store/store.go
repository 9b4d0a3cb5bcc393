package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// Drivers: "pgx" for PostgreSQL, "sqlite" for SQLite.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Delivery states.
const (
	// StatePending deliveries wait for NextAttemptAt, then any replica may
	// claim them.
	StatePending = "pending"
	// StateInFlight deliveries are leased to one replica (LeaseOwner) until
	// LeaseUntil.
	StateInFlight = "in_flight"
	// StateDelivered deliveries were accepted by their channel's peer.
	StateDelivered = "delivered"
	// StateDead deliveries failed for good; Replay requeues them.
	StateDead = "dead"

	// Alert-fatigue states. Held and grouped deliveries wait; the others
	// are final and were never sent. Reason says why.

	// StateHeld deliveries wait for the end of quiet hours
	// (NextAttemptAt), then are claimed like pending ones.
	StateHeld = "held"
	// StateGrouped deliveries wait in a digest group (GroupID).
	StateGrouped = "grouped"
	// StateDigested deliveries went out inside a digest.
	StateDigested = "digested"
	// StateSuppressed deliveries were throttled.
	StateSuppressed = "suppressed"
	// StateSilenced deliveries matched a silence.
	StateSilenced = "silenced"
	// StateDropped deliveries fell in quiet hours with during_quiet: drop.
	StateDropped = "dropped"
	// StateCollapsed deliveries were folded into a pacing summary.
	StateCollapsed = "collapsed"
	// StateDryRun deliveries were rendered and logged by a server running
	// with --dry-run, never sent.
	StateDryRun = "dry_run"
)

// States lists every delivery state, live ones first.
var States = []string{
	StatePending, StateInFlight, StateHeld, StateGrouped, StateDelivered, StateDead,
	StateDigested, StateSuppressed, StateSilenced, StateDropped, StateCollapsed, StateDryRun,
}

// ValidState reports whether s is a delivery state.
func ValidState(s string) bool {
	for _, x := range States {
		if s == x {
			return true
		}
	}
	return false
}

// Results a delivery worker reports in an Outcome.
const (
	// ResultDelivered means the peer accepted the delivery.
	ResultDelivered = "delivered"
	// ResultRetry means try again at Outcome.RetryAt.
	ResultRetry = "retry"
	// ResultDead means give up: the delivery becomes a dead letter.
	ResultDead = "dead"
	// ResultDryRun means the delivery was logged, not sent (--dry-run).
	ResultDryRun = "dry_run"
)

// FileName is the SQLite database's file name inside Options.DataDir.
const FileName = "switchboard.db"

// Defaults for Options.
const (
	// DefaultBatchWait is how long a group commit waits for company.
	// Chosen from BenchmarkGroupCommitSweep with 50 concurrent callers:
	// 0.2–1 ms gave the most messages/s and the lowest p99; 2 ms and more
	// only added latency, and no wait at all made batches too small.
	DefaultBatchWait = 500 * time.Microsecond
	// DefaultBatchSize is the most messages in one group commit.
	DefaultBatchSize = 256
)

// Default retention periods (see Retention).
const (
	// DefaultKeepDelivered is how long delivered deliveries are kept.
	DefaultKeepDelivered = 7 * 24 * time.Hour
	// DefaultKeepDead is how long dead letters are kept.
	DefaultKeepDead = 30 * 24 * time.Hour
	// DefaultKeepMessages is the idempotency window: the least time a
	// message is kept.
	DefaultKeepMessages = 7 * 24 * time.Hour
)

// ErrNotFound is returned by Get for an unknown delivery ID.
var ErrNotFound = errors.New("delivery not found")

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("store closed")

// commitTimeout bounds one group-commit transaction, which runs on its own
// context: it serves many callers at once.
const commitTimeout = 30 * time.Second

// openTimeout bounds connecting and migrating at Open.
const openTimeout = 60 * time.Second

// Options configure Open.
type Options struct {
	// DataDir holds the SQLite database (DataDir/switchboard.db). It is
	// created with mode 0700 if missing. Ignored when DatabaseURL is set.
	DataDir string
	// DatabaseURL, a postgres:// or postgresql:// URL, selects PostgreSQL
	// and wins over DataDir. It carries credentials: errors never repeat
	// it, but callers should scrub errors from Open all the same.
	DatabaseURL string
	// BatchWait is how long the group-commit writer waits for more messages
	// after the first one of a batch arrives (default 0.5 ms; negative: do
	// not wait, commit what is queued).
	BatchWait time.Duration
	// BatchSize is the most messages committed in one transaction (default
	// 256).
	BatchSize int
	// Retention says how long finished deliveries and messages are kept.
	Retention Retention
	// Metrics, if not nil, receives ingest_batch_size and
	// commit_duration_seconds.
	Metrics *metrics.Metrics
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Retention says how long Sweep keeps finished rows. Zero fields take the
// defaults.
type Retention struct {
	// Delivered deliveries are deleted this long after delivery (7 days).
	Delivered time.Duration
	// Dead deliveries are deleted this long after they died (30 days).
	Dead time.Duration
	// Messages are kept at least this long after receipt, and as long as a
	// delivery refers to them (7 days). This is the idempotency window.
	Messages time.Duration
}

// Message is one accepted webhook. It is immutable once stored.
type Message struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	// Key is the idempotency key (X-Lago-Unique-Key, a configured header,
	// webhook-id). Empty: the message is never deduplicated.
	Key          string    `json:"key,omitempty"`
	WebhookType  string    `json:"webhook_type"`
	RulesVersion string    `json:"rules_version"`
	ReceivedAt   time.Time `json:"received_at"`
	Body         []byte    `json:"-"`
	// BodyHash, if not empty, is unique per Source as Key is: a message
	// whose Source and BodyHash are already stored is a duplicate. Ingest
	// sets it (hex SHA-256 of Body) for sources whose signature covers the
	// body but no message ID or time, so a replayed request is dropped
	// whatever key it carries.
	BodyHash string `json:"-"`
}

// RoutedDelivery is a delivery as routing produced it, to insert with its
// message.
type RoutedDelivery struct {
	notifiers.Notification
	// LeaseUntil, if set, inserts the delivery already leased (in_flight)
	// to the owner given to Enqueue, for that replica's workers to send at
	// once. Zero inserts it pending, for any replica's poller.
	LeaseUntil time.Time
	// NotBefore, if set (and LeaseUntil is not), inserts the delivery
	// pending but not due before then: Parked while its channel's breaker
	// is open, the end of a pause while its channel is paused.
	NotBefore time.Time
	// DeadError, if not empty, inserts the delivery dead at once with this
	// error (a template that failed to render). It can be replayed.
	DeadError string

	// Preset, if not empty, is a state decided at routing: StateSilenced
	// or StateDropped (final), or StateHeld (due at HoldUntil unless the
	// throttle suppresses it or it is grouped). Reason says why.
	Preset    string
	Reason    string
	HoldUntil time.Time
	// Throttle and Group, if set, are decided in the commit transaction
	// against the state shared by every replica.
	Throttle *ThrottleSpec
	Group    *GroupSpec
	// Conversation, if set, is decided in the commit transaction against
	// the conversation's shared state (see ConversationSpec).
	Conversation *ConversationSpec

	// Decided and DecidedReason are filled in by Enqueue: the state the
	// delivery was stored in and why.
	Decided       string
	DecidedReason string
	groupID       string
}

// ThrottleSpec lets at most one delivery per (rule, Key) through per
// window of Every.
type ThrottleSpec struct {
	Key   string
	Every time.Duration
	// Rerender, if set, renders the delivery again with the number of
	// matches suppressed since the last one that went out, when that is
	// not zero.
	Rerender func(suppressed int) (notifiers.Parts, error)
}

// GroupSpec puts the delivery in the digest group (rule, Key, channel):
// a new group is due Wait from now, and never sooner than Interval after
// the group's previous digest.
type GroupSpec struct {
	Key      string
	Wait     time.Duration
	Interval time.Duration
}

// StoredDelivery is a stored delivery, as the queue and the delivery log see it.
type StoredDelivery struct {
	notifiers.Notification
	// State is one of StatePending, StateInFlight, StateDelivered,
	// StateDead.
	State string `json:"state"`
	// Attempts counts every send attempt, across replays.
	Attempts int `json:"attempts"`
	// QueuedAt is when the delivery was created or last replayed, and
	// QueuedAttempts the value of Attempts then: the retry bounds (max_age,
	// max_attempts) count from them.
	QueuedAt       time.Time `json:"queued_at"`
	QueuedAttempts int       `json:"queued_attempts"`
	// NextAttemptAt is when a pending delivery becomes due.
	NextAttemptAt time.Time `json:"next_attempt_at"`
	// LeaseOwner and LeaseUntil describe the lease of an in_flight
	// delivery.
	LeaseOwner string    `json:"lease_owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// LastError is the error of the last failed attempt, or why the
	// delivery is dead.
	LastError string `json:"last_error,omitempty"`
	// Reason says why a delivery was held, grouped, suppressed, silenced,
	// dropped, collapsed or digested (or that it is a digest or summary).
	Reason string `json:"reason,omitempty"`
	// GroupID is the digest group of a grouped or digested delivery.
	GroupID     string     `json:"group_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	// WebhookType, Source and ReceivedAt come from the delivery's message.
	WebhookType string    `json:"webhook_type"`
	Source      string    `json:"source"`
	ReceivedAt  time.Time `json:"received_at"`
}

// Attempt is one send attempt in a delivery's history.
type Attempt struct {
	// No numbers the delivery's attempts from 1, across replays. Finish
	// assigns it; callers leave it zero.
	No int `json:"attempt"`
	// Owner is the replica that made the attempt.
	Owner     string        `json:"owner"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"-"`
	// Outcome is success, retry or permanent.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// MarshalJSON writes Duration as duration_ms, in milliseconds.
func (a Attempt) MarshalJSON() ([]byte, error) {
	type plain Attempt
	return json.Marshal(struct {
		plain
		DurationMS float64 `json:"duration_ms"`
	}{plain(a), float64(a.Duration) / float64(time.Millisecond)})
}

// Outcome is what became of one leased delivery, for Finish.
type Outcome struct {
	// ID is the delivery; Owner the replica that holds its lease. The
	// outcome is dropped if the lease has passed to someone else.
	ID    string
	Owner string
	// Attempt, if not nil, is recorded in the history and counted in
	// StoredDelivery.Attempts. Nil when nothing was sent (the channel no longer
	// exists).
	Attempt *Attempt
	// Result is ResultDelivered, ResultRetry or ResultDead.
	Result string
	// RetryAt is when a retried delivery becomes due again. The store
	// never makes it earlier (it rounds up to its microsecond precision).
	RetryAt time.Time
	// Error becomes the delivery's LastError (ignored when delivered).
	Error string
}

// Filter selects deliveries for List.
type Filter struct {
	// Status is a state (StatePending, …); empty for all.
	Status string
	// Rule is a rule name; empty for all.
	Rule string
	// Limit bounds the result (default 100, at most 1000).
	Limit int
}

// Stats summarise the queue, for metrics.
type Stats struct {
	// ByState counts deliveries per state; every state is present.
	ByState map[string]int64
	// OldestPending is the age of the oldest pending or in_flight delivery
	// (since it was queued), zero when there is none.
	OldestPending time.Duration
}

// Store is the outbox. It is safe for concurrent use.
type Store struct {
	o Options
	// keepMessages overrides o.Retention.Messages (SetMessageRetention).
	keepMessages atomic.Int64
	dialect      dialect
	w            *sql.DB       // writes; on SQLite a single connection
	r            *sql.DB       // reads; on PostgreSQL the same pool as w
	stmts        *stmtCache    // the writer's prepared batch statements
	scratch      writerScratch // the group-commit writer's reusable buffers
	ck           *checkpointer // SQLite's WAL checkpoints; nil on PostgreSQL

	mu    sync.Mutex
	queue []*enqueueReq
	// finishes are outcomes waiting for the writer's next transaction.
	finishes []*finishReq
	// writes counts the writer's committed transactions.
	writes  atomic.Int64
	closed  bool
	wake    chan struct{} // the writer has work (capacity 1)
	full    chan struct{} // a batch is full (capacity 1)
	stopped chan struct{} // closed when the writer has exited
	once    sync.Once

	file   *dbFile               // SQLite's database file; nil on PostgreSQL
	broken atomic.Pointer[error] // a lasting problem Health reports
}

type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

func (d dialect) String() string {
	if d == postgresDialect {
		return "postgres"
	}
	return "sqlite"
}

// Open connects to the database, creating or upgrading its schema, and
// starts the group-commit writer. Close releases both.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.BatchWait == 0 {
		o.BatchWait = DefaultBatchWait
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Retention.Delivered <= 0 {
		o.Retention.Delivered = DefaultKeepDelivered
	}
	if o.Retention.Dead <= 0 {
		o.Retention.Dead = DefaultKeepDead
	}
	if o.Retention.Messages <= 0 {
		o.Retention.Messages = DefaultKeepMessages
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{
		o:       o,
		wake:    make(chan struct{}, 1),
		full:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	var err error
	switch {
	case o.DatabaseURL != "":
		err = s.openPostgres(o.DatabaseURL)
	case o.DataDir != "":
		err = s.openSQLite(o.DataDir)
	default:
		err = errors.New("no data directory and no database URL")
	}
	if err != nil {
		return nil, err
	}
	s.stmts = newStmtCache(s.w)
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	if err := s.ping(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("connect to %s: %w", s.dialect, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if s.dialect == sqliteDialect {
		if err := s.recordFile(filepath.Join(o.DataDir, FileName)); err != nil {
			s.closeDBs()
			return nil, err
		}
	}
	go s.writeLoop()
	return s, nil
}

func (s *Store) openPostgres(rawURL string) error {
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return errors.New("database URL must start with postgres:// or postgresql://")
	}
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		// pgx's parse errors may quote the URL.
		return errors.New("database URL is not a valid PostgreSQL connection URL")
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.dialect, s.w, s.r = postgresDialect, db, db
	return nil
}

func (s *Store) openSQLite(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("data directory %q: ? and # are not supported in the path", dir)
	}
	// busy_timeout covers other processes (switchboard replay) holding the
	// write lock. _txlock=immediate takes the write lock at BEGIN, so a
	// transaction never fails upgrading from read to write.
	// temp_store(MEMORY) keeps the statement journal of a multi-row
	// INSERT in memory: on a file it spills past 64 KiB, and a group
	// commit's batch did, a sixth of the writer's pwrite calls.
	writer, err := sql.Open("sqlite", path+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint(0)&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxIdleTime(0)
	writer.SetConnMaxLifetime(0)
	reader, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		writer.Close()
		return fmt.Errorf("open %s: %w", path, err)
	}
	reader.SetMaxOpenConns(4)
	reader.SetMaxIdleConns(4)
	ck, err := newCheckpointer(path, s.noteErr)
	if err != nil {
		writer.Close()
		reader.Close()
		return fmt.Errorf("open %s: %w", path, err)
	}
	s.dialect, s.w, s.r, s.ck = sqliteDialect, writer, reader, ck
	return nil
}

func (s *Store) ping(ctx context.Context) error {
	// The writer first: on SQLite it sets WAL mode before a reader opens
	// the file.
	if err := s.w.PingContext(ctx); err != nil {
		return err
	}
	if s.r != s.w {
		return s.r.PingContext(ctx)
	}
	return nil
}

// Ping checks that the store is healthy (Health) and that the database
// answers a query, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.Health(); err != nil {
		return err
	}
	if err := s.ping(ctx); err != nil {
		s.noteErr(err)
		return fmt.Errorf("ping %s: %w", s.dialect, err)
	}
	// A query reads the schema: a file overwritten with garbage fails
	// here, where a ping on an open connection would not.
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE id = ''").Scan(&n); err != nil {
		s.noteErr(err)
		return fmt.Errorf("query %s: %w", s.dialect, err)
	}
	return nil
}

// Close commits what Enqueue callers are waiting for, stops the writer and
// closes the database. Later Enqueue calls return ErrClosed.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.signal(s.wake)
		<-s.stopped
		err = s.closeDBs()
	})
	return err
}

func (s *Store) closeDBs() error {
	err := errors.Join(s.ck.close(), s.stmts.close(), s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

func (s *Store) now() time.Time { return s.o.Now() }

func (s *Store) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// micros converts a time to the stored form.
func micros(t time.Time) int64 { return t.UnixMicro() }

// microsCeil converts a time to the stored form, rounding up, for times
// before which something must not happen.
func microsCeil(t time.Time) int64 {
	us := t.UnixMicro()
	if t.After(time.UnixMicro(us)) {
		us++
	}
	return us
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// clean makes a string storable in PostgreSQL text columns, which reject
// NUL bytes and invalid UTF-8. Header values and library error texts can
// hold either.
func clean(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// params returns the placeholders for n consecutive query parameters, the
// first being number from: "$from, $from+1, …" on PostgreSQL, "?, ?, …" on
// SQLite. The numbered form ($N) works on SQLite too, and small statements
// use it; but SQLite resolves each numbered parameter by a linear search,
// which makes statements with thousands of them (multi-row inserts, long
// IN lists) quadratic. Anonymous "?" parameters take the next number, so
// they may follow numbered ones.
func (d dialect) params(from, n int) string {
	if d == sqliteDialect {
		return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
	}
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$")
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// stringArgs converts IDs to query arguments.
func stringArgs(ids []string) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}
