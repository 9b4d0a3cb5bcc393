package logrepeat

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	l := &Limiter{Now: func() time.Time { return now }}
	lines := func() []string { return strings.Split(strings.TrimSpace(logs.String()), "\n") }
	ctx := context.Background()
	refused := errors.New("connection refused")

	for range 30 { // a loop failing every second for half a minute
		l.Report(ctx, log, slog.LevelWarn, "cannot claim deliveries", refused)
		now = now.Add(time.Second)
	}
	if got := lines(); len(got) != 1 || strings.Contains(got[0], "repeated") || !strings.Contains(got[0], `error="connection refused"`) {
		t.Fatalf("30 failures in 30 s logged as:\n%s", logs.String())
	}
	now = now.Add(31 * time.Second)
	l.Report(ctx, log, slog.LevelWarn, "cannot claim deliveries", refused)
	l.Report(ctx, log, slog.LevelWarn, "cannot read silences", refused) // its own run
	got := lines()
	if len(got) != 3 || !strings.Contains(got[1], "repeated=29") || !strings.Contains(got[2], "cannot read silences") {
		t.Fatalf("after a minute:\n%s", logs.String())
	}
	l.Report(ctx, log, slog.LevelWarn, "cannot claim deliveries", nil)
	l.Report(ctx, log, slog.LevelWarn, "cannot claim deliveries", nil)
	l.Report(ctx, log, slog.LevelWarn, "cannot read silences", nil) // failed once: nothing to say
	got = lines()
	if len(got) != 4 || !strings.Contains(got[3], `msg=recovered from="cannot claim deliveries" failures=31`) {
		t.Fatalf("after recovery:\n%s", logs.String())
	}
	l.Report(ctx, log, slog.LevelWarn, "cannot claim deliveries", errors.New("again"))
	if got = lines(); len(got) != 5 || strings.Contains(got[4], "repeated") {
		t.Fatalf("a new run is logged at once:\n%s", logs.String())
	}
	// A loop that is stopping: its cancelled call is no failure.
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	l.Report(stopped, log, slog.LevelWarn, "cannot read silences", context.Canceled)
	if got = lines(); len(got) != 5 {
		t.Fatalf("a cancelled call was logged:\n%s", logs.String())
	}
}
