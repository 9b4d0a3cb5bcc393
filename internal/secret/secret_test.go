package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestStringNeverPrints(t *testing.T) {
	s := String("hunter2-token")
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("x", "token", s)
	js, _ := json.Marshal(map[string]any{"t": s})
	outs := []string{
		fmt.Sprint(s), fmt.Sprintf("%s %v %q %#v %x %+v", s, s, s, s, s, struct{ T String }{s}),
		buf.String(), string(js),
	}
	for _, o := range outs {
		if strings.Contains(o, "hunter2") {
			t.Errorf("secret leaked: %s", o)
		}
		if !strings.Contains(o, Redacted) && !strings.Contains(o, `\u003csecret\u003e`) {
			t.Errorf("no redaction marker in %q", o)
		}
	}
	if s.Reveal() != "hunter2-token" {
		t.Fatal("Reveal lost the value")
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/services/T0/B0/XYZ"},
		{"https://user:pw@crm.example.com/x?token=abc", "https://<secret>@crm.example.com/x?<secret>"},
		{"not a url", Redacted},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScrub(t *testing.T) {
	got := Scrub("535 auth failed for password p4ssw0rd!", "p4ssw0rd!", "")
	if strings.Contains(got, "p4ssw0rd") || !strings.Contains(got, Redacted) {
		t.Fatalf("Scrub = %q", got)
	}
}

// TestScrubURL: a database URL's user name as pgx quotes it, its password
// and its credential query values are scrubbed; settings are not.
func TestScrubURL(t *testing.T) {
	const dsn = "postgres://sbuser:pa55-word@db.internal:5432/switchboard?sslmode=require&sslpassword=k3y-pass"
	msg := "connect to postgres: failed to connect to `user=sbuser database=switchboard`: " +
		"server error: password pa55-word rejected (sslmode require, sslpassword k3y-pass) for " + dsn
	got := ScrubURL(msg, dsn)
	for _, leak := range []string{"user=sbuser", "pa55-word", "k3y-pass", "db.internal:5432"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q left in %q", leak, got)
		}
	}
	if !strings.Contains(got, "user=<secret> database=switchboard") || !strings.Contains(got, "sslmode require") {
		t.Errorf("ScrubURL = %q", got)
	}
	if ScrubURL(msg, "") != msg {
		t.Error("no URL must change nothing")
	}
}
