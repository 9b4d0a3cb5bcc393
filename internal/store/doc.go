// Package store is Switchboard's durable outbox: the messages it accepted,
// the deliveries they caused, and every send attempt, in one database. The
// deliveries table is both the work queue and the delivery log.
//
// # Backends
//
// One code path on database/sql, with small dialect differences:
//
//   - SQLite (modernc.org/sqlite, pure Go) by default, in
//     <DataDir>/switchboard.db: WAL journal, synchronous=FULL (a commit is on
//     disk before Enqueue returns), one writer connection with a busy
//     timeout, and a separate pool of read-only connections for listing and
//     statistics. One writer means claims are exclusive without row locks.
//     The writer does not checkpoint the WAL in its commits; a checkpointer
//     with its own connection does, beside it (see checkpoint.go).
//   - PostgreSQL (github.com/jackc/pgx/v5/stdlib) when Options.DatabaseURL is
//     set, so that several replicas share the work. Claims select rows with
//     FOR UPDATE SKIP LOCKED so two replicas never take the same delivery.
//
// Times are stored as Unix microseconds in integer columns. The schema is
// created and upgraded at Open from migrations embedded in the binary and
// recorded in schema_migrations; a binary refuses a database whose schema
// is newer than it knows.
//
// # Ingest: group commit
//
// Enqueue stores a message and all its deliveries in one transaction and
// returns only once that transaction is durable. Concurrent calls share
// transactions: one writer goroutine gathers what arrives within BatchWait
// (default 0.5 ms) or up to BatchSize messages (default 256), commits once and
// hands every caller its own result. Idempotency keys are unique per source
// and checked in the same transaction, across batches and within one; an
// empty key never deduplicates. A duplicate inserts nothing.
//
// Multi-row statements (messages, deliveries, outcomes, attempts) come in
// fixed shapes, powers of two up to 256 rows, each prepared once on the
// writer: a batch of 37 rows is written by the 32-, 4- and 1-row
// statements, so the database never parses a statement on the hot path.
//
// A delivery's successful attempt is kept on its row (success_* columns):
// a delivery sent on the first try writes no row of attempts. The attempts
// table holds the failures, and a later success of a row that already has
// one (after a replay). Get merges both into one history.
//
// # Delivery states and leases
//
//	pending ──Claim──▶ in_flight ──Finish──▶ delivered
//	   ▲                  │  │
//	   └──retry/Release───┘  └──Finish──▶ dead ──Replay──▶ pending
//
// Deliveries are usually inserted already leased (in_flight, owned by the
// replica that ingested them) so that they go straight to its workers. A
// lease expires at lease_until; after that Claim hands the delivery to
// whichever replica polls first. Finish, Renew and Release act only on rows
// whose lease the caller still owns, so a replica whose lease was taken over
// cannot overwrite the new owner's outcome.
//
// # Retention
//
// Sweep deletes delivered deliveries 7 days after delivery and dead ones 30
// days after they died (with their attempt history), and messages once no
// delivery refers to them and they are older than the 7-day idempotency
// window (all configurable in Retention). A duplicate is therefore detected
// for at least 7 days, and for as long as the original message is kept.
//
// # Circuit breakers
//
// channel_breakers holds one row per channel that has failed, shared by
// every replica: consecutive failures, whether the breaker is open, when
// the next probe is due and until when the peer asked for a pause.
// BreakerFailure, BreakerSuccess, ClaimProbe and ClaimSummary change it in
// one transaction each, so that exactly one caller learns that a breaker
// opened or closed, and one replica takes each probe. The deliveries of an
// open channel are parked: pending with next_attempt_at = Parked, which
// Claim never reaches; closing the breaker makes them due at once, without
// an attempt having been counted or recorded.
//
// The package does not decide retry policy, rate limits or concurrency: the
// delivery package does, and tells the store the outcome.
package store
