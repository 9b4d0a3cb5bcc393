package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

type enqueueReq struct {
	ctx      context.Context
	m        Message
	owner    string
	ds       []RoutedDelivery
	queuedAt time.Time
	done     chan enqueueResult // capacity 1: the writer never blocks
}

type enqueueResult struct {
	duplicate bool
	err       error
}

// Enqueue stores m and its deliveries in one transaction shared with other
// concurrent calls (group commit) and returns once it is durable.
//
// duplicate is true when a message with the same Source and Key was already
// stored (or is in the same batch ahead of this one): then nothing is
// inserted. Deliveries with LeaseUntil set are inserted in_flight and leased
// to owner. An error means nothing was stored; the caller should answer so
// that the sender tries again.
func (s *Store) Enqueue(ctx context.Context, m Message, owner string, ds []RoutedDelivery) (duplicate bool, err error) {
	if m.ID == "" || m.Source == "" {
		return false, errors.New("enqueue: message needs an ID and a source")
	}
	for _, d := range ds {
		if d.ID == "" || d.Channel == "" {
			return false, fmt.Errorf("enqueue: message %s: delivery needs an ID and a channel", m.ID)
		}
		if !d.LeaseUntil.IsZero() && d.DeadError == "" && owner == "" {
			return false, fmt.Errorf("enqueue: message %s: leased delivery needs an owner", m.ID)
		}
	}
	req := &enqueueReq{ctx: ctx, m: m, owner: owner, ds: ds, queuedAt: time.Now(), done: make(chan enqueueResult, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, ErrClosed
	}
	s.queue = append(s.queue, req)
	n := len(s.queue)
	s.mu.Unlock()
	if n == 1 {
		s.signal(s.wake)
	}
	if n >= s.o.BatchSize {
		s.signal(s.full)
	}
	select {
	case r := <-req.done:
		return r.duplicate, r.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// writeLoop is the group-commit writer: it runs from Open to Close.
func (s *Store) writeLoop() {
	defer close(s.stopped)
	for {
		<-s.wake
		for {
			batch, fins, closed := s.collect()
			if len(batch) > 0 || len(fins) > 0 {
				s.commit(batch, fins)
				s.ck.committed()
				continue
			}
			if closed {
				return
			}
			break
		}
	}
}

// collect waits until the oldest queued request has waited BatchWait or a
// batch is full, then takes up to BatchSize requests and every waiting
// Finish. With no message queued it takes the waiting Finishes at once.
// After Close it takes what is queued without waiting.
func (s *Store) collect() (batch []*enqueueReq, fins []*finishReq, closed bool) {
	for {
		s.mu.Lock()
		closed = s.closed
		if len(s.queue) == 0 {
			fins, s.finishes = s.finishes, nil
			s.mu.Unlock()
			return nil, fins, closed
		}
		wait := s.o.BatchWait - time.Since(s.queue[0].queuedAt)
		if closed || wait <= 0 || len(s.queue) >= s.o.BatchSize {
			n := min(len(s.queue), s.o.BatchSize)
			batch = make([]*enqueueReq, n)
			copy(batch, s.queue)
			rest := copy(s.queue, s.queue[n:])
			clear(s.queue[rest:])
			s.queue = s.queue[:rest]
			fins, s.finishes = s.finishes, nil
			s.mu.Unlock()
			return batch, fins, closed
		}
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.full:
		case <-s.wake: // Close, or a Finish
		}
		t.Stop()
	}
}

// commit writes one batch of messages and the waiting outcomes in one
// transaction and answers every request. When the two fail together they
// are tried apart, so that outcomes that cannot be recorded never turn
// messages away, nor the reverse.
func (s *Store) commit(batch []*enqueueReq, fins []*finishReq) {
	// Callers that gave up are answered by their own context; leave their
	// messages and outcomes out so that nobody is told "stored" wrongly.
	live := batch[:0:0]
	for _, r := range batch {
		if r.ctx.Err() == nil {
			live = append(live, r)
		}
	}
	liveFins := fins[:0:0]
	for _, f := range fins {
		if f.ctx.Err() == nil {
			liveFins = append(liveFins, f)
		}
	}
	if len(live) == 0 && len(liveFins) == 0 {
		return
	}
	// Within the batch, the first request with a key wins; later ones are
	// duplicates of it and share its fate.
	firstOf := make(map[[3]string]int, len(live))
	dupOf := make([]int, len(live))
	unique := make([]*enqueueReq, 0, len(live))
	for i, r := range live {
		dupOf[i] = -1
		// Keys and body hashes live in separate namespaces: "k" and "b".
		var buf [2][3]string
		ks := buf[:0]
		if key := clean(r.m.Key); key != "" {
			ks = append(ks, [3]string{"k", clean(r.m.Source), key})
		}
		if h := clean(r.m.BodyHash); h != "" {
			ks = append(ks, [3]string{"b", clean(r.m.Source), h})
		}
		for _, k := range ks {
			if j, ok := firstOf[k]; ok {
				dupOf[i] = j
				break
			}
		}
		if dupOf[i] >= 0 {
			continue
		}
		for _, k := range ks {
			firstOf[k] = i
		}
		unique = append(unique, r)
	}

	start := time.Now()
	// SQLite writes on to a removed or replaced file: nothing committed
	// there survives a restart, so nothing may be acknowledged. Nor when
	// the disk is all but full. Outcomes are still recorded.
	msgErr := s.Health()
	if msgErr != nil {
		unique = nil
	}
	var (
		inserted map[string]bool
		lost     [][]string
		finErrs  = make([]error, len(liveFins))
	)
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	if len(unique) > 0 || len(liveFins) > 0 {
		var err error
		inserted, lost, err = s.write(ctx, unique, liveFins)
		if err != nil && len(unique) > 0 && len(liveFins) > 0 {
			inserted, _, err = s.write(ctx, unique, nil)
			lost = make([][]string, len(liveFins))
			for i, f := range liveFins {
				_, l, ferr := s.write(ctx, nil, []*finishReq{f})
				if finErrs[i] = ferr; ferr == nil {
					lost[i] = l[0]
				}
				s.noteErr(ferr)
			}
		} else {
			for i := range finErrs {
				finErrs[i] = err
			}
		}
		if len(unique) > 0 {
			msgErr = err
		}
		s.noteErr(err)
	}
	cancel()
	if m := s.o.Metrics; m != nil && len(live) > 0 {
		m.IngestBatchSize.Observe(float64(len(live)))
		m.CommitDuration.Observe(time.Since(start).Seconds())
	}
	if msgErr != nil {
		msgErr = fmt.Errorf("commit ingest batch: %w", msgErr)
	}
	for i, r := range live {
		switch {
		case msgErr != nil:
			r.done <- enqueueResult{err: msgErr}
		case dupOf[i] >= 0:
			r.done <- enqueueResult{duplicate: true}
		default:
			r.done <- enqueueResult{duplicate: !inserted[r.m.ID]}
		}
	}
	for i, f := range liveFins {
		if finErrs[i] != nil {
			f.done <- finishResult{err: finErrs[i]}
			continue
		}
		f.done <- finishResult{lost: lost[i]}
	}
}

// write inserts the messages of reqs, skipping those whose (source, key)
// or (source, body hash) is already stored, and the deliveries of the
// inserted ones, records the outcomes of fins, and commits. It returns
// the IDs of the inserted messages and, for each of fins, the outcomes
// whose lease was lost.
func (s *Store) write(ctx context.Context, reqs []*enqueueReq, fins []*finishReq) (inserted map[string]bool, lost [][]string, err error) {
	nd := 0
	for _, r := range reqs {
		nd += len(r.ds)
	}
	var outs []Outcome
	for _, f := range fins {
		outs = append(outs, f.outs...)
	}
	// Statements are prepared on the writer's connection before the
	// transaction takes it.
	if len(reqs) > 0 {
		if err := s.stmts.prepare(ctx, "insert messages", len(reqs), s.dialect.insertMessagesSQL); err != nil {
			return nil, nil, err
		}
		if err := s.stmts.prepare(ctx, "insert deliveries", nd, s.dialect.insertDeliveriesSQL); err != nil {
			return nil, nil, err
		}
	}
	if len(outs) > 0 {
		if err := s.prepareFinish(ctx, len(outs)); err != nil {
			return nil, nil, fmt.Errorf("record outcomes: %w", err)
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	if len(reqs) > 0 {
		if inserted, err = s.insertIn(ctx, tx, reqs); err != nil {
			return nil, nil, err
		}
	}
	var lostIDs []string
	if len(outs) > 0 {
		if lostIDs, err = s.finishIn(ctx, tx, outs); err != nil {
			return nil, nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	s.writes.Add(1)
	lost = make([][]string, len(fins))
	if len(lostIDs) > 0 {
		gone := make(map[string]bool, len(lostIDs))
		for _, id := range lostIDs {
			gone[id] = true
		}
		for i, f := range fins {
			for _, o := range f.outs {
				if gone[o.ID] {
					lost[i] = append(lost[i], o.ID)
				}
			}
		}
	}
	return inserted, lost, nil
}

// insertIn inserts the messages of reqs in tx, skipping those whose
// (source, key) or (source, body hash) is already stored, then the
// deliveries of the inserted ones. It returns the IDs of the inserted
// messages.
func (s *Store) insertIn(ctx context.Context, tx *sql.Tx, reqs []*enqueueReq) (map[string]bool, error) {
	now := s.now()
	inserted := make(map[string]bool, len(reqs))
	start := 0
	for _, n := range shapes(len(reqs)) {
		if err := s.insertMessages(ctx, tx, reqs[start:start+n], now, inserted); err != nil {
			return nil, err
		}
		start += n
	}
	if err := s.decide(ctx, tx, reqs, inserted, now); err != nil {
		return nil, err
	}
	if err := s.converse(ctx, tx, reqs, inserted, now); err != nil {
		return nil, err
	}
	rows := s.scratch.rows[:0]
	defer func() { s.scratch.rows = clearRows(rows) }()
	for _, r := range reqs {
		if !inserted[r.m.ID] {
			continue
		}
		for i := range r.ds {
			row, err := newDeliveryRow(r.m, r.owner, &r.ds[i], now)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		}
	}
	start = 0
	for _, n := range shapes(len(rows)) {
		if err := s.insertShape(ctx, tx, rows[start:start+n]); err != nil {
			return nil, err
		}
		start += n
	}
	return inserted, nil
}

const messageColumns = 8

// insertMessagesSQL is the INSERT of rows messages.
func (d dialect) insertMessagesSQL(rows int) string {
	var q strings.Builder
	q.WriteString("INSERT INTO messages (id, source, idem_key, received_at, webhook_type, rules_version, body, body_hash) VALUES ")
	for i := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(" + d.params(i*messageColumns+1, messageColumns) + ")")
	}
	// No conflict target: a message is skipped when its (source, key) or
	// its (source, body hash) is already stored.
	q.WriteString(" ON CONFLICT DO NOTHING RETURNING id")
	return q.String()
}

// insertMessages inserts reqs (a prepared shape) and adds the IDs of the
// messages it inserted to inserted.
func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, reqs []*enqueueReq, now time.Time, inserted map[string]bool) error {
	st, err := s.stmts.in(ctx, tx, "insert messages", len(reqs))
	if err != nil {
		return fmt.Errorf("insert messages: %w", err)
	}
	args := s.scratch.args[:0]
	defer func() { s.scratch.args = clearArgs(args) }()
	for _, r := range reqs {
		var key any
		if k := clean(r.m.Key); k != "" {
			key = k
		}
		received := r.m.ReceivedAt
		if received.IsZero() {
			received = now
		}
		body := r.m.Body
		if body == nil {
			body = []byte{}
		}
		var bodyHash any
		if h := clean(r.m.BodyHash); h != "" {
			bodyHash = h
		}
		args = append(args, r.m.ID, clean(r.m.Source), key, micros(received),
			clean(r.m.WebhookType), clean(r.m.RulesVersion), body, bodyHash)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("insert messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert messages: %w", err)
	}
	return nil
}

// deliveryRow is a delivery's columns as inserted.
type deliveryRow struct {
	id, messageID, rule, channel string
	test                         int64
	parts                        string
	state                        string
	now, next, queued            int64
	leaseOwner                   any // string or nil
	leaseUntil                   any // int64 or nil
	lastError                    string
	reason                       string
	groupID                      any // string or nil
	// bodyIsMessage is 1 when parts leave out a request body that is the
	// message's own: the body is stored once, in messages.
	bodyIsMessage int64
}

// newDeliveryRow builds the row of a delivery; the state comes from
// Decided when decide set it.
func newDeliveryRow(m Message, owner string, d *RoutedDelivery, now time.Time) (deliveryRow, error) {
	parts, bodyIsMessage := d.Parts, int64(0)
	if parts.Body != "" && len(m.Body) > 0 && parts.Body == string(m.Body) {
		// The message's body is already in messages: store it once.
		parts.Body, bodyIsMessage = "", 1
	}
	encoded, err := encodeParts(&parts)
	if err != nil {
		return deliveryRow{}, fmt.Errorf("encode parts of delivery %s: %w", d.ID, err)
	}
	row := deliveryRow{
		id: d.ID, messageID: m.ID, rule: clean(d.Rule), channel: clean(d.Channel),
		parts: encoded, state: StatePending, now: micros(now), next: micros(now), queued: micros(now),
		bodyIsMessage: bodyIsMessage,
	}
	if d.Test {
		row.test = 1
	}
	switch {
	case d.DeadError != "":
		row.state, row.lastError = StateDead, clean(d.DeadError)
	case d.Decided == StateHeld:
		// The retry window (max_age) counts from the end of the hold.
		row.state, row.next, row.queued = StateHeld, microsCeil(d.HoldUntil), microsCeil(d.HoldUntil)
	case d.Decided != "" && d.Decided != StateInFlight && d.Decided != StatePending:
		row.state = d.Decided
	case !d.NotBefore.IsZero():
		row.next = microsCeil(d.NotBefore)
	case !d.LeaseUntil.IsZero():
		row.state, row.leaseOwner, row.leaseUntil = StateInFlight, clean(owner), micros(d.LeaseUntil)
	}
	d.Decided = row.state
	row.reason = clean(d.DecidedReason)
	if d.Decided == StateGrouped {
		row.groupID = d.groupID
	}
	return row, nil
}

const deliveryColumns = 19

// insertDeliveriesSQL is the INSERT of rows deliveries.
func (d dialect) insertDeliveriesSQL(rows int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO deliveries (id, message_id, rule, channel, test, parts, state, attempts,
		queued_attempts, queued_at, next_attempt_at, lease_owner, lease_until, last_error, created_at, updated_at,
		reason, group_id, body_is_message) VALUES `)
	for i := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(" + d.params(i*deliveryColumns+1, deliveryColumns) + ")")
	}
	return q.String()
}

// insertShape inserts rows (a prepared shape) on the ingest path.
func (s *Store) insertShape(ctx context.Context, tx *sql.Tx, rows []deliveryRow) error {
	st, err := s.stmts.in(ctx, tx, "insert deliveries", len(rows))
	if err != nil {
		return fmt.Errorf("insert deliveries: %w", err)
	}
	args := deliveryArgs(s.scratch.args[:0], rows)
	defer func() { s.scratch.args = clearArgs(args) }()
	if _, err := st.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("insert deliveries: %w", err)
	}
	return nil
}

// insertDeliveries inserts rows with an unprepared statement: for the
// occasional writes (digests, collapses) outside the ingest path.
func insertDeliveries(ctx context.Context, tx *sql.Tx, d dialect, rows []deliveryRow) error {
	if _, err := tx.ExecContext(ctx, d.insertDeliveriesSQL(len(rows)), deliveryArgs(nil, rows)...); err != nil {
		return fmt.Errorf("insert deliveries: %w", err)
	}
	return nil
}

// deliveryArgs appends the parameters of insertDeliveriesSQL(len(rows))
// to args.
func deliveryArgs(args []any, rows []deliveryRow) []any {
	args = slices.Grow(args, len(rows)*deliveryColumns)
	for _, r := range rows {
		args = append(args, r.id, r.messageID, r.rule, r.channel, r.test, r.parts, r.state, int64(0),
			int64(0), r.queued, r.next, r.leaseOwner, r.leaseUntil, r.lastError, r.now, r.now,
			r.reason, r.groupID, r.bodyIsMessage)
	}
	return args
}
