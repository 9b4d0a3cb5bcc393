-- Switchboard's outbox on PostgreSQL. Times are Unix microseconds (UTC) in
-- BIGINT columns, so that comparisons and ordering are exact and the same
-- on both backends.

-- One row per accepted webhook. idem_key is NULL when the source has no
-- idempotency key: NULLs are distinct in a unique index, so such messages
-- never deduplicate.
CREATE TABLE messages (
	id            TEXT PRIMARY KEY,
	source        TEXT NOT NULL,
	idem_key      TEXT,
	received_at   BIGINT NOT NULL,
	webhook_type  TEXT NOT NULL,
	rules_version TEXT NOT NULL,
	body          BYTEA NOT NULL
);
CREATE UNIQUE INDEX messages_idem ON messages (source, idem_key);
-- RecentMessages and the retention sweep.
CREATE INDEX messages_received ON messages (received_at);

-- The queue and the delivery log in one table. state is pending,
-- in_flight, delivered or dead. For in_flight rows lease_owner holds the
-- lease until lease_until; after that any replica may claim the row.
-- queued_at and queued_attempts are set at creation and on replay: the
-- retry bounds (max_age, max_attempts) count from them.
CREATE TABLE deliveries (
	id              TEXT PRIMARY KEY,
	message_id      TEXT NOT NULL,
	rule            TEXT NOT NULL,
	channel         TEXT NOT NULL,
	test            INTEGER NOT NULL,
	parts           TEXT NOT NULL,
	state           TEXT NOT NULL,
	attempts        INTEGER NOT NULL,
	queued_attempts INTEGER NOT NULL,
	queued_at       BIGINT NOT NULL,
	next_attempt_at BIGINT NOT NULL,
	lease_owner     TEXT,
	lease_until     BIGINT,
	last_error      TEXT NOT NULL,
	created_at      BIGINT NOT NULL,
	updated_at      BIGINT NOT NULL,
	delivered_at    BIGINT
);
-- Sweeping messages that no delivery refers to any more.
CREATE INDEX deliveries_message ON deliveries (message_id);
-- Listing newest first, and the retention sweep.
CREATE INDEX deliveries_created ON deliveries (created_at);
-- The poller's two claims. Partial indexes hold only live rows, so they
-- stay small however long the delivery log grows.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_lease ON deliveries (lease_until) WHERE state = 'in_flight';
-- Listing and sweeping dead letters without scanning the delivered ones.
CREATE INDEX deliveries_dead ON deliveries (created_at) WHERE state = 'dead';

-- Every send attempt whose outcome was recorded.
CREATE TABLE attempts (
	delivery_id TEXT NOT NULL,
	attempt     INTEGER NOT NULL,
	owner       TEXT NOT NULL,
	started_at  BIGINT NOT NULL,
	duration_us BIGINT NOT NULL,
	outcome     TEXT NOT NULL,
	error       TEXT NOT NULL,
	PRIMARY KEY (delivery_id, attempt)
);
