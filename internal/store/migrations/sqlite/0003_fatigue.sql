-- Alert-fatigue state: throttle windows, digest groups and silences, and
-- the delivery log's record of each decision.

-- Why a delivery is in the state it is (silenced, suppressed, grouped,
-- held, dropped, collapsed, digested): a short human-readable reason.
ALTER TABLE deliveries ADD COLUMN reason TEXT NOT NULL DEFAULT '';
-- The digest group a grouped delivery waits in.
ALTER TABLE deliveries ADD COLUMN group_id TEXT;
CREATE INDEX deliveries_group ON deliveries (group_id) WHERE group_id IS NOT NULL;
-- Held deliveries (quiet hours) become due at next_attempt_at.
CREATE INDEX deliveries_held ON deliveries (next_attempt_at) WHERE state = 'held';

-- One throttle window per rule and key: at most one notification goes out
-- between window_start and window_end; later matches are counted in
-- suppressed and reported by the next one that goes out.
CREATE TABLE throttles (
	rule         TEXT NOT NULL,
	throttle_key TEXT NOT NULL,
	window_start INTEGER NOT NULL,
	window_end   INTEGER NOT NULL,
	suppressed   INTEGER NOT NULL,
	PRIMARY KEY (rule, throttle_key)
);

-- One digest group per rule, key and channel. state is open while
-- matches wait for the digest due at flush_at, idle after a digest went
-- out (last_flush_at keeps the interval).
CREATE TABLE digest_groups (
	id            TEXT PRIMARY KEY,
	rule          TEXT NOT NULL,
	group_key     TEXT NOT NULL,
	channel       TEXT NOT NULL,
	state         TEXT NOT NULL,
	opened_at     INTEGER NOT NULL,
	flush_at      INTEGER NOT NULL,
	last_flush_at INTEGER,
	digests       INTEGER NOT NULL
);
CREATE UNIQUE INDEX digest_groups_key ON digest_groups (rule, group_key, channel);
CREATE INDEX digest_groups_due ON digest_groups (flush_at) WHERE state = 'open';

-- Silences mute a rule (rule), messages matching an expression (matcher),
-- or both, from starts_at until ends_at. Expiring one sets ends_at.
CREATE TABLE silences (
	id         TEXT PRIMARY KEY,
	rule       TEXT NOT NULL,
	matcher    TEXT NOT NULL,
	reason     TEXT NOT NULL,
	author     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	starts_at  INTEGER NOT NULL,
	ends_at    INTEGER NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_at);
