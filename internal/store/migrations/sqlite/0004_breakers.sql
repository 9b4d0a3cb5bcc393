-- Circuit breakers: one row per channel that has ever failed, shared by
-- every replica. A closed channel counts its consecutive failures; an open
-- one sends nothing but one probe at probe_at (every probe_every, which
-- backs off); a paused one (Retry-After, Slack 429) sends nothing until
-- paused_until. Deliveries of an open channel wait pending with
-- next_attempt_at far in the future (parked) and are due again when it
-- closes.
CREATE TABLE channel_breakers (
	channel      TEXT PRIMARY KEY,
	state        TEXT NOT NULL,
	failures     INTEGER NOT NULL,
	opened_at    INTEGER NOT NULL,
	probe_at     INTEGER NOT NULL,
	probe_every  INTEGER NOT NULL,
	paused_until INTEGER NOT NULL,
	summary_at   INTEGER NOT NULL,
	opens        INTEGER NOT NULL,
	last_error   TEXT NOT NULL,
	updated_at   INTEGER NOT NULL
);
