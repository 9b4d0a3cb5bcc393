package ingest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/silence"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
)

// TestSilenceReadsWhatRulesDoNot: ingest decodes only what the rules and
// templates read (here webhook_type: the HTTP body is the message as
// received), yet a silence whose expression reads another field still
// sees it, and the field it reads, with the same meta, decides.
func TestSilenceReadsWhatRulesDoNot(t *testing.T) {
	rs := loadRules(t, `
sources:
  lago: {lago: {}}
channels:
  hook: {http: {url: "http://127.0.0.1:1/in"}}
rules:
  - name: wallet-depleted
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send: [{to: hook}]
`)
	if r := rs.MessageReads(); r == nil || r.Keys["wallet"] != nil {
		t.Fatalf("the rules read %+v: the test needs them not to read wallet", r)
	}
	st, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now()
	if _, err := st.AddSilence(context.Background(), store.Silence{
		Rule: "wallet-depleted", When: `wallet.external_customer_id == "acme" && meta.source == "lago"`,
		Reason: "migration", Author: "test", StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	cache := silence.New(silence.Options{Store: st})
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: rec, Dispatch: rec, Owner: "test",
		Silenced: cache.SilencedLazy})
	for _, c := range []struct{ customer, want string }{{"acme", store.StateSilenced}, {"globex", ""}} {
		body := `{"webhook_type":"wallet.depleted_ongoing_balance","object_type":"wallet","wallet":{"lago_id":"w1","external_customer_id":"` + c.customer + `","balance_cents":0}}`
		if w := serve(h, http.MethodPost, "/webhooks/lago", body, nil); w.Code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", c.customer, w.Code, w.Body)
		}
		ds := rec.dels[len(rec.dels)-1]
		if len(ds) != 1 || ds[0].Preset != c.want {
			t.Errorf("%s: deliveries %+v, want preset %q", c.customer, ds, c.want)
		}
	}
}
