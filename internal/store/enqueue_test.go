package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/notifiers"
)

func TestEnqueueStoresMessageAndDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		now := clk.Now()

		leased := newDelivery("large-invoice", "billing-alerts")
		leased.LeaseUntil = now.Add(25 * time.Second)
		leased.Parts = notifiers.Parts{
			Text: "Invoice INV-0001: $12,345.67", Subject: "Large invoice", HTML: "<p>INV-0001</p>",
			To: []string{"finance@example.com"}, Cc: []string{"cfo@example.com"},
			Path: "/hooks/acme", Headers: map[string]string{"X-Customer": "acme"}, ContentType: "application/json",
		}
		pending := newDelivery("large-invoice", "finance")
		pending.Test = true
		dead := newDelivery("large-invoice", "crm")
		dead.DeadError = `render body: template: body:1: function "nope" not defined`

		m := message("lago", "unique-key-1")
		m.ReceivedAt = now.Add(-time.Millisecond)
		for _, d := range []*RoutedDelivery{&leased, &pending, &dead} {
			d.MessageID = m.ID
		}
		dup, err := s.Enqueue(ctxT(t), m, "replica-a", []RoutedDelivery{leased, pending, dead})
		if err != nil || dup {
			t.Fatalf("Enqueue = dup %v, %v", dup, err)
		}

		tests := []struct {
			name      string
			in        RoutedDelivery
			state     string
			owner     string
			until     time.Time
			lastError string
		}{
			{name: "leased", in: leased, state: StateInFlight, owner: "replica-a", until: leased.LeaseUntil},
			{name: "pending", in: pending, state: StatePending},
			{name: "render failed is dead at once", in: dead, state: StateDead, lastError: dead.DeadError},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d, attempts := get(t, s, tt.in.ID)
				if d.State != tt.state || d.LeaseOwner != tt.owner || !d.LeaseUntil.Equal(tt.until) ||
					d.LastError != tt.lastError {
					t.Errorf("got state %s owner %q until %v error %q; want %s %q %v %q",
						d.State, d.LeaseOwner, d.LeaseUntil, d.LastError, tt.state, tt.owner, tt.until, tt.lastError)
				}
				if !reflect.DeepEqual(d.Notification, tt.in.Notification) {
					t.Errorf("stored delivery\n%+v\nwant\n%+v", d.Notification, tt.in.Notification)
				}
				if d.Source != "lago" || d.WebhookType != "invoice.created" || !d.ReceivedAt.Equal(m.ReceivedAt) {
					t.Errorf("message fields: source %q type %q received %v", d.Source, d.WebhookType, d.ReceivedAt)
				}
				if d.Attempts != 0 || len(attempts) != 0 || !d.CreatedAt.Equal(now) || !d.QueuedAt.Equal(now) ||
					!d.NextAttemptAt.Equal(now) || d.DeliveredAt != nil {
					t.Errorf("fresh delivery: %+v, attempts %v", d, attempts)
				}
			})
		}

		msgs, err := s.RecentMessages(ctxT(t), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || msgs[0].ID != m.ID || msgs[0].Key != "unique-key-1" ||
			string(msgs[0].Body) != string(m.Body) || msgs[0].RulesVersion != "v1" {
			t.Fatalf("RecentMessages = %+v", msgs)
		}
	})
}

func TestEnqueueDeduplicates(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		s := openT(t, o)
		tests := []struct {
			name     string
			first    Message
			second   Message
			wantDup  bool
			wantMsgs int
		}{
			{name: "same source and key", first: message("lago", "k1"), second: message("lago", "k1"),
				wantDup: true, wantMsgs: 1},
			{name: "same key other source", first: message("lago", "k2"), second: message("stripe", "k2"),
				wantDup: false, wantMsgs: 2},
			{name: "empty key never dedupes", first: message("lago", ""), second: message("lago", ""),
				wantDup: false, wantMsgs: 2},
			{name: "different keys", first: message("lago", "k3"), second: message("lago", "k4"),
				wantDup: false, wantMsgs: 2},
			{name: "same body hash, fresh key", first: hashed("lago", "k5", "h1"), second: hashed("lago", "k6", "h1"),
				wantDup: true, wantMsgs: 1},
			{name: "same body hash, no key", first: hashed("lago", "", "h2"), second: hashed("lago", "", "h2"),
				wantDup: true, wantMsgs: 1},
			{name: "same body hash other source", first: hashed("lago", "", "h3"), second: hashed("stripe", "", "h3"),
				wantDup: false, wantMsgs: 2},
			{name: "body hash equal to a key", first: message("lago", "h4"), second: hashed("lago", "", "h4"),
				wantDup: false, wantMsgs: 2},
			{name: "same key, other body hash", first: hashed("lago", "k7", "h5"), second: hashed("lago", "k7", "h6"),
				wantDup: true, wantMsgs: 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				msgs0, dels0 := countMessages(t, s), countDeliveries(t, s)
				d1, d2 := newDelivery("r", "c"), newDelivery("r", "c")
				if dup, err := s.Enqueue(ctxT(t), tt.first, "a", []RoutedDelivery{d1}); err != nil || dup {
					t.Fatalf("first Enqueue = %v, %v", dup, err)
				}
				dup, err := s.Enqueue(ctxT(t), tt.second, "a", []RoutedDelivery{d2})
				if err != nil || dup != tt.wantDup {
					t.Fatalf("second Enqueue = dup %v, %v; want dup %v", dup, err, tt.wantDup)
				}
				if got := countMessages(t, s) - msgs0; got != tt.wantMsgs {
					t.Errorf("%d messages stored, want %d", got, tt.wantMsgs)
				}
				if got := countDeliveries(t, s) - dels0; got != tt.wantMsgs {
					t.Errorf("%d deliveries stored, want %d", got, tt.wantMsgs)
				}
				if _, _, err := s.Get(ctxT(t), d2.ID); tt.wantDup != (err == ErrNotFound) {
					t.Errorf("Get(second delivery) = %v", err)
				}
			})
		}
	})
}

// hashed is a message with a key (maybe empty) and a body hash.
func hashed(source, key, hash string) Message {
	m := message(source, key)
	m.BodyHash = hash
	return m
}

// TestEnqueueDeduplicatesBodyHashInBatch: within one group commit the
// first message with a body hash wins, as with keys.
func TestEnqueueDeduplicatesBodyHashInBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		o.BatchWait = 50 * time.Millisecond
		s := openT(t, o)
		var wg sync.WaitGroup
		dups := make([]bool, 8)
		for i := range dups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dup, err := s.Enqueue(ctxT(t), hashed("lago", fmt.Sprintf("batch-key-%d", i), "same-body"), "", nil)
				if err != nil {
					t.Error(err)
				}
				dups[i] = dup
			}()
		}
		wg.Wait()
		n := 0
		for _, d := range dups {
			if !d {
				n++
			}
		}
		if n != 1 || countMessages(t, s) != 1 {
			t.Fatalf("%d of 8 accepted, %d stored; want 1 and 1", n, countMessages(t, s))
		}
	})
}

// histogram reads a histogram's sample count and sum from a registry.
func histogram(t *testing.T, reg *prometheus.Registry, name string) (count uint64, sum float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0, 0
}

func TestGroupCommit(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		reg := prometheus.NewRegistry()
		o.Metrics = metrics.New(reg)
		// A wide window, so that on a loaded machine the concurrent calls
		// below still land in few transactions.
		o.BatchWait = 200 * time.Millisecond
		o.BatchSize = 1000
		s := openT(t, o)

		const keys, copies = 20, 3 // each key sent three times at once
		type result struct {
			key string
			dup bool
			err error
		}
		results := make(chan result, keys*copies)
		var wg sync.WaitGroup
		for k := range keys {
			for range copies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := fmt.Sprintf("key-%d", k)
					dup, err := s.Enqueue(ctxT(t), message("lago", key), "a", []RoutedDelivery{newDelivery("r", "c")})
					results <- result{key, dup, err}
				}()
			}
		}
		wg.Wait()
		close(results)
		stored := map[string]int{}
		for r := range results {
			if r.err != nil {
				t.Fatalf("Enqueue(%s): %v", r.key, r.err)
			}
			if !r.dup {
				stored[r.key]++
			}
		}
		for k := range keys {
			if n := stored[fmt.Sprintf("key-%d", k)]; n != 1 {
				t.Errorf("key-%d: %d callers were told the message was new, want exactly 1", k, n)
			}
		}
		if n := countMessages(t, s); n != keys {
			t.Errorf("%d messages stored, want %d", n, keys)
		}
		if n := countDeliveries(t, s); n != keys {
			t.Errorf("%d deliveries stored, want %d", n, keys)
		}
		commits, messages := histogram(t, reg, "switchboard_ingest_batch_size")
		if messages != keys*copies {
			t.Errorf("batches held %v messages, want %d", messages, keys*copies)
		}
		if commits > keys*copies/4 {
			t.Errorf("%d transactions for %d concurrent messages: not batched", commits, keys*copies)
		}
		t.Logf("%d messages in %d transactions", keys*copies, commits)
		if n, _ := histogram(t, reg, "switchboard_commit_duration_seconds"); n != commits {
			t.Errorf("commit_duration_seconds has %d samples, want %d", n, commits)
		}
	})
}

func TestEnqueueErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		s := openT(t, o)
		// Break the store under the writer: every caller of the batch must
		// get the error, and nothing may be stored.
		if _, err := s.w.ExecContext(ctxT(t), "ALTER TABLE deliveries RENAME TO deliveries_gone"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Enqueue(ctxT(t), message("lago", ""), "a", []RoutedDelivery{newDelivery("r", "c")})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err == nil {
				t.Error("Enqueue on a broken store returned no error")
			}
		}
		if _, err := s.w.ExecContext(ctxT(t), "ALTER TABLE deliveries_gone RENAME TO deliveries"); err != nil {
			t.Fatal(err)
		}
		if n := countMessages(t, s); n != 0 {
			t.Errorf("%d messages stored by failed transactions", n)
		}

		tests := []struct {
			name string
			call func() error
		}{
			{name: "message without ID", call: func() error {
				_, err := s.Enqueue(ctxT(t), Message{Source: "lago"}, "a", nil)
				return err
			}},
			{name: "leased delivery without owner", call: func() error {
				d := newDelivery("r", "c")
				d.LeaseUntil = time.Now().Add(time.Minute)
				_, err := s.Enqueue(ctxT(t), message("lago", ""), "", []RoutedDelivery{d})
				return err
			}},
			{name: "cancelled context", call: func() error {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_, err := s.Enqueue(ctx, message("lago", ""), "a", nil)
				return err
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); err == nil {
					t.Fatal("no error")
				}
			})
		}

		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Enqueue(ctxT(t), message("lago", ""), "a", nil); err != ErrClosed {
			t.Fatalf("Enqueue after Close = %v, want ErrClosed", err)
		}
	})
}

func TestMigrations(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		s := openT(t, o)
		enqueue(t, s, "a", newDelivery("r", "c"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Opening again applies nothing and keeps the data.
		s2 := openT(t, o)
		ms, err := loadMigrations(s2.dialect)
		if err != nil {
			t.Fatal(err)
		}
		latest := ms[len(ms)-1].version
		if v, err := s2.SchemaVersion(ctxT(t)); err != nil || v != latest {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
		if n := countMessages(t, s2); n != 1 {
			t.Fatalf("%d messages after reopening, want 1", n)
		}
		// A database migrated by a newer build is refused.
		if _, err := s2.w.ExecContext(ctxT(t),
			"INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)"); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctxT(t), o); err == nil {
			t.Fatal("Open accepted a schema newer than it knows")
		} else if want := fmt.Sprintf("database schema is at version 99 but this switchboard knows only up to %d", latest); !strings.Contains(err.Error(), want) {
			t.Fatalf("Open error %q does not say %q", err, want)
		}
	})
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	lite, err := loadMigrations(sqliteDialect)
	if err != nil {
		t.Fatal(err)
	}
	pgm, err := loadMigrations(postgresDialect)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) != len(pgm) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones", len(lite), len(pgm))
	}
	for i := range lite {
		if lite[i].name != pgm[i].name {
			t.Errorf("migration %d: %s vs %s", i+1, lite[i].name, pgm[i].name)
		}
		if a, b := len(statements(lite[i].sql)), len(statements(pgm[i].sql)); a != b {
			t.Errorf("%s: %d statements for SQLite, %d for PostgreSQL", lite[i].name, a, b)
		}
	}
}

func TestSQLiteSurvivesReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	o := Options{DataDir: dir}
	s := openT(t, o)
	d := newDelivery("wallet-depleted", "billing-alerts")
	d.LeaseUntil = time.Now().Add(time.Minute)
	m := enqueue(t, s, "a", d)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, o)
	got := wantState(t, s2, d.ID, StateInFlight)
	if got.MessageID != m.ID || got.Parts.Text != d.Parts.Text || got.LeaseOwner != "a" {
		t.Fatalf("after reopening: %+v", got)
	}
	var mode string
	if err := s2.w.QueryRowContext(ctxT(t), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var sync int
	if err := s2.w.QueryRowContext(ctxT(t), "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{name: "nothing", o: Options{}, want: "no data directory and no database URL"},
		{name: "not postgres", o: Options{DatabaseURL: "mysql://u:hunter2@db/x"}, want: "must start with postgres://"},
		{name: "unreachable", o: Options{DatabaseURL: "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=5"},
			want: "connect to postgres"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(ctxT(t), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want an error saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func BenchmarkEnqueue(b *testing.B) {
	s, err := Open(context.Background(), Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetParallelism(16) // many concurrent webhook requests per CPU
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			m := message("lago", id("key"))
			d1, d2 := newDelivery("large-invoice", "finance"), newDelivery("large-invoice", "billing-alerts")
			d1.LeaseUntil, d2.LeaseUntil = time.Now().Add(time.Minute), time.Now().Add(time.Minute)
			if _, err := s.Enqueue(ctx, m, "bench", []RoutedDelivery{d1, d2}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
