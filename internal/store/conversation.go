package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// Conversation states.
const (
	// ConversationOpen conversations await their resolution.
	ConversationOpen = "open"
	// ConversationResolved conversations were closed by a resolving rule
	// (or are remembered resolutions that arrived before their failure).
	ConversationResolved = "resolved"
)

// ConversationSpec places a delivery in the conversation (Rule, Key).
// Enqueue decides, in the ingest transaction, whether the message opens,
// continues or resolves it, or arrives out of order.
type ConversationSpec struct {
	// Rule and Key identify the conversation; for a resolving delivery
	// Rule is the rule it resolves.
	Rule, Key string
	// Resolves is set when the delivery's rule closes the conversation.
	Resolves bool
	// EventAt is the payload's own time; zero when it has none (such a
	// message cannot reopen a resolved conversation).
	EventAt time.Time
	// Ref is stored in the delivery's parts (Parts.Conversation).
	Ref *notifiers.Conversation
	// Rerender renders the delivery again with .Previous.
	Rerender func(Previous) (notifiers.Parts, error)
	// Escalate, if set, is stored with a new conversation.
	Escalate *EscalationSpec
}

// EscalationSpec is a rendered escalation: a delivery to Channel with
// Parts, made After the conversation opened if it is still open then (or
// regardless, when UnlessResolved is false). Err, if not empty, makes it
// dead at once when due.
type EscalationSpec struct {
	After          time.Duration
	UnlessResolved bool
	Channel        string
	Parts          notifiers.Parts
	Err            string
}

// Previous are the earlier notifications of a conversation.
type Previous struct {
	Count           int
	FirstAt, LastAt time.Time
	Text, Subject   string
}

// convRow is a conversations row.
type convRow struct {
	state                      string
	notifications              int
	firstAt, lastAt            int64
	lastText, lastSubject      string
	openedEvent, resolvedEvent int64
	resolvedBy                 string
}

func (s *Store) loadConversation(ctx context.Context, tx *sql.Tx, rule, key string) (c convRow, found bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT state, notifications, first_at, last_at, last_text, last_subject,
		opened_event_at, resolved_event_at, resolved_by FROM conversations WHERE rule = $1 AND conv_key = $2`+s.forUpdate(),
		rule, key).Scan(&c.state, &c.notifications, &c.firstAt, &c.lastAt, &c.lastText, &c.lastSubject,
		&c.openedEvent, &c.resolvedEvent, &c.resolvedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

// converse settles the conversations of the messages just inserted, after
// decide (a throttled or silenced delivery takes no part). Per message and
// rule: an opening rule opens the conversation (with its escalation),
// continues an open one (rendered again with .Previous) or, when the
// conversation was resolved by a newer event, is suppressed as out of
// order; a resolving rule closes an open conversation, or is suppressed
// when there is nothing to resolve — and is remembered, so that a failure
// older than it that arrives later opens nothing.
//
// Rows are locked in (rule, key) order so that replicas cannot deadlock.
func (s *Store) converse(ctx context.Context, tx *sql.Tx, reqs []*enqueueReq, inserted map[string]bool, now time.Time) error {
	type ref struct{ req, d int }
	var refs []ref
	for i, r := range reqs {
		if !inserted[r.m.ID] {
			continue
		}
		for j := range r.ds {
			d := &r.ds[j]
			if d.Conversation == nil {
				continue
			}
			if d.Conversation.Ref != nil {
				d.Parts.Conversation = d.Conversation.Ref
			}
			switch {
			case d.DeadError != "":
			case d.Decided == "" || d.Decided == StateHeld:
				refs = append(refs, ref{i, j})
			}
		}
	}
	slices.SortStableFunc(refs, func(a, b ref) int {
		ca, cb := reqs[a.req].ds[a.d].Conversation, reqs[b.req].ds[b.d].Conversation
		return cmp.Or(cmp.Compare(ca.Rule, cb.Rule), cmp.Compare(ca.Key, cb.Key), cmp.Compare(a.req, b.req),
			cmp.Compare(reqs[a.req].ds[a.d].Rule, reqs[b.req].ds[b.d].Rule))
	})
	for start := 0; start < len(refs); {
		first := refs[start]
		end := start + 1
		for end < len(refs) && refs[end].req == first.req &&
			reqs[refs[end].req].ds[refs[end].d].Rule == reqs[first.req].ds[first.d].Rule &&
			reqs[refs[end].req].ds[refs[end].d].Conversation.Key == reqs[first.req].ds[first.d].Conversation.Key {
			end++
		}
		ds := make([]*RoutedDelivery, 0, end-start)
		for _, x := range refs[start:end] {
			ds = append(ds, &reqs[x.req].ds[x.d])
		}
		if err := s.converseOne(ctx, tx, reqs[first.req].m, ds, now); err != nil {
			return fmt.Errorf("conversation %q: %w", ds[0].Conversation.Rule, err)
		}
		start = end
	}
	return nil
}

// converseOne settles one message's deliveries of one rule in one
// conversation.
func (s *Store) converseOne(ctx context.Context, tx *sql.Tx, m Message, ds []*RoutedDelivery, now time.Time) error {
	spec := ds[0].Conversation
	rule, key, by := clean(spec.Rule), clean(spec.Key), clean(ds[0].Rule)
	c, found, err := s.loadConversation(ctx, tx, rule, key)
	if err != nil {
		return err
	}
	var ev int64
	if !spec.EventAt.IsZero() {
		ev = micros(spec.EventAt)
	}
	at := micros(now)
	var prev *Previous
	if found && c.notifications > 0 {
		prev = &Previous{Count: c.notifications, FirstAt: fromMicros(c.firstAt), LastAt: fromMicros(c.lastAt),
			Text: c.lastText, Subject: c.lastSubject}
	}
	suppress := ""
	switch {
	case !spec.Resolves && !found:
		prev = nil
		err = s.openConversation(ctx, tx, false, rule, key, m.ID, ev, spec.Escalate, at)
	case !spec.Resolves && c.state == ConversationOpen:
		_, err = tx.ExecContext(ctx, `UPDATE conversations SET notifications = notifications + 1, last_at = $1,
			opened_event_at = CASE WHEN opened_event_at = 0 OR opened_event_at > $2 THEN $2 ELSE opened_event_at END
			WHERE rule = $3 AND conv_key = $4`, at, ev, rule, key)
	case !spec.Resolves && ev > 0 && ev > c.resolvedEvent:
		// A new story for the same object: a fresh conversation, in a new
		// thread.
		prev = nil
		if _, err = tx.ExecContext(ctx, `DELETE FROM conversation_posts WHERE rule = $1 AND conv_key = $2`, rule, key); err == nil {
			err = s.openConversation(ctx, tx, true, rule, key, m.ID, ev, spec.Escalate, at)
		}
	case !spec.Resolves:
		suppress = fmt.Sprintf("out of order: conversation %s %q was already resolved by %s (event time %s); this message is not newer",
			rule, key, c.resolvedBy, eventText(c.resolvedEvent))
	case !found:
		suppress = fmt.Sprintf("nothing to resolve: no open %s conversation for key %q (remembered, should it arrive late)", rule, key)
		_, err = tx.ExecContext(ctx, `INSERT INTO conversations (rule, conv_key, state, notifications, first_at, last_at,
			first_message_id, last_text, last_subject, opened_event_at, resolved_event_at, resolved_by, resolved_at,
			escalate_at, escalate_channel, escalate_parts, escalate_error, escalate_unless_resolved)
			VALUES ($1, $2, 'resolved', 0, $3, $3, $4, '', '', 0, $5, $6, $3, NULL, '', '', '', 1)`,
			rule, key, at, m.ID, cmp.Or(ev, at), by)
	case c.state == ConversationOpen && ev > 0 && c.openedEvent > 0 && ev < c.openedEvent:
		suppress = fmt.Sprintf("out of order: this resolution (event time %s) is older than the open %s conversation %q (event time %s)",
			eventText(ev), rule, key, eventText(c.openedEvent))
	case c.state == ConversationOpen:
		_, err = tx.ExecContext(ctx, `UPDATE conversations SET state = 'resolved', resolved_event_at = $1, resolved_by = $2,
			resolved_at = $3, last_at = $3,
			escalate_at = CASE WHEN escalate_unless_resolved = 1 THEN NULL ELSE escalate_at END
			WHERE rule = $4 AND conv_key = $5`, cmp.Or(ev, at), by, at, rule, key)
	default:
		suppress = fmt.Sprintf("already resolved: conversation %s %q was resolved by %s", rule, key, c.resolvedBy)
		if ev > c.resolvedEvent {
			_, err = tx.ExecContext(ctx, `UPDATE conversations SET resolved_event_at = $1 WHERE rule = $2 AND conv_key = $3`, ev, rule, key)
		}
	}
	if err != nil {
		return err
	}
	var lastText, lastSubject string
	for i, d := range ds {
		if suppress != "" {
			d.Decided, d.DecidedReason = StateSuppressed, suppress
			continue
		}
		if prev != nil && spec.Rerender != nil {
			parts, err := d.Conversation.Rerender(*prev)
			if err != nil {
				d.Decided, d.DeadError = "", err.Error()
				continue
			}
			d.Parts = parts
			d.Parts.Conversation = d.Conversation.Ref
		}
		if d.DecidedReason == "" {
			n := 1
			if prev != nil {
				n = prev.Count + 1
			}
			what := "notification"
			if spec.Resolves {
				what = "resolution"
			}
			d.DecidedReason = fmt.Sprintf("conversation %s %q: %s %d", rule, key, what, n)
		}
		if i == 0 || lastText == "" {
			lastText, lastSubject = d.Parts.Text, d.Parts.Subject
		}
	}
	if suppress == "" && lastText != "" {
		_, err = tx.ExecContext(ctx, `UPDATE conversations SET last_text = $1, last_subject = $2 WHERE rule = $3 AND conv_key = $4`,
			clean(lastText), clean(lastSubject), rule, key)
	}
	return err
}

// openConversation inserts (or, when reopen, resets) an open conversation
// with its escalation.
func (s *Store) openConversation(ctx context.Context, tx *sql.Tx, reopen bool, rule, key, messageID string, ev int64, esc *EscalationSpec, at int64) error {
	var escAt any
	escChannel, escParts, escErr, unless := "", "", "", 1
	if esc != nil {
		b, err := json.Marshal(esc.Parts)
		if err != nil {
			return fmt.Errorf("encode escalation: %w", err)
		}
		escAt, escChannel, escParts, escErr = at+esc.After.Microseconds(), clean(esc.Channel), string(b), clean(esc.Err)
		if !esc.UnlessResolved {
			unless = 0
		}
	}
	if reopen {
		_, err := tx.ExecContext(ctx, `UPDATE conversations SET state = 'open', notifications = 1, first_at = $1, last_at = $1,
			first_message_id = $2, last_text = '', last_subject = '', opened_event_at = $3, resolved_event_at = 0,
			resolved_by = '', resolved_at = NULL, escalate_at = $4, escalate_channel = $5, escalate_parts = $6,
			escalate_error = $7, escalate_unless_resolved = $8, escalated_at = NULL, escalation_id = NULL
			WHERE rule = $9 AND conv_key = $10`, at, messageID, ev, escAt, escChannel, escParts, escErr, unless, rule, key)
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO conversations (rule, conv_key, state, notifications, first_at, last_at,
		first_message_id, last_text, last_subject, opened_event_at, resolved_event_at, resolved_by, resolved_at,
		escalate_at, escalate_channel, escalate_parts, escalate_error, escalate_unless_resolved)
		VALUES ($1, $2, 'open', 1, $3, $3, $4, '', '', $5, 0, '', NULL, $6, $7, $8, $9, $10)`,
		rule, key, at, messageID, ev, escAt, escChannel, escParts, escErr, unless)
	return err
}

func eventText(us int64) string {
	if us == 0 {
		return "unknown"
	}
	return fromMicros(us).Format(time.RFC3339)
}

// ConversationRef returns what delivery deliveryID of channel needs to join
// the conversation (rule, key) there: the first message's reference, or
// an empty reference when this delivery posts the first message (it then
// holds that role: SavePosted records what the peer answered). wait is
// true while another delivery is posting the first message and has not
// finished: this one must not post a second first message.
func (s *Store) ConversationRef(ctx context.Context, rule, key, channel, deliveryID string) (ref notifiers.Conversation, wait bool, err error) {
	rule, key, channel = clean(rule), clean(key), clean(channel)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ref, false, err
	}
	defer tx.Rollback()
	now := micros(s.now())
	res, err := tx.ExecContext(ctx, `INSERT INTO conversation_posts (rule, conv_key, channel, root_id, slack_channel, slack_ts,
		email_message_id, updated_at) VALUES ($1, $2, $3, $4, '', '', '', $5) ON CONFLICT (rule, conv_key, channel) DO NOTHING`,
		rule, key, channel, deliveryID, now)
	if err != nil {
		return ref, false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return ref, false, tx.Commit()
	}
	var root, slackChannel, ts, emailID string
	if err := tx.QueryRowContext(ctx, `SELECT root_id, slack_channel, slack_ts, email_message_id FROM conversation_posts
		WHERE rule = $1 AND conv_key = $2 AND channel = $3`+s.forUpdate(), rule, key, channel).Scan(&root, &slackChannel, &ts, &emailID); err != nil {
		return ref, false, err
	}
	switch {
	case root == deliveryID:
		return ref, false, nil
	case ts != "" || emailID != "":
		return notifiers.Conversation{Root: root, SlackChannel: slackChannel, SlackTS: ts}, false, nil
	}
	var state string
	err = tx.QueryRowContext(ctx, `SELECT state FROM deliveries WHERE id = $1`, root).Scan(&state)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ref, false, err
	}
	switch state {
	case StatePending, StateInFlight, StateHeld:
		return ref, true, nil
	}
	// The first message never went out (dead, dropped, swept): this
	// delivery starts the conversation in this channel.
	if _, err := tx.ExecContext(ctx, `UPDATE conversation_posts SET root_id = $1, updated_at = $2
		WHERE rule = $3 AND conv_key = $4 AND channel = $5`, deliveryID, now, rule, key, channel); err != nil {
		return ref, false, err
	}
	return ref, false, tx.Commit()
}

// SavePosted records what the peer answered for the first message of the
// conversation (rule, key) in channel, posted by delivery deliveryID:
// later deliveries reply to it or update it.
func (s *Store) SavePosted(ctx context.Context, rule, key, channel, deliveryID string, p notifiers.Posted) error {
	_, err := s.w.ExecContext(ctx, `UPDATE conversation_posts SET slack_channel = $1, slack_ts = $2, email_message_id = $3,
		updated_at = $4 WHERE rule = $5 AND conv_key = $6 AND channel = $7 AND root_id = $8`,
		clean(p.SlackChannel), clean(p.SlackTS), clean(p.EmailMessageID), micros(s.now()),
		clean(rule), clean(key), clean(channel), deliveryID)
	return err
}

// FireEscalations turns the conversations whose escalation is due at now
// into deliveries (pending, due at once), at most limit of them, and
// returns how many it made. Each escalation fires once across replicas:
// a conditional UPDATE claims it in the same transaction that inserts its
// delivery.
func (s *Store) FireEscalations(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 100
	}
	at := micros(now)
	rows, err := s.r.QueryContext(ctx, `SELECT rule, conv_key FROM conversations
		WHERE escalated_at IS NULL AND escalate_at IS NOT NULL AND escalate_at <= $1 ORDER BY escalate_at LIMIT $2`, at, limit)
	if err != nil {
		return 0, err
	}
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return 0, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	fired := 0
	for _, k := range keys {
		ok, err := s.fireEscalation(ctx, k[0], k[1], now)
		if err != nil {
			return fired, fmt.Errorf("escalate %s %q: %w", k[0], k[1], err)
		}
		if ok {
			fired++
		}
	}
	return fired, nil
}

func (s *Store) fireEscalation(ctx context.Context, rule, key string, now time.Time) (bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	at := micros(now)
	id := newID()
	res, err := tx.ExecContext(ctx, `UPDATE conversations SET escalated_at = $1, escalation_id = $2
		WHERE rule = $3 AND conv_key = $4 AND escalated_at IS NULL AND escalate_at IS NOT NULL AND escalate_at <= $1`,
		at, id, rule, key)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err // another replica fired it, or it was resolved
	}
	var msgID, channel, parts, escErr, state string
	var firstAt int64
	if err := tx.QueryRowContext(ctx, `SELECT first_message_id, escalate_channel, escalate_parts, escalate_error, state, first_at
		FROM conversations WHERE rule = $1 AND conv_key = $2`, rule, key).Scan(&msgID, &channel, &parts, &escErr, &state, &firstAt); err != nil {
		return false, err
	}
	nd := RoutedDelivery{Notification: notifiers.Notification{ID: id, MessageID: msgID, Rule: rule, Channel: channel}, DeadError: escErr}
	if err := json.Unmarshal([]byte(parts), &nd.Parts); err != nil {
		nd.DeadError = "decode escalation: " + err.Error()
	}
	nd.DecidedReason = fmt.Sprintf("escalation: conversation %s %q still %s %s after its first notification",
		rule, key, state, now.Sub(fromMicros(firstAt)).Round(time.Second))
	row, err := newDeliveryRow(Message{ID: msgID}, "", &nd, now)
	if err != nil {
		return false, err
	}
	if err := insertDeliveries(ctx, tx, s.dialect, []deliveryRow{row}); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// NextEscalation returns when the next escalation is due; zero when none
// is pending.
func (s *Store) NextEscalation(ctx context.Context) (time.Time, error) {
	var at sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MIN(escalate_at) FROM conversations WHERE escalated_at IS NULL AND escalate_at IS NOT NULL`).Scan(&at)
	if err != nil || !at.Valid {
		return time.Time{}, err
	}
	return fromMicros(at.Int64), nil
}

// OpenConversations counts the open conversations per rule.
func (s *Store) OpenConversations(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT rule, COUNT(*) FROM conversations WHERE state = 'open' GROUP BY rule`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, err
		}
		out[r] = n
	}
	return out, rows.Err()
}

// ConversationState is one conversation as the store keeps it, for tests
// and the API.
type ConversationState struct {
	State         string
	Notifications int
	EscalateAt    *time.Time
	EscalatedAt   *time.Time
	EscalationID  string
}

// Conversation returns the conversation (rule, key); ok is false when
// there is none.
func (s *Store) Conversation(ctx context.Context, rule, key string) (c ConversationState, ok bool, err error) {
	var escAt, escdAt sql.NullInt64
	var escID sql.NullString
	err = s.r.QueryRowContext(ctx, `SELECT state, notifications, escalate_at, escalated_at, escalation_id FROM conversations
		WHERE rule = $1 AND conv_key = $2`, clean(rule), clean(key)).Scan(&c.State, &c.Notifications, &escAt, &escdAt, &escID)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	if escAt.Valid {
		t := fromMicros(escAt.Int64)
		c.EscalateAt = &t
	}
	if escdAt.Valid {
		t := fromMicros(escdAt.Int64)
		c.EscalatedAt = &t
	}
	c.EscalationID = escID.String
	return c, true, nil
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
