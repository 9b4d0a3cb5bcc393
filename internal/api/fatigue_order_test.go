package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/ingest"
	"github.com/switchboard-dev/switchboard/internal/silence"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

// fatigueRules has one rule per combination of alert-fatigue settings the
// agreement test sends through. The clock stands on a Saturday, so "Sat"
// quiet hours cover every message.
const fatigueRules = `
sources:
  in: {max_body: 65536}
channels:
  ops:
    http: {url: "http://127.0.0.1:1/in"}
rules:
  - name: plain
    when: kind == "plain"
    send: [{to: ops}]
  - name: throttled
    when: kind == "throttled"
    throttle: {key: "{{ .key }}", every: 1h}
    send: [{to: ops}]
  - name: grouped
    when: kind == "grouped"
    group: {by: "{{ .key }}", wait: 1m, interval: 10m}
    send: [{to: ops}]
  - name: throttled-grouped
    when: kind == "throttled-grouped"
    throttle: {key: "{{ .key }}", every: 1h}
    group: {by: "{{ .key }}", wait: 1m}
    send: [{to: ops}]
  - name: quiet-drop
    when: kind == "quiet-drop"
    schedule: {timezone: UTC, quiet: ["Sat"], during_quiet: drop}
    throttle: {key: "{{ .key }}", every: 1h}
    group: {by: "{{ .key }}", wait: 1m}
    send: [{to: ops}]
  - name: quiet-hold
    when: kind == "quiet-hold"
    schedule: {timezone: UTC, quiet: ["Sat"], during_quiet: hold}
    send: [{to: ops}]
  - name: quiet-hold-throttled
    when: kind == "quiet-hold-throttled"
    schedule: {timezone: UTC, quiet: ["Sat"], during_quiet: hold}
    throttle: {key: "{{ .key }}", every: 1h}
    send: [{to: ops}]
  - name: quiet-hold-grouped
    when: kind == "quiet-hold-grouped"
    schedule: {timezone: UTC, quiet: ["Sat"], during_quiet: hold}
    group: {by: "{{ .key }}", wait: 1m}
    send: [{to: ops}]
  - name: silenced
    when: kind == "silenced"
    schedule: {timezone: UTC, quiet: ["Sat"], during_quiet: drop}
    throttle: {key: "{{ .key }}", every: 1h}
    group: {by: "{{ .key }}", wait: 1m}
    send: [{to: ops}]
`

// stateOf is the stored state of a delivery the explanation's decision
// promises.
var stateOf = map[string]string{
	DecisionSend:     store.StateInFlight,
	DecisionSuppress: store.StateSuppressed,
	DecisionGroup:    store.StateGrouped,
	DecisionHold:     store.StateHeld,
	DecisionDrop:     store.StateDropped,
	DecisionSilence:  store.StateSilenced,
}

// The admin API's explanation of a test, ingest and the store's commit
// walk the same fatigue order: for each case, messages sent one after the
// other are explained first, then ingested, and the stored delivery is in
// the state the explanation announced.
func TestFatigueOrderAgrees(t *testing.T) {
	cases := []struct {
		kind string
		want []string // the decision for each message sent in turn
	}{
		{"plain", []string{DecisionSend, DecisionSend}},
		{"throttled", []string{DecisionSend, DecisionSuppress, DecisionSuppress}},
		{"grouped", []string{DecisionGroup, DecisionGroup}},
		{"throttled-grouped", []string{DecisionGroup, DecisionSuppress}},
		{"quiet-drop", []string{DecisionDrop, DecisionDrop}},
		{"quiet-hold", []string{DecisionHold, DecisionHold}},
		{"quiet-hold-throttled", []string{DecisionHold, DecisionSuppress}},
		{"quiet-hold-grouped", []string{DecisionGroup, DecisionGroup}},
		{"silenced", []string{DecisionSilence, DecisionSilence}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := ctxT(t)
			saturday := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
			clk := testclock.New(saturday)
			dir := t.TempDir()
			path := filepath.Join(dir, "rules.yaml")
			if err := os.WriteFile(path, []byte(fatigueRules), 0o644); err != nil {
				t.Fatal(err)
			}
			rs, _, err := router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: path, TemplatesDir: dir, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(rs.Close)
			so := b.opts(t)
			so.Now = clk.Now
			st, err := store.Open(ctx, so)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			if _, err := st.AddSilence(ctx, store.Silence{Rule: "silenced", Reason: "maintenance",
				EndsAt: saturday.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			silences := silence.New(silence.Options{Store: st, Now: clk.Now})
			if err := silences.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			ing := ingest.New(ingest.Options{Rules: func() *router.Ruleset { return rs }, Store: st, Owner: "test",
				Now: clk.Now, Silenced: silences.SilencedLazy})
			mux := http.NewServeMux()
			mux.Handle("POST /webhooks/{source}", ing)
			env := TestEnv{Live: st, Silenced: silences.Silenced}

			for _, c := range cases {
				for i, want := range c.want {
					body := `{"kind": "` + c.kind + `", "key": "k1"}`
					var data map[string]any
					if err := json.Unmarshal([]byte(body), &data); err != nil {
						t.Fatal(err)
					}
					env.Now = clk.Now()
					res := TestMessageIn(ctx, rs, "in", []byte(body), data, env)
					if len(res.Matches) != 1 || len(res.Matches[0].Deliveries) != 1 {
						t.Fatalf("%s #%d: test result %+v", c.kind, i, res)
					}
					td := res.Matches[0].Deliveries[0]
					if td.Decision != want {
						t.Errorf("%s #%d: explained %q (%s), want %q", c.kind, i, td.Decision, td.Reason, want)
					}

					w := httptest.NewRecorder()
					mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhooks/in", strings.NewReader(body)))
					var rep struct{ ID string }
					if w.Code != http.StatusAccepted || json.Unmarshal(w.Body.Bytes(), &rep) != nil {
						t.Fatalf("%s #%d: ingest answered %d %s", c.kind, i, w.Code, w.Body)
					}
					got := storedDelivery(t, st, c.kind, rep.ID)
					if got.State != stateOf[td.Decision] {
						t.Errorf("%s #%d: explained %q (%s) but stored %q (%s)", c.kind, i,
							td.Decision, td.Reason, got.State, got.Reason)
					}
					switch td.Decision {
					case DecisionSilence, DecisionDrop, DecisionHold:
						if got.Reason != td.Reason {
							t.Errorf("%s #%d: explained %q, stored %q", c.kind, i, td.Reason, got.Reason)
						}
					}
					clk.Add(time.Second)
				}
			}
		})
	}
}

// storedDelivery returns the delivery of rule for message id.
func storedDelivery(t *testing.T, st *store.Store, rule, id string) store.StoredDelivery {
	t.Helper()
	ds, err := st.List(ctxT(t), store.Filter{Rule: rule, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.MessageID == id {
			return d
		}
	}
	t.Fatalf("no delivery of rule %s for message %s among %d", rule, id, len(ds))
	return store.StoredDelivery{}
}
