package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Breaker states.
const (
	// BreakerClosed channels send normally.
	BreakerClosed = "closed"
	// BreakerOpen channels send nothing but one probe per probe interval;
	// their deliveries wait parked.
	BreakerOpen = "open"
)

// Parked is the next_attempt_at of a delivery waiting for its channel's
// breaker to close: far enough ahead never to fall due by itself. Closing
// the breaker makes its parked deliveries due at once.
var Parked = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Breaker is the shared circuit-breaker state of one channel.
type Breaker struct {
	Channel string `json:"channel"`
	// State is BreakerClosed or BreakerOpen.
	State string `json:"state"`
	// Failures counts consecutive retryable failures while closed.
	Failures int `json:"failures"`
	// OpenedAt is when the breaker last opened.
	OpenedAt time.Time `json:"opened_at"`
	// ProbeAt is when an open breaker lets its next probe through, and
	// ProbeEvery the current interval between probes.
	ProbeAt    time.Time     `json:"probe_at"`
	ProbeEvery time.Duration `json:"probe_every"`
	// PausedUntil: the peer asked (Retry-After) for nothing before then.
	PausedUntil time.Time `json:"paused_until"`
	// Opens counts how many times the breaker opened.
	Opens int64 `json:"opens"`
	// LastError is the last failure's error.
	LastError string `json:"last_error,omitempty"`
}

// IsOpen reports whether the breaker is open.
func (b Breaker) IsOpen() bool { return b.State == BreakerOpen }

// Paused reports whether the channel is paused at now.
func (b Breaker) Paused(now time.Time) bool { return b.PausedUntil.After(now) }

// BreakerPolicy is a channel's breaker configuration.
type BreakerPolicy struct {
	// Failures is how many consecutive failures open the breaker.
	Failures int
	// Probe is the first interval between probes; it doubles after each
	// failed probe up to MaxProbe.
	Probe    time.Duration
	MaxProbe time.Duration
}

const selectBreaker = `SELECT channel, state, failures, opened_at, probe_at, probe_every, paused_until, opens, last_error
	FROM channel_breakers`

func scanBreaker(sc scanner) (Breaker, error) {
	var b Breaker
	var opened, probeAt, every, paused int64
	if err := sc.Scan(&b.Channel, &b.State, &b.Failures, &opened, &probeAt, &every, &paused, &b.Opens, &b.LastError); err != nil {
		return Breaker{}, err
	}
	b.ProbeEvery = time.Duration(every) * time.Microsecond
	if opened != 0 {
		b.OpenedAt = fromMicros(opened)
	}
	if probeAt != 0 {
		b.ProbeAt = fromMicros(probeAt)
	}
	if paused != 0 {
		b.PausedUntil = fromMicros(paused)
	}
	return b, nil
}

// Breakers returns the breaker of every channel that has one (a channel
// without a row is closed with no failures).
func (s *Store) Breakers(ctx context.Context) (map[string]Breaker, error) {
	rows, err := s.r.QueryContext(ctx, selectBreaker)
	if err != nil {
		return nil, fmt.Errorf("read breakers: %w", err)
	}
	defer rows.Close()
	out := map[string]Breaker{}
	for rows.Next() {
		b, err := scanBreaker(rows)
		if err != nil {
			return nil, fmt.Errorf("read breakers: %w", err)
		}
		out[b.Channel] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read breakers: %w", err)
	}
	return out, nil
}

// lockBreaker creates channel's row if missing and reads it, locked for
// the rest of tx.
func (s *Store) lockBreaker(ctx context.Context, tx *sql.Tx, channel string, now int64) (Breaker, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO channel_breakers (channel, state, failures, opened_at, probe_at,
		probe_every, paused_until, summary_at, opens, last_error, updated_at)
		VALUES ($1, 'closed', 0, 0, 0, 0, 0, 0, 0, '', $2) ON CONFLICT (channel) DO NOTHING`, channel, now); err != nil {
		return Breaker{}, err
	}
	q := selectBreaker + " WHERE channel = $1"
	if s.dialect == postgresDialect {
		q += " FOR UPDATE"
	}
	return scanBreaker(tx.QueryRowContext(ctx, q, channel))
}

func writeBreaker(ctx context.Context, tx *sql.Tx, b Breaker, now int64) error {
	var opened, probeAt, paused int64
	if !b.OpenedAt.IsZero() {
		opened = micros(b.OpenedAt)
	}
	if !b.ProbeAt.IsZero() {
		probeAt = microsCeil(b.ProbeAt)
	}
	if !b.PausedUntil.IsZero() {
		paused = microsCeil(b.PausedUntil)
	}
	_, err := tx.ExecContext(ctx, `UPDATE channel_breakers SET state = $2, failures = $3, opened_at = $4,
		probe_at = $5, probe_every = $6, paused_until = $7, opens = $8, last_error = $9, updated_at = $10
		WHERE channel = $1`, b.Channel, b.State, int64(b.Failures), opened, probeAt, b.ProbeEvery.Microseconds(),
		paused, b.Opens, clean(b.LastError), now)
	return err
}

// BreakerFailure records a retryable failure of a send to channel. A
// closed breaker counts it and opens at p.Failures consecutive failures:
// then the channel's pending deliveries are parked, in the same
// transaction, and opened is true (for exactly one caller, whichever
// replica it runs on). A failed probe (probe set) of an open breaker
// doubles the probe interval, up to p.MaxProbe.
func (s *Store) BreakerFailure(ctx context.Context, channel, errText string, probe bool, p BreakerPolicy) (b Breaker, opened bool, err error) {
	now := s.now()
	nowUS := micros(now)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Breaker{}, false, fmt.Errorf("record channel failure: %w", err)
	}
	defer tx.Rollback()
	b, err = s.lockBreaker(ctx, tx, clean(channel), nowUS)
	if err != nil {
		return Breaker{}, false, fmt.Errorf("record channel failure: %w", err)
	}
	b.LastError = errText
	switch {
	case b.State != BreakerOpen:
		b.Failures++
		if b.Failures >= max(p.Failures, 1) {
			b.State, b.OpenedAt, b.Opens, opened = BreakerOpen, now, b.Opens+1, true
			b.ProbeEvery = p.Probe
			b.ProbeAt = now.Add(b.ProbeEvery)
		}
	case probe:
		b.ProbeEvery = min(max(2*b.ProbeEvery, p.Probe), max(p.MaxProbe, p.Probe))
		b.ProbeAt = now.Add(b.ProbeEvery)
	}
	if err := writeBreaker(ctx, tx, b, nowUS); err != nil {
		return Breaker{}, false, fmt.Errorf("record channel failure: %w", err)
	}
	if opened {
		// Everything waiting for the channel waits for it to close.
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = $1, updated_at = $2
			WHERE state = 'pending' AND channel = $3 AND next_attempt_at < $1`,
			micros(Parked), nowUS, clean(channel)); err != nil {
			return Breaker{}, false, fmt.Errorf("park deliveries: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Breaker{}, false, fmt.Errorf("record channel failure: %w", err)
	}
	return b, opened, nil
}

// BreakerSuccess records a successful send to channel. It resets the
// failure count; if the breaker was open it closes it, makes the parked
// deliveries due now, and returns closed true (for exactly one caller)
// with the breaker as it was while open and how many deliveries it made
// due.
func (s *Store) BreakerSuccess(ctx context.Context, channel string) (b Breaker, resumed int64, closed bool, err error) {
	now := micros(s.now())
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Breaker{}, 0, false, fmt.Errorf("record channel success: %w", err)
	}
	defer tx.Rollback()
	q := selectBreaker + " WHERE channel = $1"
	if s.dialect == postgresDialect {
		q += " FOR UPDATE"
	}
	b, err = scanBreaker(tx.QueryRowContext(ctx, q, clean(channel)))
	if errors.Is(err, sql.ErrNoRows) {
		return Breaker{Channel: channel, State: BreakerClosed}, 0, false, nil
	}
	if err != nil {
		return Breaker{}, 0, false, fmt.Errorf("record channel success: %w", err)
	}
	if b.State != BreakerOpen && b.Failures == 0 {
		return b, 0, false, nil
	}
	was := b
	b.State, b.Failures, b.ProbeAt, b.ProbeEvery = BreakerClosed, 0, time.Time{}, 0
	if err := writeBreaker(ctx, tx, b, now); err != nil {
		return Breaker{}, 0, false, fmt.Errorf("record channel success: %w", err)
	}
	if was.State == BreakerOpen {
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = $1, updated_at = $1
			WHERE state = 'pending' AND next_attempt_at >= $2 AND channel = $3`,
			now, micros(Parked), clean(channel))
		if err != nil {
			return Breaker{}, 0, false, fmt.Errorf("unpark deliveries: %w", err)
		}
		if resumed, err = res.RowsAffected(); err != nil {
			return Breaker{}, 0, false, fmt.Errorf("unpark deliveries: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Breaker{}, 0, false, fmt.Errorf("record channel success: %w", err)
	}
	if was.State == BreakerOpen {
		return was, resumed, true, nil
	}
	return b, 0, false, nil
}

// PauseChannel makes channel send nothing before until (a peer's
// Retry-After); an earlier pause never shortens a later one.
func (s *Store) PauseChannel(ctx context.Context, channel string, until time.Time) error {
	now := micros(s.now())
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("pause channel: %w", err)
	}
	defer tx.Rollback()
	b, err := s.lockBreaker(ctx, tx, clean(channel), now)
	if err != nil {
		return fmt.Errorf("pause channel: %w", err)
	}
	if !until.After(b.PausedUntil) {
		return nil
	}
	b.PausedUntil = until
	if err := writeBreaker(ctx, tx, b, now); err != nil {
		return fmt.Errorf("pause channel: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("pause channel: %w", err)
	}
	return nil
}

// ClaimProbe lets one probe through channel's open breaker when its probe
// is due: it moves the next probe one interval on and leases one parked
// delivery to owner until now+lease. ok is false when no probe is due
// (another replica took it) or nothing waits to be sent.
func (s *Store) ClaimProbe(ctx context.Context, owner, channel string, lease time.Duration) (d StoredDelivery, ok bool, err error) {
	now := s.now()
	nowUS := micros(now)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return StoredDelivery{}, false, fmt.Errorf("claim probe: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE channel_breakers SET probe_at = $1 + probe_every, updated_at = $1
		WHERE channel = $2 AND state = 'open' AND probe_at <= $1`, nowUS, clean(channel))
	if err != nil {
		return StoredDelivery{}, false, fmt.Errorf("claim probe: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return StoredDelivery{}, false, err
	}
	var id string
	err = tx.QueryRowContext(ctx, `WITH picked AS MATERIALIZED (
			SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at >= $4 AND channel = $5
			ORDER BY next_attempt_at LIMIT 1`+s.skipLocked()+`)
		UPDATE deliveries SET state = 'in_flight', lease_owner = $1, lease_until = $2, updated_at = $3
		WHERE state = 'pending' AND id IN (SELECT id FROM picked)
		RETURNING id`, clean(owner), micros(now.Add(lease)), nowUS, micros(Parked), clean(channel)).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Nothing waits: the probe slot is spent, the next comes one
		// interval later.
		if err := tx.Commit(); err != nil {
			return StoredDelivery{}, false, fmt.Errorf("claim probe: %w", err)
		}
		return StoredDelivery{}, false, nil
	case err != nil:
		return StoredDelivery{}, false, fmt.Errorf("claim probe: %w", err)
	}
	d, err = scanDelivery(tx.QueryRowContext(ctx, selectDelivery+" WHERE d.id = $1", id))
	if err != nil {
		return StoredDelivery{}, false, fmt.Errorf("claim probe: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return StoredDelivery{}, false, fmt.Errorf("claim probe: %w", err)
	}
	return d, true, nil
}

// ClaimSummary reports whether the caller should write the periodic
// summary of channel's open breaker: true at most once per every, across
// replicas.
func (s *Store) ClaimSummary(ctx context.Context, channel string, every time.Duration) (bool, error) {
	now := s.now()
	res, err := s.w.ExecContext(ctx, `UPDATE channel_breakers SET summary_at = $1
		WHERE channel = $2 AND state = 'open' AND summary_at <= $3 AND opened_at <= $3`,
		micros(now), clean(channel), micros(now.Add(-every)))
	if err != nil {
		return false, fmt.Errorf("claim summary: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Defer hands owner's leases on ids back to the queue like Release, but
// due at until instead of now, without counting an attempt: Parked for a
// channel whose breaker is open, the end of a pause for a paused one.
func (s *Store) Defer(ctx context.Context, owner string, until time.Time, ids []string) (int, error) {
	owner = clean(owner)
	now := micros(s.now())
	ids = sortedIDs(ids)
	total := 0
	for start := 0; start < len(ids); start += idsPerStatement {
		chunk := ids[start:min(start+idsPerStatement, len(ids))]
		args := append([]any{now, microsCeil(until), owner}, stringArgs(chunk)...)
		next := "$2"
		if until.Equal(Parked) {
			// Parked only while the breaker is still open: one that has
			// just closed would not make it due again.
			next = `CASE WHEN EXISTS (SELECT 1 FROM channel_breakers b
				WHERE b.channel = deliveries.channel AND b.state = 'open') THEN CAST($2 AS BIGINT) ELSE CAST($1 AS BIGINT) END`
		}
		res, err := s.w.ExecContext(ctx, `UPDATE deliveries SET state = 'pending', lease_owner = NULL,
			lease_until = NULL, next_attempt_at = `+next+`, updated_at = $1
			WHERE state = 'in_flight' AND lease_owner = $3 AND id IN (`+s.dialect.params(4, len(chunk))+")", args...)
		if err != nil {
			return total, fmt.Errorf("defer deliveries: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("defer deliveries: %w", err)
		}
		total += int(n)
	}
	return total, nil
}

// UnparkClosed makes due now the parked deliveries of channels whose
// breaker is not open: deliveries parked by a replica that had not yet
// seen the breaker close. It returns how many it made due.
func (s *Store) UnparkClosed(ctx context.Context) (int, error) {
	now := micros(s.now())
	res, err := s.w.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = $1, updated_at = $1
		WHERE state = 'pending' AND next_attempt_at >= $2
		AND channel NOT IN (SELECT channel FROM channel_breakers WHERE state = 'open')`, now, micros(Parked))
	if err != nil {
		return 0, fmt.Errorf("unpark deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ParkedCount counts channel's parked deliveries.
func (s *Store) ParkedCount(ctx context.Context, channel string) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM deliveries
		WHERE state = 'pending' AND next_attempt_at >= $1 AND channel = $2`, micros(Parked), channel).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count parked deliveries: %w", err)
	}
	return n, nil
}

// Backlog counts the deliveries each channel still has to send (pending,
// in flight or held), by channel.
func (s *Store) Backlog(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT channel, count(*) FROM deliveries
		WHERE state IN ('pending', 'in_flight', 'held') GROUP BY channel`)
	if err != nil {
		return nil, fmt.Errorf("channel backlog: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var ch string
		var n int64
		if err := rows.Scan(&ch, &n); err != nil {
			return nil, fmt.Errorf("channel backlog: %w", err)
		}
		out[ch] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("channel backlog: %w", err)
	}
	return out, nil
}
