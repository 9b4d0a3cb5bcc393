package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/internal/fatigue"
)

// decide settles the alert-fatigue state of the deliveries of the
// messages just inserted, inside the ingest transaction, so that a
// throttle window or a digest group is shared exactly by every replica:
// silenced and dropped (decided at routing) first, then the throttle,
// then grouping, then quiet-hours holds. It sets each delivery's Decided
// state (Enqueue's caller reads it back) unless the delivery keeps the
// default (leased or pending).
//
// Throttle rows, then group rows, are locked in key order, so that two
// replicas' transactions cannot deadlock on PostgreSQL.
func (s *Store) decide(ctx context.Context, tx *sql.Tx, reqs []*enqueueReq, inserted map[string]bool, now time.Time) error {
	type ref struct {
		req, d int
	}
	var throttled, grouped []ref
	// place puts a delivery at step of the fatigue order: settled at once,
	// or queued for the throttle or group pass.
	place := func(x ref, step fatigue.Step) {
		d := &reqs[x.req].ds[x.d]
		switch step {
		case fatigue.Silence, fatigue.QuietDrop, fatigue.Hold:
			d.Decided, d.DecidedReason = d.Preset, d.Reason
		case fatigue.Throttle:
			throttled = append(throttled, x)
		case fatigue.Group:
			grouped = append(grouped, x)
		}
	}
	for i, r := range reqs {
		if !inserted[r.m.ID] {
			continue
		}
		for j := range r.ds {
			d := &r.ds[j]
			d.Decided, d.DecidedReason = "", ""
			if d.DeadError == "" {
				place(ref{i, j}, fatigue.First(d.facts()))
			}
		}
	}

	// One throttle decision per message and rule, whatever the number of
	// its targets.
	slices.SortStableFunc(throttled, func(a, b ref) int {
		da, db := &reqs[a.req].ds[a.d], &reqs[b.req].ds[b.d]
		return cmp.Or(cmp.Compare(da.Rule, db.Rule), cmp.Compare(da.Throttle.Key, db.Throttle.Key))
	})
	type verdict struct {
		pass       bool
		suppressed int // before this one (pass) or so far (not pass)
		windowEnd  time.Time
	}
	verdicts := map[[2]string]verdict{} // message ID, rule
	for _, x := range throttled {
		r := reqs[x.req]
		d := &r.ds[x.d]
		vk := [2]string{r.m.ID, d.Rule}
		v, ok := verdicts[vk]
		if !ok {
			pass, n, end, err := s.throttle(ctx, tx, d.Rule, d.Throttle.Key, d.Throttle.Every, now)
			if err != nil {
				return fmt.Errorf("throttle %q: %w", d.Rule, err)
			}
			v = verdict{pass, n, end}
			verdicts[vk] = v
		}
		if !v.pass {
			d.Decided = StateSuppressed
			d.DecidedReason = fmt.Sprintf("throttled: key %q already notified; window ends %s (%d suppressed so far)",
				d.Throttle.Key, v.windowEnd.UTC().Format(time.RFC3339), v.suppressed)
			continue
		}
		if v.suppressed > 0 && d.Throttle.Rerender != nil {
			parts, err := d.Throttle.Rerender(v.suppressed)
			if err != nil {
				d.DeadError = err.Error()
				continue
			}
			d.Parts = parts
			d.DecidedReason = fmt.Sprintf("throttle window reopened; %d suppressed before", v.suppressed)
		}
		place(x, fatigue.Next(d.facts(), fatigue.Throttle))
	}

	slices.SortStableFunc(grouped, func(a, b ref) int {
		da, db := &reqs[a.req].ds[a.d], &reqs[b.req].ds[b.d]
		return cmp.Or(cmp.Compare(da.Rule, db.Rule), cmp.Compare(da.Group.Key, db.Group.Key),
			cmp.Compare(da.Channel, db.Channel))
	})
	type group struct {
		id    string
		flush time.Time
	}
	groups := map[[3]string]group{}
	for _, x := range grouped {
		d := &reqs[x.req].ds[x.d]
		gk := [3]string{d.Rule, d.Group.Key, d.Channel}
		g, ok := groups[gk]
		if !ok {
			id, flush, err := s.openGroup(ctx, tx, d.Rule, d.Group.Key, d.Channel, d.Group.Wait, d.Group.Interval, now)
			if err != nil {
				return fmt.Errorf("group %q: %w", d.Rule, err)
			}
			g = group{id, flush}
			groups[gk] = g
		}
		d.Decided, d.groupID = StateGrouped, g.id
		d.DecidedReason = fmt.Sprintf("grouped (key %q); digest due %s", d.Group.Key, g.flush.UTC().Format(time.RFC3339))
	}
	return nil
}

// facts says which steps of the fatigue order concern d: ingest presets
// what silences and quiet hours decided, and the rule's specs say whether
// it throttles and groups.
func (d *RoutedDelivery) facts() fatigue.Facts {
	return fatigue.Facts{
		Silenced:  d.Preset == StateSilenced,
		QuietDrop: d.Preset == StateDropped,
		Throttled: d.Throttle != nil,
		Grouped:   d.Group != nil,
		QuietHold: d.Preset == StateHeld,
	}
}

// throttle records one match of (rule, key): pass is true when no window
// is open, which opens one until now+every; suppressed is then the number
// of matches the previous window suppressed. When a window is open the
// match is counted and suppressed is the count so far.
func (s *Store) throttle(ctx context.Context, tx *sql.Tx, rule, key string, every time.Duration, now time.Time) (pass bool, suppressed int, windowEnd time.Time, err error) {
	rule, key = clean(rule), clean(key)
	start, end := micros(now), micros(now.Add(every))
	res, err := tx.ExecContext(ctx, `INSERT INTO throttles (rule, throttle_key, window_start, window_end, suppressed)
		VALUES ($1, $2, $3, $4, 0) ON CONFLICT (rule, throttle_key) DO NOTHING`, rule, key, start, end)
	if err != nil {
		return false, 0, time.Time{}, err
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return true, 0, fromMicros(end), nil
	}
	var wEnd int64
	var n int
	err = tx.QueryRowContext(ctx, `SELECT window_end, suppressed FROM throttles
		WHERE rule = $1 AND throttle_key = $2`+s.forUpdate(), rule, key).Scan(&wEnd, &n)
	if err != nil {
		return false, 0, time.Time{}, err
	}
	if wEnd > start {
		_, err = tx.ExecContext(ctx, `UPDATE throttles SET suppressed = suppressed + 1
			WHERE rule = $1 AND throttle_key = $2`, rule, key)
		return false, n + 1, fromMicros(wEnd), err
	}
	_, err = tx.ExecContext(ctx, `UPDATE throttles SET window_start = $1, window_end = $2, suppressed = 0
		WHERE rule = $3 AND throttle_key = $4`, start, end, rule, key)
	return true, n, fromMicros(end), err
}

// forUpdate locks the rows a SELECT reads until the transaction ends
// (SQLite's single writer needs nothing).
func (s *Store) forUpdate() string {
	if s.dialect == postgresDialect {
		return " FOR UPDATE"
	}
	return ""
}

// openGroup adds a match to the group (rule, key, channel), opening it if
// it is idle: due wait from now, and no sooner than interval after its
// last digest. It returns the group's ID and when its digest is due.
func (s *Store) openGroup(ctx context.Context, tx *sql.Tx, rule, key, channel string, wait, interval time.Duration, now time.Time) (string, time.Time, error) {
	var id string
	var flush int64
	err := tx.QueryRowContext(ctx, `INSERT INTO digest_groups
			(id, rule, group_key, channel, state, opened_at, flush_at, last_flush_at, digests)
		VALUES ($1, $2, $3, $4, 'open', $5, $6, NULL, 0)
		ON CONFLICT (rule, group_key, channel) DO UPDATE SET
			flush_at = CASE
				WHEN digest_groups.state = 'open' THEN digest_groups.flush_at
				WHEN digest_groups.last_flush_at IS NOT NULL AND digest_groups.last_flush_at + $7 > excluded.flush_at
					THEN digest_groups.last_flush_at + $7
				ELSE excluded.flush_at END,
			opened_at = CASE WHEN digest_groups.state = 'open' THEN digest_groups.opened_at ELSE excluded.opened_at END,
			state = 'open'
		RETURNING id, flush_at`,
		"grp-"+uuid.Must(uuid.NewV7()).String(), clean(rule), clean(key), clean(channel),
		micros(now), microsCeil(now.Add(wait)), interval.Microseconds()).Scan(&id, &flush)
	if err != nil {
		return "", time.Time{}, err
	}
	return id, fromMicros(flush), nil
}

// ErrGroupBusy is returned by FlushGroup when another replica holds the
// group or it is no longer due.
var ErrGroupBusy = errors.New("group is not due or is being flushed elsewhere")

// Group is a digest group.
type Group struct {
	ID, Rule, Key, Channel string
	OpenedAt, FlushAt      time.Time
	LastFlushAt            time.Time // zero before the first digest
	Digests                int
}

// FlushPlan says what FlushGroup does with a due group.
type FlushPlan struct {
	// Postpone, if not zero, moves the digest to that time (quiet hours
	// with hold) and changes nothing else.
	Postpone time.Time
	// Drop, if not empty, ends the group's waiting matches as dropped with
	// this reason (quiet hours with drop, or the rule is gone).
	Drop string
	// Digests are inserted pending and due now; the waiting matches become
	// digested. Deliveries with DeadError are inserted dead.
	Digests []RoutedDelivery
}

// GroupLoader reads the waiting matches of the group being flushed: the
// messages of the first max of them, oldest first, and how many there are.
type GroupLoader func(max int) (msgs []Message, count int, err error)

// DueGroups returns the IDs of open groups whose digest is due at now,
// most overdue first.
func (s *Store) DueGroups(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM digest_groups WHERE state = 'open' AND flush_at <= $1
		ORDER BY flush_at LIMIT $2`, micros(now), int64(limit))
	if err != nil {
		return nil, fmt.Errorf("due groups: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("due groups: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// NextGroupDue returns when the earliest open group is due (zero: none).
func (s *Store) NextGroupDue(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(flush_at) FROM digest_groups WHERE state = 'open'`).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("next group due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return fromMicros(next.Int64), nil
}

// FlushGroup flushes one due group in one transaction: it locks the group
// (ErrGroupBusy if it is not due or another replica holds it), asks plan
// what to do, and applies the plan. Exactly one replica thus sends each
// digest. The plan runs inside the transaction: keep it to rendering.
func (s *Store) FlushGroup(ctx context.Context, id string, now time.Time,
	plan func(g Group, load GroupLoader) (FlushPlan, error)) (Group, FlushPlan, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Group{}, FlushPlan{}, fmt.Errorf("flush group: %w", err)
	}
	defer tx.Rollback()
	nowUS := micros(now)
	var g Group
	var opened, flush int64
	var last sql.NullInt64
	skip := ""
	if s.dialect == postgresDialect {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	err = tx.QueryRowContext(ctx, `SELECT id, rule, group_key, channel, opened_at, flush_at, last_flush_at, digests
		FROM digest_groups WHERE id = $1 AND state = 'open' AND flush_at <= $2`+skip, id, nowUS).
		Scan(&g.ID, &g.Rule, &g.Key, &g.Channel, &opened, &flush, &last, &g.Digests)
	if errors.Is(err, sql.ErrNoRows) {
		return Group{}, FlushPlan{}, ErrGroupBusy
	}
	if err != nil {
		return Group{}, FlushPlan{}, fmt.Errorf("flush group: %w", err)
	}
	g.OpenedAt, g.FlushAt = fromMicros(opened), fromMicros(flush)
	if last.Valid {
		g.LastFlushAt = fromMicros(last.Int64)
	}
	load := func(max int) ([]Message, int, error) {
		var count int
		if err := tx.QueryRowContext(ctx, `SELECT count(DISTINCT message_id) FROM deliveries
			WHERE group_id = $1 AND state = 'grouped'`, id).Scan(&count); err != nil {
			return nil, 0, err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, source, received_at, webhook_type, rules_version, body
			FROM messages WHERE id IN (SELECT message_id FROM deliveries WHERE group_id = $1 AND state = 'grouped')
			ORDER BY received_at, id LIMIT $2`, id, int64(max))
		if err != nil {
			return nil, 0, err
		}
		defer rows.Close()
		var out []Message
		for rows.Next() {
			var m Message
			var rx int64
			if err := rows.Scan(&m.ID, &m.Source, &rx, &m.WebhookType, &m.RulesVersion, &m.Body); err != nil {
				return nil, 0, err
			}
			m.ReceivedAt = fromMicros(rx)
			out = append(out, m)
		}
		return out, count, rows.Err()
	}
	p, err := plan(g, load)
	if err != nil {
		return g, p, fmt.Errorf("flush group %s: %w", id, err)
	}
	switch {
	case !p.Postpone.IsZero():
		_, err = tx.ExecContext(ctx, `UPDATE digest_groups SET flush_at = $1 WHERE id = $2`, microsCeil(p.Postpone), id)
	case p.Drop != "":
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = 'dropped', reason = $1, updated_at = $2
			WHERE group_id = $3 AND state = 'grouped'`, clean(p.Drop), nowUS, id)
		if err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE digest_groups SET state = 'idle' WHERE id = $1`, id)
		}
	default:
		err = s.insertDigests(ctx, tx, g, p.Digests, now)
	}
	if err != nil {
		return g, p, fmt.Errorf("flush group %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return g, p, fmt.Errorf("flush group %s: %w", id, err)
	}
	return g, p, nil
}

// insertDigests stores a group's digests, due now, and marks its waiting
// matches digested.
func (s *Store) insertDigests(ctx context.Context, tx *sql.Tx, g Group, ds []RoutedDelivery, now time.Time) error {
	nowUS := micros(now)
	var rows []deliveryRow
	for i := range ds {
		d := &ds[i]
		if d.MessageID == "" {
			return fmt.Errorf("digest %s has no message", d.ID)
		}
		row, err := newDeliveryRow(Message{ID: d.MessageID}, "", d, now)
		if err != nil {
			return err
		}
		row.groupID, row.reason = g.ID, clean(d.DecidedReason)
		rows = append(rows, row)
	}
	if len(rows) > 0 {
		if err := insertDeliveries(ctx, tx, s.dialect, rows); err != nil {
			return err
		}
	}
	reason := "in a digest"
	if len(ds) > 0 {
		reason = "in digest " + ds[0].ID
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'digested', reason = $1, updated_at = $2
		WHERE group_id = $3 AND state = 'grouped'`, reason, nowUS, g.ID); err != nil {
		return err
	}
	n := 0
	if len(ds) > 0 {
		n = 1
	}
	_, err := tx.ExecContext(ctx, `UPDATE digest_groups SET state = 'idle', last_flush_at = $1, digests = digests + $2
		WHERE id = $3`, nowUS, int64(n), g.ID)
	return err
}

// ThrottleState returns the current window of (rule, key): open is true
// while now is inside it.
func (s *Store) ThrottleState(ctx context.Context, rule, key string, now time.Time) (open bool, windowEnd time.Time, suppressed int, err error) {
	var end int64
	err = s.r.QueryRowContext(ctx, `SELECT window_end, suppressed FROM throttles WHERE rule = $1 AND throttle_key = $2`,
		clean(rule), clean(key)).Scan(&end, &suppressed)
	if errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, 0, nil
	}
	if err != nil {
		return false, time.Time{}, 0, fmt.Errorf("throttle state: %w", err)
	}
	return end > micros(now), fromMicros(end), suppressed, nil
}

// GroupState returns the group (rule, key, channel), if it exists, and
// how many matches wait in it.
func (s *Store) GroupState(ctx context.Context, rule, key, channel string) (g Group, state string, waiting int, err error) {
	var opened, flush int64
	var last sql.NullInt64
	err = s.r.QueryRowContext(ctx, `SELECT id, state, opened_at, flush_at, last_flush_at, digests FROM digest_groups
		WHERE rule = $1 AND group_key = $2 AND channel = $3`, clean(rule), clean(key), clean(channel)).
		Scan(&g.ID, &state, &opened, &flush, &last, &g.Digests)
	if errors.Is(err, sql.ErrNoRows) {
		return Group{}, "", 0, nil
	}
	if err != nil {
		return Group{}, "", 0, fmt.Errorf("group state: %w", err)
	}
	g.Rule, g.Key, g.Channel = rule, key, channel
	g.OpenedAt, g.FlushAt = fromMicros(opened), fromMicros(flush)
	if last.Valid {
		g.LastFlushAt = fromMicros(last.Int64)
	}
	if state == "open" {
		err = s.r.QueryRowContext(ctx, `SELECT count(DISTINCT message_id) FROM deliveries
			WHERE group_id = $1 AND state = 'grouped'`, g.ID).Scan(&waiting)
	}
	return g, state, waiting, err
}

// Collapse folds owner's leased deliveries ids into one summary delivery
// (pacing): in one transaction those still leased to owner become
// collapsed, and the summary, rendered by summarize from the IDs actually
// collapsed, is inserted leased to owner until leaseUntil. It returns the
// collapsed IDs; with none, nothing is inserted and summary is zero.
func (s *Store) Collapse(ctx context.Context, owner string, ids []string, leaseUntil time.Time,
	summarize func(collapsed []string) RoutedDelivery) (collapsed []string, summary RoutedDelivery, err error) {
	owner = clean(owner)
	ids = sortedIDs(ids)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, RoutedDelivery{}, fmt.Errorf("collapse deliveries: %w", err)
	}
	defer tx.Rollback()
	now := s.now()
	summaryID := "sum-" + uuid.Must(uuid.NewV7()).String()
	for start := 0; start < len(ids); start += idsPerStatement {
		chunk := ids[start:min(start+idsPerStatement, len(ids))]
		args := append([]any{"collapsed into pacing summary " + summaryID, micros(now), owner}, stringArgs(chunk)...)
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET state = 'collapsed', reason = $1, updated_at = $2,
			lease_owner = NULL, lease_until = NULL
			WHERE state = 'in_flight' AND lease_owner = $3 AND id IN (`+s.dialect.params(4, len(chunk))+`)
			RETURNING id`, args...)
		if err != nil {
			return nil, RoutedDelivery{}, fmt.Errorf("collapse deliveries: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, RoutedDelivery{}, fmt.Errorf("collapse deliveries: %w", err)
			}
			collapsed = append(collapsed, id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, RoutedDelivery{}, fmt.Errorf("collapse deliveries: %w", err)
		}
	}
	if len(collapsed) == 0 {
		return nil, RoutedDelivery{}, nil
	}
	summary = summarize(collapsed)
	summary.ID, summary.LeaseUntil = summaryID, leaseUntil
	row, err := newDeliveryRow(Message{ID: summary.MessageID}, owner, &summary, now)
	if err != nil {
		return nil, RoutedDelivery{}, err
	}
	if err := insertDeliveries(ctx, tx, s.dialect, []deliveryRow{row}); err != nil {
		return nil, RoutedDelivery{}, fmt.Errorf("collapse deliveries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, RoutedDelivery{}, fmt.Errorf("collapse deliveries: %w", err)
	}
	return collapsed, summary, nil
}
