package main

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
)

// TestDatabaseCredentialsNeverShown: the database driver names the user
// in its connection errors; neither a command's error nor a log line of
// serve shows it, nor the URL's password.
func TestDatabaseCredentialsNeverShown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	dsn := "postgres://sb-db-user:db-pa55word@" + closed + "/switchboard?sslmode=disable"
	code, out, errOut := runCLI(t, []string{"SWITCHBOARD_DATABASE=" + dsn}, "deliveries")
	if code != 1 || !strings.Contains(errOut, "user=<secret>") {
		t.Fatalf("deliveries against a closed database: exit %d\n%s%s", code, out, errOut)
	}
	for _, leak := range []string{"sb-db-user", "db-pa55word"} {
		if strings.Contains(out+errOut, leak) {
			t.Errorf("%q shown:\n%s%s", leak, out, errOut)
		}
	}

	var logs bytes.Buffer
	log := newLogger(&logs, func(s string) string { return strings.ReplaceAll(s, "user=sb-db-user", "user=<secret>") })
	log.Warn("cannot claim deliveries: user=sb-db-user", "error", errors.New("failed to connect to `user=sb-db-user database=switchboard`"), "detail", "user=sb-db-user")
	if strings.Contains(logs.String(), "sb-db-user") || strings.Count(logs.String(), "user=<secret>") != 3 {
		t.Errorf("log line not scrubbed: %s", logs.String())
	}
}
