package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// List limits.
const (
	// DefaultListLimit is List's limit when Filter.Limit is zero.
	DefaultListLimit = 100
	// MaxListLimit is the most deliveries List returns.
	MaxListLimit = 1000
)

// sweepChunk bounds the rows one Sweep transaction deletes, so that the
// SQLite writer is never held for long.
const sweepChunk = 1000

// List returns deliveries matching f, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]StoredDelivery, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var where []string
	var args []any
	if f.Status != "" {
		args = append(args, f.Status)
		where = append(where, "d.state = $"+strconv.Itoa(len(args)))
	}
	if f.Rule != "" {
		args = append(args, f.Rule)
		where = append(where, "d.rule = $"+strconv.Itoa(len(args)))
	}
	q := selectDelivery
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, int64(limit))
	q += " ORDER BY d.created_at DESC, d.id DESC LIMIT $" + strconv.Itoa(len(args))
	ds, err := queryDeliveries(ctx, s.r, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

// Get returns one delivery and its attempts, oldest first, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (StoredDelivery, []Attempt, error) {
	d, err := scanDelivery(s.r.QueryRowContext(ctx, selectDelivery+" WHERE d.id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return StoredDelivery{}, nil, ErrNotFound
	}
	if err != nil {
		return StoredDelivery{}, nil, fmt.Errorf("get delivery: %w", err)
	}
	// The rows of attempts, and the success kept on the delivery's row.
	rows, err := s.r.QueryContext(ctx, `SELECT attempt, owner, started_at, duration_us, outcome, error
		FROM attempts WHERE delivery_id = $1
		UNION ALL SELECT success_attempt, success_owner, success_started_at, success_duration_us, success_outcome, ''
		FROM deliveries WHERE id = $1 AND success_attempt IS NOT NULL
		ORDER BY 1`, id)
	if err != nil {
		return StoredDelivery{}, nil, fmt.Errorf("get attempts: %w", err)
	}
	defer rows.Close()
	attempts := []Attempt{}
	for rows.Next() {
		var a Attempt
		var started, dur int64
		if err := rows.Scan(&a.No, &a.Owner, &started, &dur, &a.Outcome, &a.Error); err != nil {
			return StoredDelivery{}, nil, fmt.Errorf("get attempts: %w", err)
		}
		a.StartedAt, a.Duration = fromMicros(started), time.Duration(dur)*time.Microsecond
		attempts = append(attempts, a)
	}
	if err := rows.Err(); err != nil {
		return StoredDelivery{}, nil, fmt.Errorf("get attempts: %w", err)
	}
	return d, attempts, nil
}

// replaySet is what a replay changes: the delivery is due now, with a
// fresh retry budget (QueuedAt and QueuedAttempts restart), and keeps its
// attempt history and its last error until the next attempt. Its reason
// stays: a delivery sent on replay after a decision not to send it says
// so ("sent anyway on replay; before that: silenced by …").
const replaySet = `UPDATE deliveries SET state = 'pending', queued_attempts = attempts, queued_at = $1,
	next_attempt_at = $1, lease_owner = NULL, lease_until = NULL, delivered_at = NULL, updated_at = $1`

// replayable selects the deliveries Replay may requeue: finished ones
// that hold what to send (a match dropped from a digest group was never
// rendered, nor was a dead letter whose template failed).
const replayable = `(state IN ('dead', 'delivered', 'suppressed', 'silenced', 'collapsed')
	OR (state = 'dropped' AND group_id IS NULL)) AND ` + rendered

// rendered excludes the dead letters that were never rendered: their
// template failed when the message arrived, so they hold no parts (a
// delivery whose body is its message's holds none of its own either, but
// says so). Only a replay that renders again can send them.
const rendered = `NOT (state = 'dead' AND parts IN ('', '{}') AND body_is_message = 0)`

// neverRendered reports whether d is a dead letter that holds nothing to
// send (see rendered).
func neverRendered(d StoredDelivery) bool {
	return d.State == StateDead && reflect.ValueOf(d.Parts).IsZero()
}

// msgNeverRendered is why a replay leaves a never-rendered dead letter
// dead.
const msgNeverRendered = "never rendered (its template failed), so there is nothing to send: replay it rendering again (--rerender, or rerender=true)"

// Replay requeues the given finished deliveries (dead, delivered, or not
// sent by decision: suppressed, silenced, dropped, collapsed) and returns
// how many it requeued; IDs that are unknown, waiting, in flight or in a
// digest are left alone.
func (s *Store) Replay(ctx context.Context, ids []string) (int, error) {
	now := micros(s.now())
	ids = sortedIDs(ids)
	total := 0
	for start := 0; start < len(ids); start += idsPerStatement {
		chunk := ids[start:min(start+idsPerStatement, len(ids))]
		args := append([]any{now}, stringArgs(chunk)...)
		res, err := s.w.ExecContext(ctx, replaySet+" WHERE "+replayable+" AND id IN ("+
			s.dialect.params(2, len(chunk))+")", args...)
		if err != nil {
			return total, fmt.Errorf("replay: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("replay: %w", err)
		}
		total += int(n)
	}
	return total, nil
}

// Stats counts deliveries by state and finds the oldest one not yet
// finished, in one statement (one consistent snapshot). The live states are
// counted from their small partial indexes.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var total, pending, inFlight, dead, held, grouped int64
	var oldestPending, oldestInFlight sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM deliveries),
		(SELECT count(*) FROM deliveries WHERE state = 'pending'),
		(SELECT count(*) FROM deliveries WHERE state = 'in_flight'),
		(SELECT count(*) FROM deliveries WHERE state = 'dead'),
		(SELECT count(*) FROM deliveries WHERE state = 'held'),
		(SELECT count(*) FROM deliveries WHERE group_id IS NOT NULL AND state = 'grouped'),
		(SELECT min(queued_at) FROM deliveries WHERE state = 'pending'),
		(SELECT min(queued_at) FROM deliveries WHERE state = 'in_flight')`).
		Scan(&total, &pending, &inFlight, &dead, &held, &grouped, &oldestPending, &oldestInFlight)
	if err != nil {
		return Stats{}, fmt.Errorf("delivery stats: %w", err)
	}
	// "delivered" counts every finished delivery: delivered, or never
	// sent by decision (suppressed, silenced, …), which only List tells
	// apart.
	st := Stats{ByState: map[string]int64{
		StatePending: pending, StateInFlight: inFlight, StateDead: dead, StateHeld: held, StateGrouped: grouped,
		StateDelivered: total - pending - inFlight - dead - held - grouped,
	}}
	var oldest int64
	for _, v := range []sql.NullInt64{oldestPending, oldestInFlight} {
		if v.Valid && (oldest == 0 || v.Int64 < oldest) {
			oldest = v.Int64
		}
	}
	if oldest != 0 {
		st.OldestPending = max(0, s.now().Sub(fromMicros(oldest)))
	}
	return st, nil
}

// RecentMessages returns the last n messages received, newest first, with
// their bodies.
func (s *Store) RecentMessages(ctx context.Context, n int) ([]Message, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, source, idem_key, received_at, webhook_type, rules_version, body
		FROM messages ORDER BY received_at DESC, id DESC LIMIT $1`, int64(n))
	if err != nil {
		return nil, fmt.Errorf("recent messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var key sql.NullString
		var rx int64
		if err := rows.Scan(&m.ID, &m.Source, &key, &rx, &m.WebhookType, &m.RulesVersion, &m.Body); err != nil {
			return nil, fmt.Errorf("recent messages: %w", err)
		}
		m.Key, m.ReceivedAt = key.String, fromMicros(rx)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent messages: %w", err)
	}
	return out, nil
}

// Sweep deletes what retention no longer keeps: delivered deliveries older
// than Retention.Delivered (since delivery), dead ones older than
// Retention.Dead (since they died), their attempts, messages older than
// Retention.Messages that no delivery refers to, and conversations resolved
// longer than Retention.Delivered ago (never an open one, nor one whose
// escalation is still to fire). It deletes in small transactions and
// returns how many deliveries, messages and conversations it deleted.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	total := 0
	// created_at <= delivered_at and <= updated_at, so the created_at range
	// narrows the scan through the created_at index.
	n, err := s.sweep(ctx, `SELECT id FROM deliveries
		WHERE created_at < $1 AND state = 'delivered' AND delivered_at < $1 LIMIT $2`,
		micros(now.Add(-s.o.Retention.Delivered)), true)
	total += n
	if err != nil {
		return total, fmt.Errorf("sweep delivered: %w", err)
	}
	n, err = s.sweep(ctx, `SELECT id FROM deliveries
		WHERE created_at < $1 AND state = 'dead' AND updated_at < $1 LIMIT $2`,
		micros(now.Add(-s.o.Retention.Dead)), true)
	total += n
	if err != nil {
		return total, fmt.Errorf("sweep dead: %w", err)
	}
	// Deliveries never sent by decision (throttled, silenced, dropped,
	// folded into a digest or a summary) are kept like delivered ones.
	n, err = s.sweep(ctx, `SELECT id FROM deliveries
		WHERE created_at < $1 AND state IN ('suppressed', 'silenced', 'dropped', 'digested', 'collapsed')
		AND updated_at < $1 LIMIT $2`,
		micros(now.Add(-s.o.Retention.Delivered)), true)
	total += n
	if err != nil {
		return total, fmt.Errorf("sweep suppressed: %w", err)
	}
	// Throttle windows long closed, and groups idle for as long, are
	// forgotten (a new match starts afresh).
	cutoff := micros(now.Add(-s.o.Retention.Delivered))
	if _, err := s.w.ExecContext(ctx, `DELETE FROM throttles WHERE window_end < $1`, cutoff); err != nil {
		return total, fmt.Errorf("sweep throttles: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM digest_groups WHERE state = 'idle' AND last_flush_at < $1`, cutoff); err != nil {
		return total, fmt.Errorf("sweep groups: %w", err)
	}
	if err := s.sweepSilences(ctx); err != nil {
		return total, fmt.Errorf("sweep silences: %w", err)
	}
	n, err = s.sweepConversations(ctx, cutoff)
	total += n
	if err != nil {
		return total, fmt.Errorf("sweep conversations: %w", err)
	}
	n, err = s.sweep(ctx, `SELECT id FROM messages m WHERE received_at < $1
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id) LIMIT $2`,
		micros(now.Add(-s.messageRetention())), false)
	total += n
	if err != nil {
		return total, fmt.Errorf("sweep messages: %w", err)
	}
	return total, nil
}

// sweep deletes, chunk by chunk, the deliveries (with their attempts) or
// messages that selectIDs finds.
func (s *Store) sweep(ctx context.Context, selectIDs string, cutoff int64, deliveries bool) (int, error) {
	total := 0
	for {
		n, err := s.sweepOnce(ctx, selectIDs, cutoff, deliveries)
		total += n
		if err != nil || n < sweepChunk {
			return total, err
		}
	}
}

func (s *Store) sweepOnce(ctx context.Context, selectIDs string, cutoff int64, deliveries bool) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, selectIDs, cutoff, int64(sweepChunk))
	if err != nil {
		return 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	args := stringArgs(ids)
	in := " IN (" + s.dialect.params(1, len(ids)) + ")"
	if deliveries {
		if _, err := tx.ExecContext(ctx, "DELETE FROM attempts WHERE delivery_id"+in, args...); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM deliveries WHERE id"+in, args...); err != nil {
			return 0, err
		}
	} else if _, err := tx.ExecContext(ctx, "DELETE FROM messages WHERE id"+in, args...); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// ReplayFilter selects dead letters to replay in bulk. Zero fields match
// everything.
type ReplayFilter struct {
	// Channel and Rule, if set, must equal the delivery's.
	Channel string
	Rule    string
	// Since, if set, keeps deliveries created at or after it.
	Since time.Time
	// Rerender, if set, renders each delivery again (with the current
	// rules and templates) from its message's body; the new parts replace
	// the stored ones. An error leaves that delivery dead and is reported
	// in ReplayResult.Failed.
	Rerender func(d StoredDelivery, body []byte) (notifiers.Parts, error)
}

// ReplayFailure is a dead letter a bulk replay left dead.
type ReplayFailure struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// ReplayResult is what a bulk replay did.
type ReplayResult struct {
	// Replayed counts the requeued deliveries.
	Replayed int `json:"replayed"`
	// Failed lists the deliveries that could not be rendered again.
	Failed []ReplayFailure `json:"failed,omitempty"`
}

// ReplayMatching requeues the dead letters f selects, oldest first, in
// chunks of a few hundred (each chunk one transaction).
func (s *Store) ReplayMatching(ctx context.Context, f ReplayFilter) (ReplayResult, error) {
	var res ReplayResult
	where, args := f.where()
	// Page by (created_at, id) so that deliveries left dead are not read
	// again.
	var after int64 = -1
	afterID := ""
	for {
		pargs := append(append([]any(nil), args...), after, after, afterID, int64(idsPerStatement))
		n := len(args)
		q := selectDelivery + " WHERE " + strings.Join(where, " AND ") +
			fmt.Sprintf(" AND (d.created_at > $%d OR (d.created_at = $%d AND d.id > $%d)) ORDER BY d.created_at, d.id LIMIT $%d",
				n+1, n+2, n+3, n+4)
		ds, err := queryDeliveries(ctx, s.r, q, pargs...)
		if err != nil {
			return res, fmt.Errorf("replay: %w", err)
		}
		if len(ds) == 0 {
			return res, nil
		}
		last := ds[len(ds)-1]
		after, afterID = micros(last.CreatedAt), last.ID
		n2, failed, err := s.replayChunk(ctx, ds, f.Rerender)
		res.Replayed += n2
		res.Failed = append(res.Failed, failed...)
		if err != nil {
			return res, err
		}
		if len(ds) < idsPerStatement {
			return res, nil
		}
	}
}

func (s *Store) replayChunk(ctx context.Context, ds []StoredDelivery, rerender func(StoredDelivery, []byte) (notifiers.Parts, error)) (int, []ReplayFailure, error) {
	now := micros(s.now())
	if rerender == nil {
		var failed []ReplayFailure
		ids := make([]string, 0, len(ds))
		for _, d := range ds {
			if neverRendered(d) {
				failed = append(failed, ReplayFailure{ID: d.ID, Error: msgNeverRendered})
				continue
			}
			ids = append(ids, d.ID)
		}
		if len(ids) == 0 {
			return 0, failed, nil
		}
		ids = sortedIDs(ids)
		res, err := s.w.ExecContext(ctx, replaySet+" WHERE state = 'dead' AND "+rendered+" AND id IN ("+s.dialect.params(2, len(ids))+")",
			append([]any{now}, stringArgs(ids)...)...)
		if err != nil {
			return 0, failed, fmt.Errorf("replay: %w", err)
		}
		n, err := res.RowsAffected()
		return int(n), failed, err
	}
	var failed []ReplayFailure
	type update struct {
		id    string
		parts string
	}
	var ups []update
	for _, d := range ds {
		var body []byte
		if err := s.r.QueryRowContext(ctx, "SELECT body FROM messages WHERE id = $1", d.MessageID).Scan(&body); err != nil {
			if !errors.Is(err, sql.ErrNoRows) {
				return 0, failed, fmt.Errorf("replay: read message %s: %w", d.MessageID, err)
			}
			failed = append(failed, ReplayFailure{ID: d.ID, Error: "its message is no longer stored"})
			continue
		}
		parts, err := rerender(d, body)
		if err != nil {
			failed = append(failed, ReplayFailure{ID: d.ID, Error: err.Error()})
			continue
		}
		b, err := json.Marshal(parts)
		if err != nil {
			failed = append(failed, ReplayFailure{ID: d.ID, Error: err.Error()})
			continue
		}
		ups = append(ups, update{d.ID, string(b)})
	}
	slices.SortFunc(ups, func(a, b update) int { return strings.Compare(a.id, b.id) })
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, failed, fmt.Errorf("replay: %w", err)
	}
	defer tx.Rollback()
	total := 0
	for _, u := range ups {
		res, err := tx.ExecContext(ctx, replaySet+", parts = $2, body_is_message = 0 WHERE state = 'dead' AND id = $3", now, clean(u.parts), u.id)
		if err != nil {
			return 0, failed, fmt.Errorf("replay: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, failed, fmt.Errorf("replay: %w", err)
		}
		total += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, failed, fmt.Errorf("replay: %w", err)
	}
	return total, failed, nil
}
