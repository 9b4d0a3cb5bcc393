package app_test

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/app"
)

// TestShutdownWithinGraceWhenStoreHangs: with the store's database locked
// by another process (every write waits its busy timeout), SIGTERM still
// ends Serve within the shutdown grace and a little more, not after the
// store's own timeouts.
func TestShutdownWithinGraceWhenStoreHangs(t *testing.T) {
	const grace = 2 * time.Second
	s := startServe(t, floodRules, func(o *app.ServeOptions) { o.ShutdownGrace = grace })
	c := clientFrom("127.0.0.1")
	if code, _ := postSigned(t, c, s.addr, 1); code != http.StatusAccepted {
		t.Fatalf("before: %d", code)
	}
	db, err := sql.Open("sqlite", filepath.Join(s.dataDir, "switchboard.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.ExecContext(context.Background(), "ROLLBACK") }()

	// A webhook now waits on the locked store.
	stuck := make(chan int, 1)
	go func() {
		code, _ := postSigned(t, c, s.addr, 2)
		stuck <- code
	}()
	time.Sleep(300 * time.Millisecond) // the webhook reaches the store
	start := time.Now()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		took := time.Since(start)
		t.Logf("Serve returned %v after %v", err, took.Round(time.Millisecond))
		if took > grace+time.Second {
			t.Fatalf("shutdown took %v with a %v grace\n%s", took.Round(time.Millisecond), grace, s.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return within 30s")
	}
	if code := <-stuck; code == http.StatusAccepted {
		t.Fatal("a webhook the store could not take was acknowledged")
	}
}
