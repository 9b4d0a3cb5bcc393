package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-dev/switchboard/internal/admission"
	"github.com/switchboard-dev/switchboard/internal/delivery"
	"github.com/switchboard-dev/switchboard/internal/fatigue"
	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/msgjson"
	"github.com/switchboard-dev/switchboard/internal/signature"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
)

// Outcomes, the values of messages_received_total's outcome label.
const (
	OutcomeQueued        = "queued"
	OutcomeDuplicate     = "duplicate"
	OutcomeUnknownSource = "unknown_source"
	OutcomeTooLarge      = "too_large"
	OutcomeUnauthorized  = "unauthorized"
	OutcomeBadRequest    = "bad_request"
	OutcomeUnavailable   = "unavailable"
	OutcomeOverloaded    = "overloaded"
	OutcomeTimeout       = "timeout"
)

// DefaultBodyTimeout is how long a request may take to send its body once
// its headers are in. Lago sends a few kilobytes at once; a client that
// trickles must not hold a connection for the server's whole read timeout.
const DefaultBodyTimeout = 5 * time.Second

// Enqueuer is the durable hand-off: it commits a message and its
// deliveries atomically. *store.Store implements it.
type Enqueuer interface {
	Enqueue(ctx context.Context, m store.Message, owner string, ds []store.RoutedDelivery) (duplicate bool, err error)
}

// DefaultEnqueueTimeout bounds the wait for a message's commit: a store
// that hangs (a database that stopped answering) gets the sender a 503
// with Retry-After well before its own timeout (Lago's is 30 s) and the
// server's write timeout, which would close the connection unanswered.
const DefaultEnqueueTimeout = 10 * time.Second

// Submitter takes deliveries just committed and leased to this replica.
// *delivery.Dispatcher implements it.
type Submitter interface {
	Submit(ds []store.StoredDelivery)
}

// Holder, when the Submitter implements it, says which channels take no
// deliveries now (their circuit breaker is open, or their peer asked to
// wait) and until when: their new deliveries are stored waiting instead of
// leased to workers that would only hand them back.
// *delivery.Dispatcher implements it.
type Holder interface {
	HoldUntil(channel string) (time.Time, bool)
}

// Options configure the Handler.
type Options struct {
	// Rules returns the Ruleset in use (it changes on reload).
	Rules func() *router.Ruleset
	Store Enqueuer
	// Dispatch receives the new deliveries once committed.
	Dispatch Submitter
	// Owner is this replica's lease owner name.
	Owner   string
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// MaxInFlight bounds requests being verified as authentic and then
	// parsed, routed and committed at once; more answer 429 (default
	// 256). A slot is taken only once the body is in and its signature
	// checked, so slow or unsigned clients never hold one.
	MaxInFlight int
	// Budget, if set, is charged with every body byte read until the
	// request is answered; a body that does not fit answers 429.
	Budget *admission.Budget
	// BodyTimeout bounds reading a body once the headers are in
	// (default DefaultBodyTimeout); a slower client gets 408.
	BodyTimeout time.Duration
	// EnqueueTimeout bounds the wait for the commit (default
	// DefaultEnqueueTimeout); past it the sender gets 503. The message may
	// still be committed: the sender's retry is then a duplicate.
	EnqueueTimeout time.Duration
	Now            func() time.Time
	// Silenced, if set, returns the active silence that mutes rule on a
	// message: its ID and reason. It calls data, which may decode the
	// whole message, only when a silence's expression needs it.
	Silenced func(rule string, data func() map[string]any, now time.Time) (id, reason string, ok bool)
}

// Handler serves POST /webhooks/{source}.
type Handler struct {
	o        Options
	decoders sync.Pool // *msgjson.Decoder
	sem      chan struct{}
	draining atomic.Bool
}

// New returns a Handler.
func New(o Options) *Handler {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 256
	}
	if o.EnqueueTimeout <= 0 {
		o.EnqueueTimeout = DefaultEnqueueTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o, sem: make(chan struct{}, o.MaxInFlight)}
	h.decoders.New = func() any { return new(msgjson.Decoder) }
	return h
}

// Drain makes the handler answer 503 from now on (graceful shutdown).
func (h *Handler) Drain() { h.draining.Store(true) }

type reply struct {
	Status     string `json:"status"`
	ID         string `json:"id,omitempty"`
	Matched    int    `json:"matched,omitempty"`
	Deliveries int    `json:"deliveries,omitempty"`
	Error      string `json:"error,omitempty"`
}

func (h *Handler) answer(w http.ResponseWriter, source, outcome string, code int, rep reply, retryAfter time.Duration) {
	if h.o.Metrics != nil {
		h.o.Metrics.MessagesReceived.WithLabelValues(source, outcome).Inc()
	}
	w.Header().Set("Content-Type", "application/json")
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
	}
	w.WriteHeader(code)
	writeReply(w, rep)
}

func (h *Handler) fail(w http.ResponseWriter, source, outcome string, code int, reason string, retryAfter time.Duration) {
	h.answer(w, source, outcome, code, reply{Status: "rejected", Error: reason}, retryAfter)
}

// ServeHTTP implements http.Handler. The checks run in the documented
// order: 404 unknown source, 413 too large, 401 bad signature, 400 not a
// JSON object, 200 duplicate, 202 queued; 429/503 when overloaded or the
// store is unavailable; 408 when the body is not in within BodyTimeout.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("source")
	rs := h.o.Rules()
	src, ok := rs.Sources[name]
	if !ok {
		// Unknown names share one label value: a scan of random paths
		// must not create a time series per path.
		h.fail(w, "<unknown>", OutcomeUnknownSource, http.StatusNotFound, "unknown source", 0)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, name, OutcomeBadRequest, http.StatusMethodNotAllowed, "use POST", 0)
		return
	}
	if h.draining.Load() {
		h.fail(w, name, OutcomeUnavailable, http.StatusServiceUnavailable, "shutting down", 5*time.Second)
		return
	}
	if r.ContentLength > src.MaxBody {
		h.fail(w, name, OutcomeTooLarge, http.StatusRequestEntityTooLarge, "body too large", 0)
		return
	}
	// The body is read before a slot is taken, under its own deadline and
	// charged to the memory budget: clients that send headers and then
	// trickle (or nothing) wait on their own connection, not in the queue
	// signed senders need.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.o.BodyTimeout))
	br := admission.NewReader(http.MaxBytesReader(w, r.Body, src.MaxBody), h.o.Budget)
	defer br.Release()
	body, err := readBody(br, r.ContentLength)
	if err == nil {
		// The body is in; the server sets the next request's deadlines.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			h.fail(w, name, OutcomeTooLarge, http.StatusRequestEntityTooLarge, "body too large", 0)
		case errors.Is(err, admission.ErrBudget):
			h.fail(w, name, OutcomeOverloaded, http.StatusTooManyRequests, "overloaded", time.Second)
		case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			w.Header().Set("Connection", "close")
			h.fail(w, name, OutcomeTimeout, http.StatusRequestTimeout, "body not received in time", 0)
		default:
			h.fail(w, name, OutcomeBadRequest, http.StatusBadRequest, "cannot read body", 0)
		}
		return
	}
	if src.Verifier != nil {
		if err := src.Verifier.Verify(r.Context(), r.Header, body); err != nil {
			var ue *signature.UnavailableError
			if errors.As(err, &ue) {
				h.o.Logger.Warn("cannot verify signature", "source", name, "error", rs.Scrub(err.Error()))
				h.fail(w, name, OutcomeUnavailable, http.StatusServiceUnavailable, "signature key unavailable", 5*time.Second)
				return
			}
			var oe *signature.OrganizationError
			if errors.As(err, &oe) {
				// The signature held: this is a real Lago sending another
				// organization's message here, which someone should know.
				h.o.Logger.Warn("rejected a signed message from an organization this source does not accept",
					"source", name, "organization_id", oe.Got, "accepted", src.Organizations,
					"unique_key", r.Header.Get(src.KeyHeader))
			}
			h.fail(w, name, OutcomeUnauthorized, http.StatusUnauthorized, rs.Scrub(err.Error()), 0)
			return
		}
	}
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	default:
		h.fail(w, name, OutcomeOverloaded, http.StatusTooManyRequests, "overloaded", time.Second)
		return
	}
	// Only what the rules and templates read is decoded (the rest of the
	// body is checked, not kept): most rules read a few fields, and the
	// body goes out and into the store as received.
	reads := rs.MessageReads()
	dec := h.decoders.Get().(*msgjson.Decoder)
	data, ok := dec.Object(body, reads)
	h.decoders.Put(dec)
	if !ok {
		h.fail(w, name, OutcomeBadRequest, http.StatusBadRequest, "body is not a JSON object", 0)
		return
	}
	now := h.o.Now()
	msg := &router.Message{ID: router.NewMessageID(), Source: name, ReceivedAt: now, Body: body, Data: data}
	res := rs.Route(msg)

	key := ""
	if src.KeyHeader != "" {
		key = r.Header.Get(src.KeyHeader)
	}
	news := h.newDeliveries(rs, &message{Message: msg, partial: reads != nil}, res, now)
	// The commit is not tied to the request: a sender that hangs up while
	// its batch is being committed must not turn a stored message into
	// "cannot store message", nor leave its leased deliveries unsent until
	// their leases expire.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.o.EnqueueTimeout)
	defer cancel()
	dup, err := h.o.Store.Enqueue(ctx, store.Message{
		ID: msg.ID, Source: name, Key: key, WebhookType: msg.WebhookType(),
		RulesVersion: rs.Version, ReceivedAt: now, Body: body, BodyHash: replayHash(src, body),
	}, h.o.Owner, news)
	if err != nil {
		h.o.Logger.Error("cannot store message", "source", name, "message", msg.ID, "error", err)
		h.fail(w, name, OutcomeUnavailable, http.StatusServiceUnavailable, "store unavailable", 5*time.Second)
		return
	}
	if dup {
		h.answer(w, name, OutcomeDuplicate, http.StatusOK, reply{Status: "duplicate"}, 0)
		return
	}
	// Counted only once the message is accepted: a duplicate routed
	// again must not count twice.
	h.observe(rs, msg, res)
	for _, d := range res.Deliveries {
		if d.Err != nil {
			h.o.Logger.Error("delivery failed to render; dead-lettered", "message", msg.ID, "delivery", d.ID,
				"rule", d.Rule, "channel", d.Channel, "error", d.Err)
		}
	}
	h.observeDecisions(msg, news)
	h.submit(news, msg, name, now)
	h.answer(w, name, OutcomeQueued, http.StatusAccepted, reply{
		Status: "queued", ID: msg.ID, Matched: len(res.Matched), Deliveries: len(res.Deliveries),
	}, 0)
}

// replayHash returns the hex SHA-256 of body for sources whose signature
// covers the body but neither a message ID nor a time (Lago's HMAC and
// JWT, generic hmac): the store then drops a body it already holds, so a
// captured request replayed with a fresh idempotency key, or none, is a
// duplicate. Lago's own retries resend the same bytes with the same key.
// Unsigned and bearer sources get none (anyone holding what it takes to
// replay can send anything), nor do Standard Webhooks, which sign the
// message ID and a time.
func replayHash(src *router.Source, body []byte) string {
	if src.Verifier == nil || (src.Verification != "hmac" && src.Verification != "jwt") {
		return ""
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// newDeliveries turns routed deliveries into the outbox's: leased to this
// replica to send at once, dead when rendering failed, or with what
// silences, quiet hours, throttles and groups make of them.
func (h *Handler) newDeliveries(rs *router.Ruleset, msg *message, res router.Result, now time.Time) []store.RoutedDelivery {
	news := make([]store.RoutedDelivery, len(res.Deliveries))
	for i, d := range res.Deliveries {
		nd := store.RoutedDelivery{Notification: d.Notification}
		if d.Err != nil {
			nd.DeadError = d.Err.Error()
			news[i] = nd
			continue
		}
		nd.Conversation = conversationSpec(d)
		if ch, ok := rs.Channels[d.Channel]; ok {
			if until, held := h.holdUntil(d.Channel); held {
				nd.NotBefore = until
			} else {
				nd.LeaseUntil = now.Add(ch.Timeout + delivery.DefaultLeaseMargin)
			}
		}
		var silence string
		if h.o.Silenced != nil {
			if id, reason, ok := h.o.Silenced(d.Rule, msg.fullData, now); ok {
				silence = "silenced by " + id + ": " + reason
			}
		}
		p := d.Policy
		if p == nil {
			p = &router.Policy{}
		}
		f := p.Facts(silence != "")
		// What silences and quiet hours decide is known now; the store's
		// commit walks the rest of the order against the shared throttle
		// windows and groups.
		switch fatigue.First(f) {
		case fatigue.Silence:
			nd.Preset, nd.Reason = store.StateSilenced, silence
			news[i] = nd
			continue
		case fatigue.QuietDrop:
			nd.Preset, nd.Reason = store.StateDropped, p.QuietWhy
		}
		if f.QuietHold {
			nd.Preset, nd.Reason, nd.HoldUntil = store.StateHeld, p.QuietWhy, p.QuietUntil
		}
		if f.Throttled {
			nd.Throttle = &store.ThrottleSpec{Key: p.ThrottleKey, Every: p.ThrottleEvery, Rerender: p.Rerender}
		}
		if f.Grouped {
			nd.Group = &store.GroupSpec{Key: p.GroupKey, Wait: p.GroupWait, Interval: p.GroupInterval}
		}
		news[i] = nd
	}
	return news
}

// message is a routed message whose data may hold only what the ruleset
// reads.
type message struct {
	*router.Message
	partial bool
	full    map[string]any
}

// fullData returns the message's whole data, for a silence's expression
// (which the ruleset's reads do not cover): decoded on first use when
// routing read only a part, with the same meta.
func (m *message) fullData() map[string]any {
	if !m.partial {
		return m.Data
	}
	if m.full == nil {
		var d msgjson.Decoder
		m.full, _ = d.Object(m.Body, nil) // the body decoded once already
		if m.full == nil {
			m.full = map[string]any{}
		}
		if _, ok := m.full["meta"]; !ok {
			m.full["meta"] = m.Data["meta"]
		}
	}
	return m.full
}

// observeDecisions logs and counts what silences, quiet hours, throttles
// and groups made of a message's matches, once per rule and decision.
func (h *Handler) observeDecisions(msg *router.Message, news []store.RoutedDelivery) {
	seen := map[[2]string]bool{}
	for _, nd := range news {
		switch nd.Decided {
		case store.StateSuppressed, store.StateGrouped, store.StateHeld, store.StateDropped, store.StateSilenced:
		case store.StateDead:
			if nd.Throttle != nil && nd.DeadError != "" {
				h.o.Logger.Error("delivery failed to render after its throttle window; dead-lettered",
					"message", msg.ID, "delivery", nd.ID, "rule", nd.Rule, "channel", nd.Channel, "error", nd.DeadError)
			}
			continue
		default:
			continue
		}
		k := [2]string{nd.Rule, nd.Decided}
		if seen[k] {
			continue
		}
		seen[k] = true
		h.o.Logger.Debug("match not sent at once", "message", msg.ID, "rule", nd.Rule,
			"decision", nd.Decided, "reason", nd.DecidedReason)
		if h.o.Metrics != nil {
			h.o.Metrics.RuleDecisions.WithLabelValues(nd.Rule, nd.Decided).Inc()
		}
	}
}

func (h *Handler) holdUntil(channel string) (time.Time, bool) {
	if hd, ok := h.o.Dispatch.(Holder); ok {
		return hd.HoldUntil(channel)
	}
	return time.Time{}, false
}

// submit hands the leased deliveries to the local workers.
func (h *Handler) submit(news []store.RoutedDelivery, msg *router.Message, source string, now time.Time) {
	if h.o.Dispatch == nil {
		return
	}
	var leased []store.StoredDelivery
	for _, nd := range news {
		if nd.Decided != store.StateInFlight {
			continue
		}
		leased = append(leased, store.StoredDelivery{
			Notification: nd.Notification, State: store.StateInFlight, CreatedAt: now,
			NextAttemptAt: now, WebhookType: msg.WebhookType(), Source: source, ReceivedAt: now,
			LeaseOwner: h.o.Owner, LeaseUntil: nd.LeaseUntil,
		})
	}
	if len(leased) > 0 {
		h.o.Dispatch.Submit(leased)
	}
}

// observe logs and counts what routing found.
func (h *Handler) observe(rs *router.Ruleset, msg *router.Message, res router.Result) {
	for _, e := range res.Errors {
		h.o.Logger.Warn("rule condition failed on message; rule skipped",
			"rule", e.Rule, "message", msg.ID, "source", msg.Source, "error", rs.Scrub(e.Err.Error()))
	}
	if h.o.Metrics == nil {
		return
	}
	for _, e := range res.Errors {
		h.o.Metrics.RuleErrors.WithLabelValues(e.Rule).Inc()
	}
	for _, name := range res.Matched {
		h.o.Metrics.RuleMatches.WithLabelValues(name).Inc()
	}
	for _, d := range res.Deliveries {
		if d.Err != nil {
			// Dead at birth: the dispatcher never sees these.
			h.o.Metrics.RuleErrors.WithLabelValues(d.Rule).Inc()
			h.o.Metrics.Deliveries.WithLabelValues(d.Channel, "dead").Inc()
		}
	}
}
