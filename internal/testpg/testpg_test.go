package testpg

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var shared Shared

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = shared.Close()
		os.Exit(code)
	}))
}

func TestShared(t *testing.T) {
	tests := []struct {
		name  string
		table string
	}{
		{name: "first database", table: "a"},
		{name: "second database", table: "b"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := shared.DSN(t)
			if seen[dsn] {
				t.Fatalf("DSN %s handed out twice", dsn)
			}
			seen[dsn] = true
			if !strings.HasPrefix(dsn, "postgres://postgres@127.0.0.1:") {
				t.Fatalf("DSN %q is not on 127.0.0.1", dsn)
			}
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// A fresh database has no tables of ours.
			var n int
			if err := db.QueryRowContext(ctx,
				`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("fresh database has %d tables", n)
			}
			if _, err := db.ExecContext(ctx, "CREATE TABLE "+tt.table+" (v text)"); err != nil {
				t.Fatal(err)
			}
			var fsync string
			if err := db.QueryRowContext(ctx, "SHOW fsync").Scan(&fsync); err != nil {
				t.Fatal(err)
			}
			if fsync != "on" {
				t.Fatalf("fsync = %q, want on", fsync)
			}
		})
	}
}

func TestStartAndClose(t *testing.T) {
	srv, err := NewServer()
	if err != nil {
		unavailable(t, err)
	}
	dir := srv.dir
	dsn := srv.Database(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	db.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data directory %s left behind (stat: %v)", dir, err)
	}
	db, _ = sql.Open("pgx", dsn)
	defer db.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := db.PingContext(ctx2); err == nil {
		t.Fatal("server still accepts connections after Close")
	}
}
