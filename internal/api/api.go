package api

import (
	"github.com/switchboard-dev/switchboard/internal/app/reload"

	"github.com/switchboard-dev/switchboard/internal/wiring"

	"github.com/switchboard-dev/switchboard/config"

	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/internal/admission"
	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/rulesfile"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/silence"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router"
)

// Options configure the admin API.
type Options struct {
	// Token is the admin bearer token; empty turns the surface off.
	Token   secret.String
	Reload  *reload.Reloader
	Store   *store.Store
	Catalog *lago.Catalog
	Logger  *slog.Logger
	// Wake, if set, is called after a replay so workers pick it up now.
	Wake func()
	// Silences, if set, is this replica's cache of the silences in force:
	// refreshed at once after a change, consulted by test results.
	Silences *silence.Cache
	// EditorVars are the environment variables (names or path.Match
	// patterns) a channel written through the API may reference; nil:
	// those the rules file already references. See ParseEditorVars.
	EditorVars []string
	// BacktestTimeout bounds a backtest request (default
	// DefaultBacktestTimeout).
	BacktestTimeout time.Duration
	// Failures, if set, throttles clients that get the token wrong
	// (shared with the editor's login).
	Failures *admission.AuthFailures
	// Now, if set, is the clock (default time.Now): test results,
	// silences and the Send test's pacing read it.
	Now func() time.Time
}

// API serves the admin routes.
type API struct {
	o         Options
	tokenHash [32]byte
	// saveMu serialises edits of the rules file.
	saveMu sync.Mutex
	tests  testSender
}

// New returns the admin API.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &API{o: o, tokenHash: sha256.Sum256([]byte(o.Token.Reveal()))}
}

// Register adds the admin routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("POST /-/reload", a.auth(http.HandlerFunc(a.reload)))
	// Other methods: 405 with the admin surface on, 404 with it off.
	mux.Handle("/-/reload", a.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST")
	})))
	mux.Handle("GET /api/v1/status", a.auth(http.HandlerFunc(a.status)))
	mux.Handle("GET /api/v1/rules", a.auth(http.HandlerFunc(a.rules)))
	mux.Handle("GET /api/v1/rules/{name}", a.auth(http.HandlerFunc(a.rule)))
	mux.Handle("POST /api/v1/test", a.auth(http.HandlerFunc(a.test)))
	mux.Handle("POST /api/v1/test/send", a.auth(http.HandlerFunc(a.sendTest)))
	mux.Handle("GET /api/v1/catalog", a.auth(http.HandlerFunc(a.catalog)))
	mux.Handle("GET /api/v1/deliveries", a.auth(http.HandlerFunc(a.deliveries)))
	mux.Handle("GET /api/v1/deliveries/{id}", a.auth(http.HandlerFunc(a.delivery)))
	mux.Handle("POST /api/v1/deliveries/{id}/replay", a.auth(http.HandlerFunc(a.replay)))
	mux.Handle("POST /api/v1/deliveries/replay", a.auth(http.HandlerFunc(a.replayDead)))
	mux.Handle("POST /api/v1/backtest", a.auth(http.HandlerFunc(a.backtest)))
	mux.Handle("GET /api/v1/unmatched", a.auth(http.HandlerFunc(a.unmatched)))
	a.registerEditing(mux)
	a.registerSilences(mux)
	a.registerReads(mux)
	unknown := a.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	}))
	mux.Handle("/api/", unknown)
	mux.Handle("/api", unknown) // not redirected to /api/
}

// auth requires the admin bearer token, compared in constant time. With no
// token configured everything answers 404, as if the routes did not exist.
func (a *API) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.o.Token.IsZero() {
			http.NotFound(w, r)
			return
		}
		client := admission.Client(r.RemoteAddr)
		if ok, wait := a.o.Failures.Allowed(client); !ok {
			a.o.Logger.Debug("admin authentication throttled", "client", client, "path", r.URL.Path)
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
			writeError(w, http.StatusTooManyRequests, "too many failed authentications from this address; try again later")
			return
		}
		if !a.Authorized(r) {
			a.o.Failures.Failed(client)
			a.o.Logger.Warn("admin authentication failed", "client", client, "method", r.Method, "path", r.URL.Path,
				"token_given", r.Header.Get("Authorization") != "")
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Authorized reports whether r carries the admin token.
func (a *API) Authorized(r *http.Request) bool {
	if a.o.Token.IsZero() {
		return false
	}
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) == 1
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Conditions and templates hold && and <…|link>: keep them readable.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (a *API) reload(w http.ResponseWriter, r *http.Request) {
	err := a.o.Reload.Reload("admin request", true)
	st := a.o.Reload.Status()
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, st)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

type sourceJSON struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	Verification string `json:"verification"`
	MaxBody      int64  `json:"max_body"`
}

type channelJSON struct {
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	Timeout     string  `json:"timeout"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate_per_second"`
	MaxAttempts int     `json:"max_attempts"`
}

type statusJSON struct {
	reload.Status
	// Version (from Status) is the rules file's hash as on disk, the same
	// as GET /api/v1/rules gives and writes take in If-Match;
	// ConfigVersion is the hash of the rules file and the templates the
	// configuration in use was compiled from, which deliveries record.
	ConfigVersion string        `json:"config_version"`
	RulesFile     string        `json:"rules_file"`
	TemplatesDir  string        `json:"templates_dir"`
	DryRun        bool          `json:"dry_run"`
	Sources       []sourceJSON  `json:"sources"`
	Channels      []channelJSON `json:"channels"`
	Rules         int           `json:"rules"`
	// Writable is false when the rules file cannot be replaced (read-only
	// mount, immutable file): the editor then shows it read-only.
	Writable bool `json:"writable"`
}

func (a *API) status(w http.ResponseWriter, r *http.Request) {
	rs := a.o.Reload.Current()
	o := a.o.Reload.Options()
	out := statusJSON{Status: a.o.Reload.Status(), RulesFile: o.RulesPath, TemplatesDir: o.TemplatesDir, DryRun: o.DryRun, Rules: len(rs.Rules),
		Writable: rulesfile.Writable(o.RulesPath)}
	out.ConfigVersion = out.Version
	out.Version = rulesVersion(rs, o.RulesPath)
	if out.Errors == nil {
		out.Errors = []config.Diagnostic{}
	}
	if out.Warnings == nil {
		out.Warnings = []config.Diagnostic{}
	}
	for _, n := range rs.SourceNames() {
		s := rs.Sources[n]
		out.Sources = append(out.Sources, sourceJSON{Name: n, Kind: s.Kind, Verification: s.Verification, MaxBody: s.MaxBody})
	}
	for _, n := range rs.ChannelNames() {
		c := rs.Channels[n]
		out.Channels = append(out.Channels, channelJSON{Name: n, Kind: c.Kind, Timeout: c.Timeout.String(),
			Concurrency: c.Concurrency, Rate: c.RatePerSecond, MaxAttempts: c.MaxAttempts})
	}
	writeJSON(w, http.StatusOK, out)
}

// rulesVersion is the editing version: the rules file's hash as on disk
// (the configuration's own hash when the file cannot be read).
func rulesVersion(rs *router.Ruleset, path string) string {
	if src, err := os.ReadFile(path); err == nil {
		return rulesfile.Hash(src)
	}
	return rs.Version
}

// RuleJSON is a rule as the API shows it, with the rules file's keys.
type RuleJSON struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Enabled     bool       `json:"enabled"`
	When        string     `json:"when"`
	Send        []SendJSON `json:"send"`
	// Throttle, Group and Schedule are the rule's alert-fatigue settings,
	// when set.
	Throttle *ThrottleJSON `json:"throttle,omitempty"`
	Group    *GroupJSON    `json:"group,omitempty"`
	Schedule *ScheduleJSON `json:"schedule,omitempty"`
}

// SendJSON is one target of a rule.
type SendJSON struct {
	To       string `json:"to"`
	Template string `json:"template,omitempty"`
	Message  string `json:"message,omitempty"`
}

func ruleJSON(r *router.Rule) RuleJSON {
	out := RuleJSON{Name: r.Name, Description: r.Description, Enabled: r.Enabled, When: r.When, Send: []SendJSON{}}
	for _, s := range r.Sends() {
		out.Send = append(out.Send, SendJSON{To: s.To, Template: s.Template, Message: s.Message})
	}
	setFatigueJSON(&out, r.FatigueConfig())
	return out
}

func (a *API) rules(w http.ResponseWriter, r *http.Request) {
	rs := a.o.Reload.Current()
	// The version is the rules file's own hash, as on disk, which writes
	// compare with If-Match.
	version := rulesVersion(rs, a.o.Reload.Options().RulesPath)
	w.Header().Set("ETag", `"`+version+`"`)
	out := struct {
		Version string     `json:"version"`
		Rules   []RuleJSON `json:"rules"`
	}{Version: version, Rules: []RuleJSON{}}
	for _, rule := range rs.Rules {
		out.Rules = append(out.Rules, ruleJSON(rule))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) rule(w http.ResponseWriter, r *http.Request) {
	rule, ok := a.o.Reload.Current().Rule(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such rule")
		return
	}
	writeJSON(w, http.StatusOK, ruleJSON(rule))
}

// TestRequest is the body of POST /api/v1/test.
type TestRequest struct {
	Message json.RawMessage `json:"message"`
	Source  string          `json:"source,omitempty"`
	// Rule, if set, is an unsaved rule: only it is tested, compiled with
	// the current channels and templates.
	Rule *RuleInput `json:"rule,omitempty"`
}

// TestNotification is one rendered notification in a test result.
type TestNotification struct {
	To          string            `json:"to"`
	ChannelType string            `json:"channel_type"`
	Content     string            `json:"content"`
	Parts       map[string]string `json:"parts"`
	Error       string            `json:"error,omitempty"`
	// Decision is what would become of the delivery now: send, suppress
	// (throttle), group, hold or drop (quiet hours), or silence; Reason
	// says why.
	Decision string `json:"decision,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Conversation says which conversation the delivery joins and how;
	// Escalation what the rule sends if the conversation stays open.
	Conversation string `json:"conversation,omitempty"`
	Escalation   string `json:"escalation,omitempty"`
}

// TestMatch is one matching rule in a test result.
type TestMatch struct {
	Rule       string             `json:"rule"`
	Deliveries []TestNotification `json:"deliveries"`
}

// TestResult is the answer of POST /api/v1/test.
type TestResult struct {
	Matches []TestMatch `json:"matches"`
	// Errors are the conditions that failed at run time on the message
	// (such a rule does not match); never null.
	Errors  []TestError          `json:"errors"`
	Explain []router.Explanation `json:"explain"`
}

// TestError is a condition that failed at run time on a tested message.
type TestError struct {
	Rule  string `json:"rule"`
	Error string `json:"error"`
}

func (a *API) test(w http.ResponseWriter, r *http.Request) {
	var req TestRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20))
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"message\": {…}}")
		return
	}
	var data map[string]any
	if err := json.Unmarshal(req.Message, &data); err != nil || data == nil {
		writeError(w, http.StatusBadRequest, "message is not a JSON object")
		return
	}
	src := req.Source
	if src == "" {
		src = "test"
	}
	if req.Rule != nil {
		a.testUnsaved(w, req.Rule.Config(), src, req.Message, data)
		return
	}
	rs := a.o.Reload.Current()
	res := TestMessageIn(r.Context(), rs, src, req.Message, data, a.testEnv())
	writeJSON(w, http.StatusOK, res)
}

// TestMessage routes a message without sending anything and describes the
// result; `switchboard test` prints the same.
func TestMessage(rs *router.Ruleset, source string, raw []byte, data map[string]any) TestResult {
	return TestMessageIn(context.Background(), rs, source, raw, data, TestEnv{})
}

// TestMessageIn is TestMessage with the live state of throttles, groups
// and silences consulted, to say what they would do with the message now.
func TestMessageIn(ctx context.Context, rs *router.Ruleset, source string, raw []byte, data map[string]any, env TestEnv) TestResult {
	if env.Now.IsZero() {
		env.Now = time.Now()
	}
	msg := &router.Message{ID: "test", Source: source, ReceivedAt: env.Now, Body: raw, Data: data}
	res := rs.Preview(msg)
	out := TestResult{Matches: []TestMatch{}, Errors: []TestError{}, Explain: rs.Explain(msg)}
	byRule := map[string]int{}
	for _, name := range res.Matched {
		byRule[name] = len(out.Matches)
		out.Matches = append(out.Matches, TestMatch{Rule: name, Deliveries: []TestNotification{}})
	}
	for _, d := range res.Deliveries {
		td := TestNotification{To: d.Channel, ChannelType: d.Kind, Content: d.Content, Parts: PartsMap(d.Kind, d.Parts)}
		if d.Err != nil {
			td.Error = d.Err.Error()
		} else {
			td.Decision, td.Reason = describe(ctx, env, d, msg.Data)
			td.Conversation, td.Escalation = describeConversation(d)
		}
		i := byRule[d.Rule]
		out.Matches[i].Deliveries = append(out.Matches[i].Deliveries, td)
	}
	for _, e := range res.Errors {
		out.Errors = append(out.Errors, TestError{e.Rule, rs.Scrub(e.Err.Error())})
	}
	return out
}

// PartsMap returns the parts a channel kind sends, by name.
func PartsMap(kind string, p notifiers.Parts) map[string]string {
	if k, ok := wiring.Kind(kind); ok {
		return k.Show(p)
	}
	return map[string]string{}
}

func (a *API) catalog(w http.ResponseWriter, r *http.Request) {
	type entry struct {
		lago.Type
		Example json.RawMessage `json:"example"`
	}
	out := []entry{}
	for _, t := range a.o.Catalog.Types() {
		ex, _ := a.o.Catalog.Example(t.WebhookType)
		out = append(out, entry{Type: t, Example: ex})
	}
	writeJSON(w, http.StatusOK, map[string]any{"types": out})
}

func (a *API) deliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.Filter{Status: q.Get("status"), Rule: q.Get("rule"), Limit: 100}
	if f.Status == "" {
		f.Status = q.Get("state") // the same filter, by the field's other name
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be 1..1000")
			return
		}
		f.Limit = n
	}
	if f.Status != "" && !store.ValidState(f.Status) {
		writeError(w, http.StatusBadRequest, "status must be one of "+strings.Join(store.States, ", "))
		return
	}
	list, err := a.o.Store.List(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	out := make([]DeliveryJSON, 0, len(list))
	for _, d := range list {
		out = append(out, deliveryJSON(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
}

// DeliveryJSON is a delivery as the API shows it. HTTP paths and headers
// are left out: they may carry credentials.
type DeliveryJSON struct {
	ID          string `json:"id"`
	MessageID   string `json:"message_id"`
	Source      string `json:"source"`
	WebhookType string `json:"webhook_type"`
	Rule        string `json:"rule"`
	Channel     string `json:"channel"`
	Status      string `json:"status"`
	// State is Status again, under the name the CLI, the silences and the
	// store use.
	State string `json:"state"`
	// Test marks a delivery made by Send test.
	Test        bool              `json:"test,omitempty"`
	Attempts    int               `json:"attempts"`
	LastError   string            `json:"last_error,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	GroupID     string            `json:"group_id,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	NextAttempt *time.Time        `json:"next_attempt_at,omitempty"`
	DeliveredAt *time.Time        `json:"delivered_at,omitempty"`
	Parts       map[string]string `json:"parts,omitempty"`
}

// NewDeliveryJSON returns a delivery as the API shows it, without its
// parts.
func NewDeliveryJSON(d store.StoredDelivery) DeliveryJSON { return deliveryJSON(d) }

func deliveryJSON(d store.StoredDelivery) DeliveryJSON {
	out := DeliveryJSON{
		ID: d.ID, MessageID: d.MessageID, Source: d.Source, WebhookType: d.WebhookType, Rule: d.Rule,
		Channel: d.Channel, Status: d.State, State: d.State, Test: d.Test, Attempts: d.Attempts, LastError: d.LastError,
		Reason: d.Reason, GroupID: d.GroupID, CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt,
	}
	if d.State == store.StatePending || d.State == store.StateHeld {
		t := d.NextAttemptAt
		out.NextAttempt = &t
	}
	return out
}

func (a *API) delivery(w http.ResponseWriter, r *http.Request) {
	d, attempts, err := a.o.Store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such delivery")
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	out := deliveryJSON(d)
	p := d.Parts
	p.Path, p.Headers = "", nil
	out.Parts = PartsMap(kindOf(a.o.Reload.Current(), d.Channel), p)
	writeJSON(w, http.StatusOK, map[string]any{"delivery": out, "attempts": attempts, "message": a.deliveryMessage(r.Context(), d)})
}

func kindOf(rs *router.Ruleset, channel string) string {
	if c, ok := rs.Channels[channel]; ok {
		return c.Kind
	}
	return ""
}

func (a *API) replay(w http.ResponseWriter, r *http.Request) {
	n, err := a.o.Store.Replay(r.Context(), []string{r.PathValue("id")})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	if n == 0 {
		writeError(w, http.StatusNotFound, "no such finished delivery with something to send (a dead letter whose template failed needs POST /api/v1/deliveries/replay?rerender=true)")
		return
	}
	if a.o.Wake != nil {
		a.o.Wake()
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"replayed": n})
}

// replayDead is POST /api/v1/deliveries/replay?status=dead, with optional
// filters: channel, rule, since (a duration: dead letters created that
// long ago or later) and rerender=true (render them again with the current
// templates instead of resending what was stored); dry_run=true requeues
// nothing and answers how many it would requeue.
func (a *API) replayDead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("status") != "dead" {
		writeError(w, http.StatusBadRequest, "use ?status=dead to replay every dead letter")
		return
	}
	f := store.ReplayFilter{Channel: q.Get("channel"), Rule: q.Get("rule")}
	if v := q.Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, "since: write a positive duration such as 30m or 2h")
			return
		}
		f.Since = a.o.Now().Add(-d)
	}
	switch q.Get("rerender") {
	case "", "false", "0":
	case "true", "1":
		rs := a.o.Reload.Current()
		f.Rerender = func(d store.StoredDelivery, body []byte) (notifiers.Parts, error) {
			return rs.Rerender(d.Rule, d.Channel, d.MessageID, d.Source, d.ReceivedAt, body)
		}
	default:
		writeError(w, http.StatusBadRequest, "rerender: use true or false")
		return
	}
	if q.Get("dry_run") == "true" {
		a.countDead(w, r, f)
		return
	}
	res, err := a.o.Store.ReplayMatching(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	if a.o.Wake != nil && res.Replayed > 0 {
		a.o.Wake()
	}
	writeJSON(w, http.StatusAccepted, res)
}
