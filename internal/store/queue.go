package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// idsPerStatement bounds the IDs bound into one "id IN (…)" list.
const idsPerStatement = 500

// selectDelivery reads a delivery with its message's fields; scanDelivery
// reads its columns in this order.
const selectDelivery = `SELECT d.id, d.message_id, d.rule, d.channel, d.test, d.parts, d.state, d.attempts,
	d.queued_attempts, d.queued_at, d.next_attempt_at, d.lease_owner, d.lease_until, d.last_error,
	d.created_at, d.updated_at, d.delivered_at, m.source, m.webhook_type, m.received_at, d.reason, d.group_id,
	CASE WHEN d.body_is_message = 1 THEN m.body END
	FROM deliveries d JOIN messages m ON m.id = d.message_id`

type scanner interface{ Scan(dest ...any) error }

func scanDelivery(sc scanner) (StoredDelivery, error) {
	var (
		d                                          StoredDelivery
		test, queuedAt, next, created, updated, rx int64
		parts                                      string
		owner, group                               sql.NullString
		until, delivered                           sql.NullInt64
		body                                       []byte
	)
	if err := sc.Scan(&d.ID, &d.MessageID, &d.Rule, &d.Channel, &test, &parts, &d.State, &d.Attempts,
		&d.QueuedAttempts, &queuedAt, &next, &owner, &until, &d.LastError,
		&created, &updated, &delivered, &d.Source, &d.WebhookType, &rx, &d.Reason, &group, &body); err != nil {
		return StoredDelivery{}, err
	}
	if err := json.Unmarshal([]byte(parts), &d.Parts); err != nil {
		return StoredDelivery{}, fmt.Errorf("delivery %s: decode parts: %w", d.ID, err)
	}
	if body != nil {
		// Stored once, in its message (body_is_message).
		d.Parts.Body = string(body)
	}
	d.Test = test != 0
	d.QueuedAt, d.NextAttemptAt = fromMicros(queuedAt), fromMicros(next)
	d.CreatedAt, d.UpdatedAt, d.ReceivedAt = fromMicros(created), fromMicros(updated), fromMicros(rx)
	d.LeaseOwner, d.GroupID = owner.String, group.String
	if until.Valid {
		d.LeaseUntil = fromMicros(until.Int64)
	}
	if delivered.Valid {
		t := fromMicros(delivered.Int64)
		d.DeliveredAt = &t
	}
	return d, nil
}

func queryDeliveries(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]StoredDelivery, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// skipLocked makes a claim's row selection skip rows another replica is
// claiming. SQLite has one writer, so its claims are exclusive anyway.
func (s *Store) skipLocked() string {
	if s.dialect == postgresDialect {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// Claim leases up to limit deliveries to owner until now+lease: pending
// ones that are due (oldest first), then in_flight ones whose lease has
// expired (their owner is gone or too slow). Concurrent claimers, in this
// process or other replicas, never receive the same delivery.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]StoredDelivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	if owner == "" {
		return nil, errors.New("claim: no owner")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer tx.Rollback()
	owner = clean(owner)
	nowUS, untilUS := micros(now), micros(now.Add(lease))
	// The selection is a MATERIALIZED CTE: as a plain IN (subquery) the
	// PostgreSQL planner may rescan it per row, and a LIMIT then no longer
	// limits.
	due, err := claimIDs(ctx, tx, `WITH picked AS MATERIALIZED (
			SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= $3
			ORDER BY next_attempt_at LIMIT $4`+s.skipLocked()+`)
		UPDATE deliveries SET state = 'in_flight', lease_owner = $1, lease_until = $2, updated_at = $3
		WHERE state = 'pending' AND id IN (SELECT id FROM picked)
		RETURNING id`, owner, untilUS, nowUS, limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	// Held deliveries (quiet hours) whose period is over are claimed like
	// pending ones; their own partial index keeps this cheap.
	held, err := claimIDs(ctx, tx, `WITH picked AS MATERIALIZED (
			SELECT id FROM deliveries WHERE state = 'held' AND next_attempt_at <= $3
			ORDER BY next_attempt_at LIMIT $4`+s.skipLocked()+`)
		UPDATE deliveries SET state = 'in_flight', lease_owner = $1, lease_until = $2, updated_at = $3
		WHERE state = 'held' AND id IN (SELECT id FROM picked)
		RETURNING id`, owner, untilUS, nowUS, limit-len(due))
	if err != nil {
		return nil, fmt.Errorf("claim held deliveries: %w", err)
	}
	due = append(due, held...)
	expired, err := claimIDs(ctx, tx, `WITH picked AS MATERIALIZED (
			SELECT id FROM deliveries WHERE state = 'in_flight' AND lease_until <= $3
			ORDER BY lease_until LIMIT $4`+s.skipLocked()+`)
		UPDATE deliveries SET lease_owner = $1, lease_until = $2, updated_at = $3
		WHERE state = 'in_flight' AND lease_until <= $3 AND id IN (SELECT id FROM picked)
		RETURNING id`, owner, untilUS, nowUS, limit-len(due))
	if err != nil {
		return nil, fmt.Errorf("claim expired leases: %w", err)
	}
	ids := append(due, expired...)
	var out []StoredDelivery
	for start := 0; start < len(ids); start += idsPerStatement {
		chunk := ids[start:min(start+idsPerStatement, len(ids))]
		ds, err := queryDeliveries(ctx, tx, selectDelivery+" WHERE d.id IN ("+s.dialect.params(1, len(chunk))+")",
			stringArgs(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", err)
		}
		out = append(out, ds...)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

func claimIDs(ctx context.Context, tx *sql.Tx, query string, owner string, until, now int64, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, query, owner, until, now, int64(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Finish records the outcomes of leased deliveries. They go into the
// group-commit writer's next transaction, with the messages committed
// then: one commit and one fsync for both, and ingest never waits behind
// a transaction of outcomes. An outcome whose Owner no longer holds the
// delivery's lease (it expired and another replica claimed it, or it was
// released) changes nothing; its ID is returned in lost.
func (s *Store) Finish(ctx context.Context, outs []Outcome) (lost []string, err error) {
	if len(outs) == 0 {
		return nil, nil
	}
	for _, o := range outs {
		switch o.Result {
		case ResultDelivered, ResultRetry, ResultDead, ResultDryRun:
		default:
			return nil, fmt.Errorf("finish delivery %s: unknown result %q", o.ID, o.Result)
		}
	}
	req := &finishReq{ctx: ctx, outs: outs, done: make(chan finishResult, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	s.finishes = append(s.finishes, req)
	s.mu.Unlock()
	s.signal(s.wake)
	select {
	case r := <-req.done:
		return r.lost, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// finishReq is one Finish call waiting for the writer.
type finishReq struct {
	ctx  context.Context
	outs []Outcome
	done chan finishResult // capacity 1: the writer never blocks
}

type finishResult struct {
	lost []string
	err  error
}

// finishIn records outs in tx: rows are locked in ID order (see
// sortedIDs), a prepared shape at a time. Their statements must have been
// prepared (prepareFinish) before tx began.
func (s *Store) finishIn(ctx context.Context, tx *sql.Tx, outs []Outcome) (lost []string, err error) {
	outs = slices.Clone(outs)
	slices.SortFunc(outs, func(a, b Outcome) int { return strings.Compare(a.ID, b.ID) })
	now := micros(s.now())
	start := 0
	for _, n := range shapes(len(outs)) {
		l, err := s.finishChunk(ctx, tx, outs[start:start+n], now)
		if err != nil {
			return nil, fmt.Errorf("record outcomes: %w", err)
		}
		lost = append(lost, l...)
		start += n
	}
	return lost, nil
}

// Statements of Finish, prepared per shape.
const (
	stmtLockDeliveries = "lock deliveries"
	stmtFinish         = "finish deliveries"
	stmtInsertAttempts = "insert attempts"
)

// prepareFinish prepares Finish's statements for up to n outcomes.
func (s *Store) prepareFinish(ctx context.Context, n int) error {
	if s.dialect == postgresDialect {
		if err := s.stmts.prepare(ctx, stmtLockDeliveries, n, s.dialect.lockDeliveriesSQL); err != nil {
			return err
		}
	}
	if err := s.stmts.prepare(ctx, stmtFinish, n, s.dialect.finishSQL); err != nil {
		return err
	}
	return s.stmts.prepare(ctx, stmtInsertAttempts, n, s.dialect.insertAttemptsSQL)
}

// lockDeliveriesSQL locks rows deliveries in ID order (PostgreSQL).
func (d dialect) lockDeliveriesSQL(rows int) string {
	return `SELECT id FROM deliveries WHERE id IN (` + d.params(1, rows) + `) ORDER BY id FOR UPDATE`
}

// outcomeColumns are the parameters of one outcome in finishSQL.
const outcomeColumns = 11

// finishSQL records rows outcomes with one UPDATE … FROM (VALUES …); its
// last parameter is the time of the update. A successful attempt (success
// = 1) goes on the delivery's row unless the row already holds one; the
// statement returns the row's success_attempt so that the caller can tell.
func (d dialect) finishSQL(rows int) string {
	var q strings.Builder
	q.WriteString(`WITH v (id, owner, state, attempted, next_at, last_error, delivered,
		success, started_at, duration_us, outcome) AS (VALUES `)
	for i := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		// The casts type the VALUES columns on PostgreSQL; SQLite accepts
		// them as they are.
		p := strings.Split(d.params(i*outcomeColumns+1, outcomeColumns), ", ")
		fmt.Fprintf(&q, `(CAST(%s AS TEXT), CAST(%s AS TEXT), CAST(%s AS TEXT), CAST(%s AS BIGINT), CAST(%s AS BIGINT),
			CAST(%s AS TEXT), CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS TEXT))`,
			p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10])
	}
	const onRow = "v.success = 1 AND deliveries.success_attempt IS NULL"
	fmt.Fprintf(&q, `)
		UPDATE deliveries SET state = v.state, attempts = deliveries.attempts + v.attempted, next_attempt_at = v.next_at,
			lease_owner = NULL, lease_until = NULL, last_error = v.last_error, updated_at = $%d, delivered_at = v.delivered,
			success_attempt = CASE WHEN `+onRow+` THEN deliveries.attempts + v.attempted ELSE deliveries.success_attempt END,
			success_owner = CASE WHEN `+onRow+` THEN v.owner ELSE deliveries.success_owner END,
			success_started_at = CASE WHEN `+onRow+` THEN v.started_at ELSE deliveries.success_started_at END,
			success_duration_us = CASE WHEN `+onRow+` THEN v.duration_us ELSE deliveries.success_duration_us END,
			success_outcome = CASE WHEN `+onRow+` THEN v.outcome ELSE deliveries.success_outcome END
		FROM v WHERE deliveries.id = v.id AND deliveries.state = 'in_flight' AND deliveries.lease_owner = v.owner
		RETURNING deliveries.id, deliveries.attempts, deliveries.success_attempt`, rows*outcomeColumns+1)
	return q.String()
}

// onRow reports whether o's attempt may be kept on the delivery's row: a
// success without an error. Failures always become rows of attempts.
func onRow(o Outcome) bool {
	return o.Attempt != nil && o.Attempt.Error == "" &&
		(o.Result == ResultDelivered || o.Result == ResultDryRun)
}

// attemptColumns are the columns of one attempt row.
const attemptColumns = 7

// insertAttemptsSQL inserts rows attempts.
func (d dialect) insertAttemptsSQL(rows int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO attempts (delivery_id, attempt, owner, started_at, duration_us, outcome, error) VALUES `)
	for i := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(" + d.params(i*attemptColumns+1, attemptColumns) + ")")
	}
	return q.String()
}

// finishChunk records outcomes sorted by ID (a prepared shape) with one
// UPDATE for the deliveries and one INSERT per shape for their attempts: a
// few round trips whatever the batch size, which is what lets PostgreSQL
// keep pace with ingest.
func (s *Store) finishChunk(ctx context.Context, tx *sql.Tx, outs []Outcome, now int64) (lost []string, err error) {
	if s.dialect == postgresDialect {
		// An UPDATE … FROM locks rows in the order of its join; lock them
		// in ID order first, as every other multi-row write does.
		st, err := s.stmts.in(ctx, tx, stmtLockDeliveries, len(outs))
		if err != nil {
			return nil, err
		}
		ids := make([]any, len(outs))
		for i, o := range outs {
			ids[i] = o.ID
		}
		rows, err := st.QueryContext(ctx, ids...)
		if err != nil {
			return nil, err
		}
		rows.Close()
	}
	args := make([]any, 0, len(outs)*outcomeColumns+1)
	for _, o := range outs {
		var (
			state     = o.Result // retry is the only result that is not a state
			next      = now
			delivered any
			lastError = clean(o.Error)
			attempted int64
		)
		switch o.Result {
		case ResultRetry:
			state, next = StatePending, microsCeil(o.RetryAt)
		case ResultDelivered:
			delivered, lastError = now, ""
		}
		var success, startedAt, durationUS int64
		var outcome string
		if a := o.Attempt; a != nil {
			attempted = 1
			if onRow(o) {
				success = 1
			}
			startedAt, durationUS, outcome = micros(a.StartedAt), a.Duration.Microseconds(), clean(a.Outcome)
		}
		args = append(args, o.ID, clean(o.Owner), state, attempted, next, lastError, delivered,
			success, startedAt, durationUS, outcome)
	}
	args = append(args, now)
	st, err := s.stmts.in(ctx, tx, stmtFinish, len(outs))
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	type result struct {
		attempts int64
		onRow    bool // the attempt is the row's success_attempt
	}
	applied := make(map[string]result, len(outs))
	for rows.Next() {
		var id string
		var attempts int64
		var success sql.NullInt64
		if err := rows.Scan(&id, &attempts, &success); err != nil {
			rows.Close()
			return nil, err
		}
		applied[id] = result{attempts, success.Valid && success.Int64 == attempts}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, err
	}
	var iargs []any
	for _, o := range outs {
		res, ok := applied[o.ID]
		if !ok {
			lost = append(lost, o.ID)
			continue
		}
		a := o.Attempt
		if a == nil || (onRow(o) && res.onRow) {
			continue
		}
		iargs = append(iargs, o.ID, res.attempts, clean(o.Owner), micros(a.StartedAt), a.Duration.Microseconds(),
			clean(a.Outcome), clean(a.Error))
	}
	for _, n := range shapes(len(iargs) / attemptColumns) {
		st, err := s.stmts.in(ctx, tx, stmtInsertAttempts, n)
		if err != nil {
			return nil, err
		}
		if _, err := st.ExecContext(ctx, iargs[:n*attemptColumns]...); err != nil {
			return nil, err
		}
		iargs = iargs[n*attemptColumns:]
	}
	return lost, nil
}

// Renew extends owner's leases on ids to until and returns the IDs it
// renewed; the others are no longer owner's (taken over, released or
// finished).
func (s *Store) Renew(ctx context.Context, owner string, until time.Time, ids []string) (renewed []string, err error) {
	owner = clean(owner)
	ids = sortedIDs(ids)
	for start := 0; start < len(ids); start += idsPerStatement {
		chunk := ids[start:min(start+idsPerStatement, len(ids))]
		args := append([]any{micros(until), owner}, stringArgs(chunk)...)
		rows, err := s.w.QueryContext(ctx, `UPDATE deliveries SET lease_until = $1
			WHERE state = 'in_flight' AND lease_owner = $2 AND id IN (`+s.dialect.params(3, len(chunk))+`)
			RETURNING id`, args...)
		if err != nil {
			return renewed, fmt.Errorf("renew leases: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return renewed, fmt.Errorf("renew leases: %w", err)
			}
			renewed = append(renewed, id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return renewed, fmt.Errorf("renew leases: %w", err)
		}
	}
	return renewed, nil
}

// Release hands owner's leases on ids back to the queue, due now, for any
// replica to claim: state pending, attempts unchanged. Without ids it
// releases every lease owner holds. It returns how many it released.
func (s *Store) Release(ctx context.Context, owner string, ids ...string) (int, error) {
	owner = clean(owner)
	now := micros(s.now())
	const release = `UPDATE deliveries SET state = 'pending', lease_owner = NULL, lease_until = NULL,
		next_attempt_at = $1, updated_at = $1 WHERE state = 'in_flight' AND lease_owner = $2`
	if len(ids) == 0 {
		res, err := s.w.ExecContext(ctx, release, now, owner)
		if err != nil {
			return 0, fmt.Errorf("release leases: %w", err)
		}
		n, err := res.RowsAffected()
		return int(n), err
	}
	ids = sortedIDs(ids)
	total := 0
	for start := 0; start < len(ids); start += idsPerStatement {
		chunk := ids[start:min(start+idsPerStatement, len(ids))]
		args := append([]any{now, owner}, stringArgs(chunk)...)
		res, err := s.w.ExecContext(ctx, release+" AND id IN ("+s.dialect.params(3, len(chunk))+")", args...)
		if err != nil {
			return total, fmt.Errorf("release leases: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("release leases: %w", err)
		}
		total += int(n)
	}
	return total, nil
}

// sortedIDs returns ids sorted. Statements that update several deliveries
// take them in ID order, so that concurrent transactions (a replica's
// outcome writer and its lease renewer, an operator's replay) lock rows in
// the same order and cannot deadlock on PostgreSQL.
func sortedIDs(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}
