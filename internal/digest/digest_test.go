package digest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/ingest"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpg"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

var pg testpg.Shared

func TestMain(m *testing.M) { testkit.Main(m, &pg) }

// clock is a settable clock shared by the router, the store, ingest and
// the flusher.
type clock = testclock.Clock

const rules = `
sources:
  lago:
    lago: {}
channels:
  ops:
    slack: {webhook_url: "http://127.0.0.1:9/hook"}
  finance:
    email: {host: 127.0.0.1, port: 2525, tls: none, from: sb@example.com, to: [finance@example.com]}
  crm:
    http: {url: "http://127.0.0.1:9/in"}
  paris-finance:
    slack: {webhook_url: "http://127.0.0.1:9/hook"}
    schedule: {timezone: Europe/Paris, quiet: ["Sat-Sun", "20:00-08:00"], during_quiet: hold}
  ny-ops:
    slack: {webhook_url: "http://127.0.0.1:9/hook"}
rules:
  - name: paris-hold
    when: webhook_type == "invoice.created" && invoice.number startsWith "PARIS"
    send:
      - to: paris-finance
  - name: ny-drop
    when: webhook_type == "invoice.created" && invoice.number startsWith "NY"
    schedule: {timezone: America/New_York, quiet: ["22:00-06:00"], during_quiet: drop}
    send:
      - to: ny-ops
  - name: paris-digest
    when: webhook_type == "invoice.created" && invoice.number startsWith "DIGEST"
    group: {wait: 1m, interval: 5m}
    send:
      - to: paris-finance
  - name: big-invoices
    description: invoices over $10,000
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >= 1000000
    group: {by: "{{ .webhook_type }}", wait: 30s, interval: 5m, max: 3}
    send:
      - to: ops
      - to: finance
      - to: crm
  - name: custom
    when: webhook_type == "invoice.created" && invoice.number startsWith "CUSTOM"
    group: {wait: 10s}
    send:
      - to: ops
        template: digest.tmpl
`

const digestTmpl = `{{ define "text" }}Invoice {{ .invoice.number }}{{ end }}
{{ define "digest_text" }}{{ .Count }} custom invoices: {{ range .Messages }}{{ .invoice.number }} {{ end }}(key {{ .Key | default "none" }}){{ end }}`

// replica is one Switchboard's ingest and flusher over a store.
type replica struct {
	st    *store.Store
	srv   http.Handler
	flush *Flusher
}

func newReplica(t *testing.T, o store.Options, owner string, clk *clock) *replica {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "templates"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "digest.tmpl"), []byte(digestTmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, _, err := router.Load(router.LoadOptions{
		Builder:   wiring.Builder{},
		RulesPath: filepath.Join(dir, "rules.yaml"), TemplatesDir: filepath.Join(dir, "templates"), Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	o.Now = clk.Now
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	current := func() *router.Ruleset { return rs }
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/{source}", ingest.New(ingest.Options{Rules: current, Store: st, Owner: owner, Now: clk.Now}))
	return &replica{st: st, srv: mux, flush: New(Options{Store: st, Rules: current, Now: clk.Now})}
}

var keySeq struct {
	sync.Mutex
	n int
}

func (r *replica) post(t *testing.T, number string, cents int) {
	t.Helper()
	keySeq.Lock()
	keySeq.n++
	key := fmt.Sprintf("key-%d", keySeq.n)
	keySeq.Unlock()
	body := fmt.Sprintf(`{"webhook_type":"invoice.created","object_type":"invoice","invoice":{"number":%q,"total_amount_cents":%d,"currency":"USD","external_customer_id":"cust-%s"}}`, number, cents, number)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/lago", strings.NewReader(body))
	req.Header.Set("X-Lago-Unique-Key", key)
	w := httptest.NewRecorder()
	r.srv.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		t.Errorf("post %s: %d %s", number, w.Code, w.Body)
	}
}

func (r *replica) flushDue(t *testing.T) int {
	t.Helper()
	n, err := r.flush.FlushDue(context.Background())
	if err != nil {
		t.Fatalf("FlushDue: %v", err)
	}
	return n
}

// digests returns the stored digests of a rule to a channel, oldest first.
func digests(t *testing.T, st *store.Store, rule, channel string) []store.StoredDelivery {
	t.Helper()
	all, err := st.List(context.Background(), store.Filter{Rule: rule, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.StoredDelivery
	for i := len(all) - 1; i >= 0; i-- {
		d := all[i]
		if d.Channel == channel && strings.HasPrefix(d.Reason, "digest of ") {
			out = append(out, d)
		}
	}
	return out
}

func TestDigestTimingAndContent(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clk := testclock.New(t0)
	r := newReplica(t, store.Options{DataDir: t.TempDir()}, "a", clk)

	for i := range 4 {
		clk.Set(t0.Add(time.Duration(i) * 5 * time.Second))
		r.post(t, fmt.Sprintf("INV-%03d", i+1), 1_500_000+i)
	}
	r.post(t, "INV-small", 100) // does not match
	clk.Set(t0.Add(29 * time.Second))
	if n := r.flushDue(t); n != 0 {
		t.Fatalf("%d digests before group.wait", n)
	}
	clk.Set(t0.Add(30 * time.Second))
	if n := r.flushDue(t); n != 3 {
		t.Fatalf("%d digests at group.wait, want 3 (one per channel)", n)
	}

	slack := digests(t, r.st, "big-invoices", "ops")
	if len(slack) != 1 {
		t.Fatalf("%d Slack digests", len(slack))
	}
	wantText := "*4 × invoices over $10,000 in the last 30 seconds*\n" +
		"• *invoice.created* — invoice · Number: `INV-001` · Customer: `cust-INV-001` · Total: $15,000.00\n"
	if !strings.HasPrefix(slack[0].Parts.Text, wantText) {
		t.Fatalf("Slack digest text:\n%s\nwant prefix:\n%s", slack[0].Parts.Text, wantText)
	}
	// max: 3 messages are listed, the fourth counted.
	if got := strings.Count(slack[0].Parts.Text, "\n• "); got != 3 {
		t.Fatalf("%d lines listed, want 3:\n%s", got, slack[0].Parts.Text)
	}
	if !strings.HasSuffix(slack[0].Parts.Text, "… and 1 more") {
		t.Fatalf("digest does not count the rest:\n%s", slack[0].Parts.Text)
	}
	if strings.Contains(slack[0].Parts.Text, "INV-small") || strings.Contains(slack[0].Parts.Text, "INV-004") {
		t.Fatalf("digest lists a message it should not:\n%s", slack[0].Parts.Text)
	}
	mail := digests(t, r.st, "big-invoices", "finance")
	if len(mail) != 1 || mail[0].Parts.Subject != "4 × invoices over $10,000 in the last 30 seconds" ||
		len(mail[0].Parts.To) != 1 || mail[0].Parts.To[0] != "finance@example.com" {
		t.Fatalf("email digest: %+v", mail)
	}
	hook := digests(t, r.st, "big-invoices", "crm")
	if len(hook) != 1 || !strings.Contains(hook[0].Parts.Body, `"count":4`) ||
		!strings.Contains(hook[0].Parts.Body, `"number":"INV-003"`) || strings.Contains(hook[0].Parts.Body, `"number":"INV-004"`) {
		t.Fatalf("HTTP digest: %+v", hook)
	}
	for _, d := range append(append(slack, mail...), hook...) {
		if d.State != store.StatePending || d.Reason != `digest of 4 messages (key "invoice.created")` {
			t.Fatalf("digest %s: state %q reason %q", d.ID, d.State, d.Reason)
		}
	}

	// Later matches wait for the interval after the last digest.
	clk.Set(t0.Add(time.Minute))
	r.post(t, "INV-005", 2_000_000)
	clk.Set(t0.Add(2 * time.Minute))
	r.post(t, "INV-006", 2_000_000)
	clk.Set(t0.Add(30*time.Second + 5*time.Minute - time.Millisecond))
	if n := r.flushDue(t); n != 0 {
		t.Fatalf("%d digests before group.interval", n)
	}
	clk.Set(t0.Add(30*time.Second + 5*time.Minute))
	if n := r.flushDue(t); n != 3 {
		t.Fatalf("%d digests at group.interval, want 3", n)
	}
	slack = digests(t, r.st, "big-invoices", "ops")
	if len(slack) != 2 || !strings.HasPrefix(slack[1].Parts.Text, "*2 × invoices over $10,000 in the last 5 minutes*\n• *invoice.created* — invoice · Number: `INV-005`") {
		t.Fatalf("second digest: %q", slack[len(slack)-1].Parts.Text)
	}

	// A group of one is the message itself.
	clk.Set(t0.Add(time.Hour))
	r.post(t, "INV-007", 3_000_000)
	clk.Set(t0.Add(time.Hour + 30*time.Second))
	r.flushDue(t)
	slack = digests(t, r.st, "big-invoices", "ops")
	if len(slack) != 3 || strings.Contains(slack[2].Parts.Text, "×") || !strings.Contains(slack[2].Parts.Text, "INV-007") {
		t.Fatalf("digest of one: %q", slack[len(slack)-1].Parts.Text)
	}
}

func TestDigestTemplateBlocks(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clk := testclock.New(t0)
	r := newReplica(t, store.Options{DataDir: t.TempDir()}, "a", clk)
	r.post(t, "CUSTOM-1", 10)
	r.post(t, "CUSTOM-2", 10)
	clk.Set(t0.Add(10 * time.Second))
	r.flushDue(t)
	got := digests(t, r.st, "custom", "ops")
	if len(got) != 1 || got[0].Parts.Text != "2 custom invoices: CUSTOM-1 CUSTOM-2 (key none)" {
		t.Fatalf("digest_text: %+v", got)
	}
}

func TestRuleRemovedDropsGroup(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clk := testclock.New(t0)
	r := newReplica(t, store.Options{DataDir: t.TempDir()}, "a", clk)
	r.post(t, "INV-1", 2_000_000)
	empty, _, err := router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: writeFile(t, "rules: []\n")})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	r.flush.o.Rules = func() *router.Ruleset { return empty }
	clk.Set(t0.Add(time.Minute))
	if n := r.flushDue(t); n != 0 {
		t.Fatalf("%d digests for a removed rule", n)
	}
	dropped, _ := r.st.List(context.Background(), store.Filter{Status: store.StateDropped})
	if len(dropped) != 3 || !strings.Contains(dropped[0].Reason, `rule "big-invoices" was removed`) {
		t.Fatalf("dropped: %+v", dropped)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Two replicas share one PostgreSQL database: matches arrive at both, both
// flush at the same moments, and each group still gets exactly one digest
// per interval, holding every match once.
func TestTwoReplicasOneDigestPerInterval(t *testing.T) {
	dsn := pg.DSN(t)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clk := testclock.New(t0)
	a := newReplica(t, store.Options{DatabaseURL: dsn}, "a", clk)
	b := newReplica(t, store.Options{DatabaseURL: dsn}, "b", clk)

	const intervals, perInterval = 4, 30
	posted := 0
	for i := range intervals {
		// Matches arrive at both replicas at once while both flush.
		start := t0.Add(time.Duration(i) * 5 * time.Minute)
		clk.Set(start)
		var wg sync.WaitGroup
		for j := range perInterval {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rep := a
				if j%2 == 1 {
					rep = b
				}
				rep.post(t, fmt.Sprintf("INV-%d-%d", i, j), 5_000_000)
			}()
		}
		for _, rep := range []*replica{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					rep.flushDue(t)
				}
			}()
		}
		wg.Wait()
		posted += perInterval
		// Due: both flush concurrently, several times.
		clk.Set(start.Add(4*time.Minute + 59*time.Second))
		for range 3 {
			var fw sync.WaitGroup
			for _, rep := range []*replica{a, b} {
				fw.Add(1)
				go func() { defer fw.Done(); rep.flushDue(t) }()
			}
			fw.Wait()
		}
	}

	got := digests(t, a.st, "big-invoices", "ops")
	if len(got) != intervals {
		for _, d := range got {
			t.Logf("digest %s at %s: %s", d.ID, d.CreatedAt, strings.SplitN(d.Parts.Text, "\n", 2)[0])
		}
		t.Fatalf("%d Slack digests for %d intervals, want exactly one per interval", len(got), intervals)
	}
	total := 0
	for i, d := range got {
		var n int
		if _, err := fmt.Sscanf(d.Parts.Text, "*%d ×", &n); err != nil {
			t.Fatalf("digest %d text %q", i, d.Parts.Text)
		}
		total += n
		if i > 0 && d.CreatedAt.Sub(got[i-1].CreatedAt) < 5*time.Minute {
			t.Fatalf("digests %d and %d only %s apart", i-1, i, d.CreatedAt.Sub(got[i-1].CreatedAt))
		}
	}
	if total != posted {
		t.Fatalf("digests hold %d matches, want %d", total, posted)
	}
	for _, st := range []string{store.StateGrouped} {
		left, _ := a.st.List(context.Background(), store.Filter{Status: st, Limit: 1000})
		if len(left) != 0 {
			t.Fatalf("%d deliveries still %s", len(left), st)
		}
	}
	digested, _ := a.st.List(context.Background(), store.Filter{Status: store.StateDigested, Limit: 1000})
	if len(digested) != 3*posted {
		t.Fatalf("%d digested deliveries, want %d (3 channels × %d)", len(digested), 3*posted, posted)
	}
}
