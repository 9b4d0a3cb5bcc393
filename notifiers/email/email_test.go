package email_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/email"
)

// wait bounds how long a test waits for the peer; generous, since the
// peer is local and only a broken test gets near it.
const wait = 10 * time.Second

const password = "correct-horse-battery"

// config returns a channel config pointing at srv in plaintext
// (tls: none); mut adjusts it.
func config(srv *testpeer.SMTPServer, mut func(*email.Config)) email.Config {
	c := email.Config{
		Host: srv.Host(),
		Port: email.NewPort(srv.Port()),
		TLS:  email.TLSNone,
		From: "Billing bot <billing@example.com>",
		To:   []string{"{{ .invoice.customer.email }}"},
	}
	if mut != nil {
		mut(&c)
	}
	return c
}

func newNotifier(t *testing.T, c email.Config, timeout time.Duration) *email.Notifier {
	t.Helper()
	n, err := email.New(c, notifiers.Options{Timeout: timeout})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

// delivery returns a typical rendered email delivery; mut adjusts it.
func delivery(mut func(*notifiers.Notification)) notifiers.Notification {
	d := notifiers.Notification{
		ID:        "dlv_01HZX3K9Q2",
		MessageID: "msg_1",
		Rule:      "large-invoice",
		Channel:   "finance",
		Parts: notifiers.Parts{
			To:      []string{"finance@example.com"},
			Subject: "Invoice INV-001 created",
			Text:    "Invoice INV-001: $12,345.67",
		},
	}
	if mut != nil {
		mut(&d)
	}
	return d
}

// sendOne sends d and returns the one message the server received.
func sendOne(t *testing.T, srv *testpeer.SMTPServer, n *email.Notifier, d notifiers.Notification) testpeer.SMTPMessage {
	t.Helper()
	before := srv.Len()
	if err := n.Notify(context.Background(), d); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	msgs, err := srv.WaitFor(before+1, wait)
	if err != nil {
		t.Fatal(err)
	}
	return msgs[len(msgs)-1]
}

func TestNotifyBodies(t *testing.T) {
	srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	n := newNotifier(t, config(srv, nil), 0)

	// Long lines, non-ASCII, "=" and a line starting with "." exercise
	// quoted-printable and SMTP dot-stuffing.
	text := "Invoice INV-001 for Müller GmbH: €12,345.67 — due in 30 days.\n" +
		".a line starting with a dot\n" +
		"a=b " + strings.Repeat("long line ", 20) + "\nend"
	html := `<p>Invoice <b>INV-001</b> for <i>Müller GmbH</i>: €12,345.67</p>` + "\n<p>" + strings.Repeat("wide ", 30) + "</p>"

	type part struct{ mediaType, body string }
	tests := []struct {
		name      string
		text      string
		html      string
		topType   string
		wantParts []part
	}{
		{name: "text only", text: text, topType: "text/plain", wantParts: []part{{"text/plain", text}}},
		{name: "html only", html: html, topType: "text/html", wantParts: []part{{"text/html", html}}},
		{name: "text and html", text: text, html: html, topType: "multipart/alternative",
			wantParts: []part{{"text/plain", text}, {"text/html", html}}},
		{name: "neither", topType: "text/plain", wantParts: []part{{"text/plain", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := sendOne(t, srv, n, delivery(func(d *notifiers.Notification) {
				d.Parts.Text, d.Parts.HTML = tc.text, tc.html
			}))
			if got := mediaType(t, m.Header.Get("Content-Type")); got != tc.topType {
				t.Errorf("Content-Type %q, want %s", m.Header.Get("Content-Type"), tc.topType)
			}
			if got := m.Header.Get("MIME-Version"); got != "1.0" {
				t.Errorf("MIME-Version %q", got)
			}
			parts, err := m.Parts()
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != len(tc.wantParts) {
				t.Fatalf("got %d parts, want %d:\n%s", len(parts), len(tc.wantParts), m.Data)
			}
			for i, want := range tc.wantParts {
				got := parts[i]
				if got.MediaType != want.mediaType || !strings.EqualFold(got.Charset, "UTF-8") {
					t.Errorf("part %d: Content-Type %q, want %s; charset=UTF-8", i, got.ContentType, want.mediaType)
				}
				if got.Body != want.body {
					t.Errorf("part %d body:\n got %q\nwant %q", i, got.Body, want.body)
				}
			}
			for _, line := range strings.Split(string(m.Data), "\r\n") {
				if len(line) > 998 {
					t.Errorf("line longer than SMTP allows: %d", len(line))
				}
			}
		})
	}
}

func mediaType(t *testing.T, contentType string) string {
	t.Helper()
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func TestNotifyHeadersAndRecipients(t *testing.T) {
	srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	n := newNotifier(t, config(srv, nil), 0)
	before := time.Now().Add(-time.Second).Truncate(time.Second)

	m := sendOne(t, srv, n, delivery(func(d *notifiers.Notification) {
		d.Parts.To = []string{`"Finance Team" <finance@example.com>`, "ops@example.com, cfo@example.com", ""}
		d.Parts.Cc = []string{"Zoë Ærø <audit@example.com>", "FINANCE@example.com"}
	}))

	if m.From != "billing@example.com" {
		t.Errorf("envelope from %q", m.From)
	}
	// Every address once, To before Cc; the Cc duplicate of a To address
	// (case aside) is not sent twice.
	wantRcpt := []string{"finance@example.com", "ops@example.com", "cfo@example.com", "audit@example.com"}
	if !reflect.DeepEqual(m.To, wantRcpt) {
		t.Errorf("envelope recipients %q, want %q", m.To, wantRcpt)
	}

	checkAddrs := func(header string, want []mail.Address) {
		t.Helper()
		got, err := m.Header.AddressList(header)
		if err != nil {
			t.Fatalf("%s: %v (%q)", header, err, m.Header.Get(header))
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", header, got, want)
		}
		for i := range want {
			if *got[i] != want[i] {
				t.Errorf("%s[%d] = %+v, want %+v", header, i, *got[i], want[i])
			}
		}
	}
	checkAddrs("From", []mail.Address{{Name: "Billing bot", Address: "billing@example.com"}})
	checkAddrs("To", []mail.Address{
		{Name: "Finance Team", Address: "finance@example.com"},
		{Address: "ops@example.com"}, {Address: "cfo@example.com"},
	})
	checkAddrs("Cc", []mail.Address{{Name: "Zoë Ærø", Address: "audit@example.com"}, {Address: "FINANCE@example.com"}})
	if got := m.Header.Get("Bcc"); got != "" {
		t.Errorf("Bcc header %q", got)
	}

	wantHeaders := map[string]string{
		"Subject":                "Invoice INV-001 created",
		"Message-ID":             "<dlv_01HZX3K9Q2@switchboard>",
		"X-Switchboard-Delivery": "dlv_01HZX3K9Q2",
		"X-Switchboard-Rule":     "large-invoice",
		"Auto-Submitted":         "auto-generated",
		"X-Switchboard-Test":     "",
	}
	for k, want := range wantHeaders {
		if got := m.HeaderValue(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	date, err := m.Header.Date()
	if err != nil {
		t.Fatalf("Date: %v", err)
	}
	if date.Before(before) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date %v is not now", date)
	}
}

func TestNotifySubject(t *testing.T) {
	srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	n := newNotifier(t, config(srv, nil), 0)

	long := "Rechnung überfällig für Müller GmbH — " + strings.Repeat("Zahlungserinnerung 🎉 ", 8)
	tests := []struct {
		name    string
		subject string
		test    bool
		want    string
	}{
		{name: "ascii", subject: "Invoice INV-001 created", want: "Invoice INV-001 created"},
		{name: "utf-8", subject: "Facture payée — Müller 🎉", want: "Facture payée — Müller 🎉"},
		{name: "long utf-8 is folded and decodes whole", subject: long, want: long},
		{name: "test prefix", subject: "Wallet depleted", test: true, want: "[TEST] Wallet depleted"},
		{name: "test prefix with utf-8", subject: "Guthaben erschöpft", test: true, want: "[TEST] Guthaben erschöpft"},
		{name: "header injection stays in the subject", subject: "Hi\r\nBcc: victim@example.org", want: "Hi\r\nBcc: victim@example.org"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := sendOne(t, srv, n, delivery(func(d *notifiers.Notification) {
				d.Parts.Subject, d.Test = tc.subject, tc.test
			}))
			if got := m.Subject(); got != tc.want {
				t.Errorf("subject %q, want %q", got, tc.want)
			}
			raw := m.Header.Get("Subject")
			for _, r := range raw {
				if r > 0x7e {
					t.Fatalf("raw Subject header is not ASCII: %q", raw)
				}
			}
			if got := m.Header.Get("Bcc"); got != "" {
				t.Errorf("injected Bcc header %q", got)
			}
			if !reflect.DeepEqual(m.To, []string{"finance@example.com"}) {
				t.Errorf("recipients %q", m.To)
			}
			wantTest := ""
			if tc.test {
				wantTest = "true"
			}
			if got := m.HeaderValue("X-Switchboard-Test"); got != wantTest {
				t.Errorf("X-Switchboard-Test %q, want %q", got, wantTest)
			}
		})
	}
}

func TestMessageIDIsStable(t *testing.T) {
	srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	n := newNotifier(t, config(srv, nil), 0)

	first := sendOne(t, srv, n, delivery(nil))
	retry := sendOne(t, srv, n, delivery(nil)) // the same delivery again, as a retry or replay sends it
	other := sendOne(t, srv, n, delivery(func(d *notifiers.Notification) { d.ID = "dlv_01HZX3K9Q3" }))

	id := first.Header.Get("Message-ID")
	if want := email.MessageID("dlv_01HZX3K9Q2"); id != want || want != "<dlv_01HZX3K9Q2@switchboard>" {
		t.Errorf("Message-ID %q, want %q", id, want)
	}
	if got := retry.Header.Get("Message-ID"); got != id {
		t.Errorf("retry Message-ID %q, want %q", got, id)
	}
	if got := other.Header.Get("Message-ID"); got == id || got != "<dlv_01HZX3K9Q3@switchboard>" {
		t.Errorf("other delivery's Message-ID %q", got)
	}
}

func TestNotifyTLS(t *testing.T) {
	tests := []struct {
		name      string
		server    testpeer.SMTPTLS
		tls       string
		trustCA   bool
		wantTLS   bool
		wantErr   string // empty: delivered
		permanent bool
	}{
		{name: "starttls with ca_file", server: testpeer.SMTPStartTLS, tls: email.TLSStartTLS, trustCA: true, wantTLS: true},
		{name: "starttls is the default", server: testpeer.SMTPStartTLS, tls: "", trustCA: true, wantTLS: true},
		{name: "starttls required but not offered", server: testpeer.SMTPNoTLS, tls: email.TLSStartTLS, trustCA: true,
			wantErr: "does not offer STARTTLS", permanent: true},
		{name: "starttls with untrusted certificate", server: testpeer.SMTPStartTLS, tls: email.TLSStartTLS,
			wantErr: "certificate", permanent: true},
		{name: "implicit tls", server: testpeer.SMTPImplicitTLS, tls: email.TLSImplicit, trustCA: true, wantTLS: true},
		{name: "implicit tls with untrusted certificate", server: testpeer.SMTPImplicitTLS, tls: email.TLSImplicit,
			wantErr: "certificate", permanent: true},
		{name: "implicit tls to a plaintext server", server: testpeer.SMTPNoTLS, tls: email.TLSImplicit, trustCA: true,
			wantErr: "TLS handshake", permanent: true},
		{name: "none", server: testpeer.SMTPNoTLS, tls: email.TLSNone},
		{name: "none does not upgrade", server: testpeer.SMTPStartTLS, tls: email.TLSNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{TLS: tc.server})
			n := newNotifier(t, config(srv, func(c *email.Config) {
				c.TLS = tc.tls
				if tc.trustCA {
					c.CAFile = srv.CAFile()
				}
			}), 0)
			err := n.Notify(context.Background(), delivery(nil))
			if tc.wantErr != "" {
				checkErr(t, err, tc.permanent, tc.wantErr)
				if got := srv.Len(); got != 0 {
					t.Errorf("server received %d messages", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Notify: %v", err)
			}
			msgs, err := srv.WaitFor(1, wait)
			if err != nil {
				t.Fatal(err)
			}
			if msgs[0].TLS != tc.wantTLS {
				t.Errorf("session encrypted = %v, want %v", msgs[0].TLS, tc.wantTLS)
			}
			if body, _ := msgs[0].Text(); body != "Invoice INV-001: $12,345.67" {
				t.Errorf("body %q", body)
			}
		})
	}
}

func TestNotifyAuth(t *testing.T) {
	tests := []struct {
		name       string
		server     testpeer.SMTPOptions
		tls        string
		username   string
		password   string
		wantUser   string
		wantErr    string
		permanent  bool
		wantSecret bool // whether the server's reply echoed the password (to check scrubbing)
	}{
		{name: "plain over starttls", server: testpeer.SMTPOptions{TLS: testpeer.SMTPStartTLS, Username: "billing", Password: password},
			tls: email.TLSStartTLS, username: "billing", password: password, wantUser: "billing"},
		{name: "plain over implicit tls", server: testpeer.SMTPOptions{TLS: testpeer.SMTPImplicitTLS, Username: "billing", Password: password},
			tls: email.TLSImplicit, username: "billing", password: password, wantUser: "billing"},
		{name: "login only", server: testpeer.SMTPOptions{TLS: testpeer.SMTPStartTLS, Username: "billing", Password: password, Mechanisms: []string{"LOGIN"}},
			tls: email.TLSStartTLS, username: "billing", password: password, wantUser: "billing"},
		{name: "plaintext to loopback", server: testpeer.SMTPOptions{Username: "billing", Password: password},
			tls: email.TLSNone, username: "billing", password: password, wantUser: "billing"},
		{name: "no auth needed", server: testpeer.SMTPOptions{TLS: testpeer.SMTPStartTLS}, tls: email.TLSStartTLS},
		{name: "wrong password", server: testpeer.SMTPOptions{TLS: testpeer.SMTPStartTLS, Username: "billing", Password: "other-password"},
			tls: email.TLSStartTLS, username: "billing", password: password, wantErr: "AUTH: 535", permanent: true},
		{name: "rejected with the password echoed", server: testpeer.SMTPOptions{
			TLS: testpeer.SMTPStartTLS, Username: "billing", Password: password,
			Reject: map[testpeer.SMTPCommand]testpeer.SMTPReply{testpeer.SMTPAuth: {Code: 535, Message: "bad credentials " + password + " AGJpbGxpbmcAY29ycmVjdC1ob3JzZS1iYXR0ZXJ5"}},
		}, tls: email.TLSStartTLS, username: "billing", password: password, wantErr: "AUTH: 535", permanent: true, wantSecret: true},
		{name: "temporary auth failure", server: testpeer.SMTPOptions{
			TLS: testpeer.SMTPStartTLS, Username: "billing", Password: password,
			Reject: map[testpeer.SMTPCommand]testpeer.SMTPReply{testpeer.SMTPAuth: {Code: 454, Message: "try later"}},
		}, tls: email.TLSStartTLS, username: "billing", password: password, wantErr: "AUTH: 454 \"4.0.0 try later\""},
		{name: "server without auth", server: testpeer.SMTPOptions{TLS: testpeer.SMTPStartTLS},
			tls: email.TLSStartTLS, username: "billing", password: password, wantErr: "does not offer AUTH", permanent: true},
		{name: "server requires auth", server: testpeer.SMTPOptions{TLS: testpeer.SMTPStartTLS, Username: "billing", Password: password},
			tls: email.TLSStartTLS, wantErr: "MAIL FROM: 530", permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := testpeer.NewSMTP(t, tc.server)
			n := newNotifier(t, config(srv, func(c *email.Config) {
				c.TLS, c.CAFile = tc.tls, srv.CAFile()
				c.Username, c.Password = tc.username, secret.String(tc.password)
			}), 0)
			err := n.Notify(context.Background(), delivery(nil))
			if tc.wantErr != "" {
				checkErr(t, err, tc.permanent, tc.wantErr)
				if tc.wantSecret && !strings.Contains(err.Error(), secret.Redacted) {
					t.Errorf("error %q does not show where the password was scrubbed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Notify: %v", err)
			}
			msgs, err := srv.WaitFor(1, wait)
			if err != nil {
				t.Fatal(err)
			}
			if msgs[0].User != tc.wantUser {
				t.Errorf("authenticated as %q, want %q", msgs[0].User, tc.wantUser)
			}
		})
	}
}

func TestNotifySMTPReplies(t *testing.T) {
	rcptTo := []string{"finance@example.com", "gone@example.com"}
	tests := []struct {
		name      string
		cmd       testpeer.SMTPCommand
		reply     testpeer.SMTPReply
		wantErr   string
		permanent bool
	}{
		{name: "MAIL 451", cmd: testpeer.SMTPMail, reply: testpeer.SMTPReply{Code: 451, Message: "greylisted, try later"},
			wantErr: "MAIL FROM: 451 \"4.0.0 greylisted, try later\""},
		{name: "MAIL 550", cmd: testpeer.SMTPMail, reply: testpeer.SMTPReply{Code: 550, Message: "sender rejected"},
			wantErr: "MAIL FROM: 550 \"5.0.0 sender rejected\"", permanent: true},
		{name: "RCPT 550 names the recipient", cmd: testpeer.SMTPRcpt,
			reply:   testpeer.SMTPReply{Code: 550, Message: "no such user", Address: "gone@example.com"},
			wantErr: "RCPT TO <gone@example.com>: 550 \"5.0.0 no such user\"", permanent: true},
		{name: "RCPT 452", cmd: testpeer.SMTPRcpt, reply: testpeer.SMTPReply{Code: 452, Message: "mailbox full"},
			wantErr: "RCPT TO <finance@example.com>: 452 \"4.0.0 mailbox full\""},
		{name: "DATA 451", cmd: testpeer.SMTPData, reply: testpeer.SMTPReply{Code: 451, Message: "local error"},
			wantErr: "message: 451 \"4.0.0 local error\""},
		{name: "DATA 554", cmd: testpeer.SMTPData, reply: testpeer.SMTPReply{Code: 554, Message: "spam"},
			wantErr: "message: 554 \"5.0.0 spam\"", permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{Reject: map[testpeer.SMTPCommand]testpeer.SMTPReply{tc.cmd: tc.reply}})
			n := newNotifier(t, config(srv, nil), 0)
			d := delivery(func(d *notifiers.Notification) { d.Parts.To = rcptTo })
			err := n.Notify(context.Background(), d)
			checkErr(t, err, tc.permanent, tc.wantErr)
			if got := srv.Len(); got != 0 {
				t.Errorf("server accepted %d messages", got)
			}

			// Once the server accepts again, the same delivery goes through.
			srv.SetReject(tc.cmd, testpeer.SMTPReply{})
			m := sendOne(t, srv, n, d)
			if !reflect.DeepEqual(m.To, rcptTo) {
				t.Errorf("recipients %q", m.To)
			}
		})
	}
}

func TestNotifyTransientThenDelivered(t *testing.T) {
	srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{Reject: map[testpeer.SMTPCommand]testpeer.SMTPReply{
		testpeer.SMTPRcpt: {Code: 451, Times: 2},
	}})
	n := newNotifier(t, config(srv, nil), 0)
	for i := range 2 {
		err := n.Notify(context.Background(), delivery(nil))
		checkErr(t, err, false, "RCPT TO <finance@example.com>: 451", "scripted failure")
		if i == 0 && srv.Len() != 0 {
			t.Fatal("message accepted despite 451")
		}
	}
	m := sendOne(t, srv, n, delivery(nil))
	if got := m.Header.Get("Message-ID"); got != "<dlv_01HZX3K9Q2@switchboard>" {
		t.Errorf("Message-ID %q", got)
	}
}

func TestNotifyBadRecipients(t *testing.T) {
	tests := []struct {
		name    string
		to, cc  []string
		wantErr string
	}{
		{name: "no to", to: nil, wantErr: "no recipient"},
		{name: "to rendered empty", to: []string{"", "  "}, wantErr: "no recipient"},
		{name: "only cc", to: nil, cc: []string{"audit@example.com"}, wantErr: "no recipient"},
		{name: "invalid to", to: []string{"finance@example.com", "Customer <not an address>"}, wantErr: `invalid to address "Customer <not an address>"`},
		{name: "invalid cc", to: []string{"finance@example.com"}, cc: []string{"audit(at)example"}, wantErr: `invalid cc address "audit(at)example"`},
		{name: "non-ascii address", to: []string{"zoë@example.com"}, wantErr: `invalid to address "zoë@example.com"`},
	}
	srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	n := newNotifier(t, config(srv, nil), 0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := n.Notify(context.Background(), delivery(func(d *notifiers.Notification) {
				d.Parts.To, d.Parts.Cc = tc.to, tc.cc
			}))
			checkErr(t, err, true, tc.wantErr)
		})
	}
	if got := srv.Connections(); got != 0 {
		t.Errorf("the notifier connected %d times for undeliverable messages", got)
	}
}

func TestNotifyUnresponsiveServer(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{Mute: true})
		n := newNotifier(t, config(srv, nil), 300*time.Millisecond)
		start := time.Now()
		err := n.Notify(context.Background(), delivery(nil))
		checkErr(t, err, false, "greeting: no answer within 300ms")
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("Notify took %s with a 300ms timeout", elapsed)
		}
		if srv.Connections() != 1 {
			t.Errorf("connections: %d", srv.Connections())
		}
	})
	t.Run("timeout in implicit tls handshake", func(t *testing.T) {
		srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{Mute: true})
		n := newNotifier(t, config(srv, func(c *email.Config) { c.TLS = email.TLSImplicit }), 300*time.Millisecond)
		err := n.Notify(context.Background(), delivery(nil))
		checkErr(t, err, false, "TLS handshake")
	})
	t.Run("context cancelled", func(t *testing.T) {
		srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{Mute: true})
		n := newNotifier(t, config(srv, nil), time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			// Cancel once the notifier is connected and waiting.
			deadline := time.Now().Add(wait)
			for srv.Connections() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
		}()
		start := time.Now()
		err := n.Notify(ctx, delivery(nil))
		// Usually while waiting for the greeting; possibly still connecting.
		checkErr(t, err, false, ": context canceled")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not wrap context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed > wait {
			t.Errorf("Notify took %s after cancellation", elapsed)
		}
	})
	t.Run("context deadline shorter than timeout", func(t *testing.T) {
		srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{Mute: true})
		n := newNotifier(t, config(srv, nil), time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err := n.Notify(ctx, delivery(nil))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
		}
		checkErr(t, err, false, "greeting: context deadline exceeded")
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		n := newNotifier(t, email.Config{
			Host: "127.0.0.1", Port: email.NewPort(port), TLS: email.TLSNone,
			From: "billing@example.com", To: []string{"finance@example.com"},
		}, 0)
		err = n.Notify(context.Background(), delivery(nil))
		checkErr(t, err, false, fmt.Sprintf("connect to 127.0.0.1:%d", port))
	})
}

func TestNotifyConcurrent(t *testing.T) {
	srv := testpeer.NewSMTP(t, testpeer.SMTPOptions{TLS: testpeer.SMTPStartTLS, Username: "billing", Password: password})
	n := newNotifier(t, config(srv, func(c *email.Config) {
		c.TLS, c.CAFile, c.Username, c.Password = email.TLSStartTLS, srv.CAFile(), "billing", password
	}), 0)
	const count = 8
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for i := range count {
		wg.Go(func() {
			errs <- n.Notify(context.Background(), delivery(func(d *notifiers.Notification) {
				d.ID = fmt.Sprintf("dlv_%d", i)
			}))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	msgs, err := srv.WaitFor(count, wait)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.Header.Get("Message-ID")] = true
	}
	if len(ids) != count {
		t.Errorf("%d distinct Message-IDs, want %d", len(ids), count)
	}
}

// checkErr asserts that err is a send error containing frags, classified
// as wanted, and free of the password in every form.
func checkErr(t *testing.T, err error, permanent bool, frags ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Notify succeeded, want an error containing %q", frags)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if !strings.HasPrefix(msg, "send email: ") {
		t.Errorf("error %q does not start with \"send email: \"", msg)
	}
	for _, frag := range frags {
		if !strings.Contains(msg, frag) {
			t.Errorf("error %q does not contain %q", msg, frag)
		}
	}
	if got := notifiers.IsPermanent(err); got != permanent {
		t.Errorf("IsPermanent = %v, want %v (%v)", got, permanent, err)
	}
	if _, ok := notifiers.RetryAfter(err); ok {
		t.Errorf("error carries a RetryAfter: %v", err)
	}
	for _, s := range []string{password, "AGJpbGxpbmcAY29ycmVjdC1ob3JzZS1iYXR0ZXJ5"} {
		if strings.Contains(msg, s) || strings.Contains(fmt.Sprintf("%+v", err), s) {
			t.Errorf("error shows the password: %q", msg)
		}
	}
}
