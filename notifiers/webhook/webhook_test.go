package webhook_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	nethttp "net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/webhook"
)

// rawMessage is a message as Lago serializes it (\u0026 escapes), with
// spacing a re-encoder would change: it must arrive byte for byte.
const rawMessage = `{"webhook_type":"invoice.created", "object_type":"invoice",` + "\n" +
	`  "invoice":{"number":"SB-0001","note":"Tom \u0026 Jerry \u003cLtd\u003e","total_amount_cents":  1250000 ,"currency":"EUR"}}` + "\n"

// waitTimeout bounds every wait in these tests; generous for slow machines.
const waitTimeout = 10 * time.Second

func newNotifier(t *testing.T, c webhook.Config, timeout time.Duration) *webhook.Notifier {
	t.Helper()
	n, err := webhook.New(c, notifiers.Options{Timeout: timeout})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func delivery(id string, p notifiers.Parts) notifiers.Notification {
	return notifiers.Notification{ID: id, MessageID: "msg_1", Rule: "customers-to-crm", Channel: "crm", Parts: p}
}

func TestNotifyRequest(t *testing.T) {
	tests := []struct {
		name string
		// url is appended to the receiver's base URL.
		url    string
		cfg    webhook.Config
		d      notifiers.Notification
		method string
		path   string
		// escapedPath, when set, is the path as sent on the wire.
		escapedPath string
		query       string
		body        string
		headers     map[string]string // "" means absent
	}{
		{
			name:   "default body is the raw message byte for byte",
			url:    "/hooks/billing?source=lago",
			d:      delivery("dlv_01", notifiers.Parts{Body: rawMessage}),
			method: "POST", path: "/hooks/billing", query: "source=lago", body: rawMessage,
			headers: map[string]string{
				"Content-Type":       "application/json",
				"Webhook-Id":         "dlv_01",
				"User-Agent":         "Switchboard",
				"X-Switchboard-Rule": "customers-to-crm",
				"X-Switchboard-Test": "",
				"Webhook-Signature":  "",
				"Webhook-Timestamp":  "",
				"Authorization":      "",
			},
		},
		{
			name:   "templated path replaces the configured path, base from config",
			url:    "/hooks/{{ .customer.external_id }}?type={{ .webhook_type }}",
			d:      delivery("dlv_02", notifiers.Parts{Body: `{}`, Path: "/hooks/cus%2F42?type=customer.created"}),
			method: "POST", path: "/hooks/cus/42", escapedPath: "/hooks/cus%2F42", query: "type=customer.created", body: `{}`,
			headers: map[string]string{"Webhook-Id": "dlv_02"},
		},
		{
			name:   "a path that looks like a host stays on the configured host",
			url:    "/hooks/{{ .x }}",
			d:      delivery("dlv_03", notifiers.Parts{Body: `{}`, Path: "//evil.example.com/x"}),
			method: "POST", path: "//evil.example.com/x", body: `{}`,
		},
		{
			name:   "custom method PUT",
			url:    "/customers",
			cfg:    webhook.Config{Method: "PUT"},
			d:      delivery("dlv_04", notifiers.Parts{Body: `{"a":1}`}),
			method: "PUT", path: "/customers", body: `{"a":1}`,
		},
		{
			name:   "method is case-insensitive",
			url:    "/customers",
			cfg:    webhook.Config{Method: "patch"},
			d:      delivery("dlv_05", notifiers.Parts{Body: `{"a":1}`}),
			method: "PATCH", path: "/customers", body: `{"a":1}`,
		},
		{
			name: "static headers and templated header override",
			url:  "/h",
			cfg: webhook.Config{Headers: map[string]secret.String{
				"Authorization": "Bearer static-token-1234",
				"X-Static":      "kept",
				"x-tenant":      "{{ .organization_id }}",
			}},
			d: delivery("dlv_06", notifiers.Parts{Body: `{}`, Headers: map[string]string{
				"X-Tenant":      "org_7",
				"authorization": "Bearer rendered-token-5678",
			}}),
			method: "POST", path: "/h", body: `{}`,
			headers: map[string]string{
				"Authorization": "Bearer rendered-token-5678",
				"X-Static":      "kept",
				"X-Tenant":      "org_7",
				"Webhook-Id":    "dlv_06",
			},
		},
		{
			name:   "an unrendered header template is never sent",
			url:    "/h",
			cfg:    webhook.Config{Headers: map[string]secret.String{"X-Tenant": "{{ .organization_id }}"}},
			d:      delivery("dlv_07", notifiers.Parts{Body: `{}`}),
			method: "POST", path: "/h", body: `{}`,
			headers: map[string]string{"X-Tenant": ""},
		},
		{
			name:   "content type from the template",
			url:    "/h",
			cfg:    webhook.Config{Headers: map[string]secret.String{"Content-Type": "application/vnd.crm+json"}},
			d:      delivery("dlv_08", notifiers.Parts{Body: "name=acme", ContentType: "application/x-www-form-urlencoded"}),
			method: "POST", path: "/h", body: "name=acme",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		},
		{
			name:   "content type from the configured headers",
			url:    "/h",
			cfg:    webhook.Config{Headers: map[string]secret.String{"content-type": "application/vnd.crm+json"}},
			d:      delivery("dlv_09", notifiers.Parts{Body: `{}`}),
			method: "POST", path: "/h", body: `{}`,
			headers: map[string]string{"Content-Type": "application/vnd.crm+json"},
		},
		{
			name:   "configured user agent",
			url:    "/h",
			cfg:    webhook.Config{Headers: map[string]secret.String{"User-Agent": "acme-billing/1"}},
			d:      delivery("dlv_10", notifiers.Parts{Body: `{}`}),
			method: "POST", path: "/h", body: `{}`,
			headers: map[string]string{"User-Agent": "acme-billing/1"},
		},
		{
			name: "test delivery is marked",
			url:  "/h",
			d: notifiers.Notification{ID: "dlv_11", Rule: "large-invoice", Test: true,
				Parts: notifiers.Parts{Body: `{"test":true}`}},
			method: "POST", path: "/h", body: `{"test":true}`,
			headers: map[string]string{"X-Switchboard-Test": "true", "X-Switchboard-Rule": "large-invoice"},
		},
		{
			name:   "empty body",
			url:    "",
			d:      delivery("dlv_12", notifiers.Parts{}),
			method: "POST", path: "/", body: "",
			headers: map[string]string{"Content-Length": "0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := testpeer.NewReceiver(t)
			cfg := tt.cfg
			cfg.URL = secret.URL(rcv.URL() + tt.url)
			n := newNotifier(t, cfg, waitTimeout)

			if err := n.Notify(context.Background(), tt.d); err != nil {
				t.Fatalf("Notify() = %v", err)
			}
			reqs := rcv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("receiver got %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.Method != tt.method {
				t.Errorf("method = %q, want %q", got.Method, tt.method)
			}
			if got.Path != tt.path {
				t.Errorf("path = %q, want %q", got.Path, tt.path)
			}
			if tt.escapedPath != "" && got.EscapedPath != tt.escapedPath {
				t.Errorf("escaped path = %q, want %q", got.EscapedPath, tt.escapedPath)
			}
			if got.RawQuery != tt.query {
				t.Errorf("query = %q, want %q", got.RawQuery, tt.query)
			}
			if string(got.Body) != tt.body {
				t.Errorf("body = %q, want %q", got.Body, tt.body)
			}
			for k, want := range tt.headers {
				if v := got.Header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

func TestBasicAuthFromURL(t *testing.T) {
	rcv := testpeer.NewReceiver(t)
	u := strings.Replace(rcv.URL(), "http://", "http://crm:pa55word@", 1) + "/h"
	n := newNotifier(t, webhook.Config{URL: secret.URL(u)}, waitTimeout)
	if err := n.Notify(context.Background(), delivery("dlv_1", notifiers.Parts{Body: `{}`})); err != nil {
		t.Fatalf("Notify() = %v", err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("crm:pa55word"))
	if got := rcv.WaitFor(1, waitTimeout)[0].Header.Get("Authorization"); got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
}

func TestSignature(t *testing.T) {
	const otherSecret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" // base64 of 24 letters
	rcv := testpeer.NewReceiver(t)
	n := newNotifier(t, webhook.Config{URL: secret.URL(rcv.URL() + "/signed"), SigningSecret: testSecret}, waitTimeout)

	before := time.Now()
	for i, body := range []string{rawMessage, `{"second":true}`} {
		if err := n.Notify(context.Background(), delivery(fmt.Sprintf("dlv_sig_%d", i), notifiers.Parts{Body: body})); err != nil {
			t.Fatalf("Notify() = %v", err)
		}
	}
	reqs := rcv.WaitFor(2, waitTimeout)

	t.Run("verifies with the secret", func(t *testing.T) {
		rcv.Verify(t, testSecret)
	})
	t.Run("fails with another secret", func(t *testing.T) {
		err := rcv.CheckSignatures(otherSecret)
		if !errors.Is(err, standardwebhooks.ErrSignature) {
			t.Errorf("CheckSignatures(other) = %v, want ErrSignature", err)
		}
	})
	t.Run("headers", func(t *testing.T) {
		for i, q := range reqs {
			if id := q.Header.Get("webhook-id"); id != fmt.Sprintf("dlv_sig_%d", i) {
				t.Errorf("request %d: webhook-id = %q", i, id)
			}
			ts, err := strconv.ParseInt(q.Header.Get("webhook-timestamp"), 10, 64)
			if err != nil || ts < before.Unix() || ts > q.Received.Unix()+1 {
				t.Errorf("request %d: webhook-timestamp = %q, want the unix time it was sent (%d…%d)",
					i, q.Header.Get("webhook-timestamp"), before.Unix(), q.Received.Unix())
			}
			if sig := q.Header.Get("webhook-signature"); !strings.HasPrefix(sig, "v1,") {
				t.Errorf("request %d: webhook-signature = %q, want v1,…", i, sig)
			}
		}
	})
	t.Run("a changed body does not verify", func(t *testing.T) {
		q := reqs[0]
		q.Body = append([]byte(nil), q.Body...)
		q.Body[len(q.Body)-1] = ' '
		if err := q.VerifySignature(testSecret); !errors.Is(err, standardwebhooks.ErrSignature) {
			t.Errorf("VerifySignature(changed body) = %v, want ErrSignature", err)
		}
	})
}

func TestStatusClassification(t *testing.T) {
	retryDate := time.Now().Add(120 * time.Second).UTC().Format(nethttp.TimeFormat)
	tests := []struct {
		name       string
		reply      testpeer.Reply
		wantErr    bool
		permanent  bool
		retryAfter time.Duration // 0: none expected
		retryMin   time.Duration // lower bound when the header is a date
	}{
		{name: "200", reply: testpeer.Reply{Status: 200}},
		{name: "201", reply: testpeer.Reply{Status: 201, Body: `{"id":"x"}`}},
		{name: "202", reply: testpeer.Reply{Status: 202}},
		{name: "204", reply: testpeer.Reply{Status: 204}},
		{name: "400 permanent", reply: testpeer.Reply{Status: 400, Body: "bad payload"}, wantErr: true, permanent: true},
		{name: "404 permanent", reply: testpeer.Reply{Status: 404}, wantErr: true, permanent: true},
		{name: "410 permanent", reply: testpeer.Reply{Status: 410}, wantErr: true, permanent: true},
		{name: "408 transient", reply: testpeer.Reply{Status: 408}, wantErr: true},
		{name: "500 transient", reply: testpeer.Reply{Status: 500, Body: "oops"}, wantErr: true},
		{name: "502 transient", reply: testpeer.Reply{Status: 502}, wantErr: true},
		{name: "503 with Retry-After seconds", reply: testpeer.Reply{Status: 503, RetryAfter: "3"}, wantErr: true, retryAfter: 3 * time.Second, retryMin: 3 * time.Second},
		{name: "429 with Retry-After date", reply: testpeer.Reply{Status: 429, RetryAfter: retryDate}, wantErr: true, retryAfter: 120 * time.Second, retryMin: 60 * time.Second},
		{name: "429 without Retry-After", reply: testpeer.Reply{Status: 429}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := testpeer.NewReceiver(t)
			rcv.SetDefault(tt.reply)
			n := newNotifier(t, webhook.Config{URL: secret.URL(rcv.URL() + "/h")}, waitTimeout)

			err := n.Notify(context.Background(), delivery("dlv_1", notifiers.Parts{Body: `{}`}))
			if rcv.Count() != 1 {
				t.Errorf("receiver got %d requests, want 1", rcv.Count())
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Notify() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Notify() = nil, want an error")
			}
			if got := notifiers.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			var se *notifiers.StatusError
			if !errors.As(err, &se) || se.Code != tt.reply.Status || se.Body != tt.reply.Body {
				t.Errorf("error %v: want a StatusError with code %d and body %q", err, tt.reply.Status, tt.reply.Body)
			}
			if !strings.HasPrefix(err.Error(), "send webhook: ") || !strings.Contains(err.Error(), fmt.Sprint(tt.reply.Status)) {
				t.Errorf("error text %q: want the context and the status", err)
			}
			d, ok := notifiers.RetryAfter(err)
			if ok != (tt.retryAfter > 0) {
				t.Fatalf("RetryAfter(%v) = %s, %v; want one: %v", err, d, ok, tt.retryAfter > 0)
			}
			if ok && (d < tt.retryMin || d > tt.retryAfter) {
				t.Errorf("RetryAfter = %s, want between %s and %s", d, tt.retryMin, tt.retryAfter)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	for _, code := range []int{301, 302, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			target := testpeer.NewReceiver(t)
			rcv := testpeer.NewReceiver(t)
			rcv.SetDefault(testpeer.Reply{Status: code, Header: nethttp.Header{"Location": {target.URL() + "/stolen"}}})
			n := newNotifier(t, webhook.Config{URL: secret.URL(rcv.URL() + "/h"), Headers: map[string]secret.String{"Authorization": "Bearer tok-12345678"}}, waitTimeout)

			err := n.Notify(context.Background(), delivery("dlv_1", notifiers.Parts{Body: `{}`}))
			if !notifiers.IsPermanent(err) {
				t.Errorf("Notify() = %v, want a permanent error", err)
			}
			if err != nil && !strings.Contains(err.Error(), "redirects are not followed") {
				t.Errorf("error %q does not say why", err)
			}
			if rcv.Count() != 1 {
				t.Errorf("receiver got %d requests, want 1", rcv.Count())
			}
			if got := target.Count(); got != 0 {
				t.Errorf("redirect target got %d requests, want 0", got)
			}
		})
	}
}

func TestInvalidDeliveryIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		url  string
		d    notifiers.Notification
	}{
		{name: "path without leading slash", url: "/h/{{ .x }}", d: delivery("dlv_1", notifiers.Parts{Path: "h/x"})},
		{name: "path that would change the host", url: "/h/{{ .x }}", d: delivery("dlv_1", notifiers.Parts{Path: "@evil.example.com/x"})},
		{name: "path template not rendered", url: "/h/{{ .x }}", d: delivery("dlv_1", notifiers.Parts{})},
		{name: "header value with line break", url: "/h", d: delivery("dlv_1", notifiers.Parts{Headers: map[string]string{"X-Tenant": "a\r\nX-Evil: 1"}})},
		{name: "reserved header override", url: "/h", d: delivery("dlv_1", notifiers.Parts{Headers: map[string]string{"Webhook-Id": "forged"}})},
		{name: "content type with line break", url: "/h", d: delivery("dlv_1", notifiers.Parts{ContentType: "text/plain\r\nX: y"})},
		{name: "no delivery ID", url: "/h", d: delivery("", notifiers.Parts{Body: `{}`})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := testpeer.NewReceiver(t)
			n := newNotifier(t, webhook.Config{URL: secret.URL(rcv.URL() + tt.url)}, waitTimeout)
			err := n.Notify(context.Background(), tt.d)
			if !notifiers.IsPermanent(err) {
				t.Errorf("Notify() = %v, want a permanent error", err)
			}
			if rcv.Count() != 0 {
				t.Errorf("receiver got %d requests, want 0", rcv.Count())
			}
		})
	}
}

func TestHang(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration // the notifier's
		ctxAfter time.Duration // the caller's context deadline; 0: none
	}{
		{name: "notifier timeout", timeout: 300 * time.Millisecond},
		{name: "context deadline", timeout: waitTimeout, ctxAfter: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := testpeer.NewReceiver(t)
			rcv.SetDefault(testpeer.Reply{Hang: true})
			n := newNotifier(t, webhook.Config{URL: secret.URL(rcv.URL() + "/slow?key=hang-secret")}, tt.timeout)

			ctx := context.Background()
			if tt.ctxAfter > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxAfter)
				defer cancel()
			}
			start := time.Now()
			err := n.Notify(ctx, delivery("dlv_1", notifiers.Parts{Body: `{}`}))
			elapsed := time.Since(start)
			t.Logf("error after %s: %v", elapsed, err)
			if err == nil {
				t.Fatal("Notify() = nil, want a timeout")
			}
			if notifiers.IsPermanent(err) {
				t.Errorf("Notify() = %v: a timeout must be transient", err)
			}
			if _, ok := notifiers.RetryAfter(err); ok {
				t.Errorf("Notify() = %v: unexpected Retry-After", err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("Notify() = %v, want a timeout error", err)
			}
			if elapsed > waitTimeout/2 {
				t.Errorf("Notify took %s, want about 300ms", elapsed)
			}
			if strings.Contains(err.Error(), "hang-secret") {
				t.Errorf("error %q reveals the query", err)
			}
			rcv.WaitFor(1, waitTimeout)
		})
	}
}

func TestFailForThenRecover(t *testing.T) {
	rcv := testpeer.NewReceiver(t)
	rcv.FailFor(300 * time.Millisecond)
	n := newNotifier(t, webhook.Config{URL: secret.URL(rcv.URL() + "/h")}, waitTimeout)

	err := n.Notify(context.Background(), delivery("dlv_1", notifiers.Parts{Body: `{}`}))
	var se *notifiers.StatusError
	if !errors.As(err, &se) || se.Code != 503 || notifiers.IsPermanent(err) {
		t.Fatalf("first Notify() = %v, want a transient 503", err)
	}
	testkit.EventuallyEvery(t, "a Notify that succeeds", waitTimeout, 50*time.Millisecond, func() bool {
		err = n.Notify(context.Background(), delivery("dlv_1", notifiers.Parts{Body: `{}`}))
		return err == nil
	})
	distinct, total := rcv.IDs()
	if distinct != 1 || total < 2 {
		t.Errorf("IDs() = %d distinct of %d, want 1 of at least 2", distinct, total)
	}
	if dup := rcv.Duplicates(); dup["dlv_1"] != total {
		t.Errorf("Duplicates() = %v, want dlv_1: %d", dup, total)
	}
}

func TestSecretsNotInErrors(t *testing.T) {
	const (
		token      = "crm-token-0123456789"
		tenantKey  = "tenant-key-abcdef"
		queryToken = "s3cr3t"
	)
	// A port nobody listens on: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()

	echo := testpeer.NewReceiver(t)

	tests := []struct {
		name      string
		url       string
		reply     testpeer.Reply
		d         notifiers.Notification
		transient bool
		forbid    []string
	}{
		{
			name:      "connection refused",
			url:       "http://user:pw@" + closedAddr + "/hook?token=" + queryToken,
			d:         delivery("dlv_1", notifiers.Parts{Body: `{}`}),
			transient: true,
			forbid:    []string{queryToken, "user:pw", ":pw@", token},
		},
		{
			name:      "connection refused with a rendered path and query",
			url:       "http://user:pw@" + closedAddr + "/hook/{{ .id }}?token=" + queryToken,
			d:         delivery("dlv_1", notifiers.Parts{Body: `{}`, Path: "/hook/42?token=" + queryToken}),
			transient: true,
			forbid:    []string{queryToken, "user:pw", ":pw@"},
		},
		{
			name: "receiver echoes the headers in its error body",
			url:  echo.URL() + "/echo",
			reply: testpeer.Reply{Status: 400, Body: "rejected Authorization: Bearer " + token +
				", X-Tenant: " + tenantKey + ", key " + strings.TrimPrefix(testSecret, "whsec_")},
			d:      delivery("dlv_2", notifiers.Parts{Body: `{}`, Headers: map[string]string{"X-Tenant": tenantKey}}),
			forbid: []string{token, tenantKey, strings.TrimPrefix(testSecret, "whsec_")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			echo.SetDefault(tt.reply)
			n := newNotifier(t, webhook.Config{
				URL:           secret.URL(tt.url),
				Headers:       map[string]secret.String{"Authorization": "Bearer " + token, "X-Tenant": "{{ .organization_id }}"},
				SigningSecret: testSecret,
			}, waitTimeout)
			err := n.Notify(context.Background(), tt.d)
			if err == nil {
				t.Fatal("Notify() = nil, want an error")
			}
			if notifiers.IsPermanent(err) == tt.transient {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, !tt.transient, !tt.transient)
			}
			text := err.Error()
			t.Logf("error: %s", text)
			for _, s := range tt.forbid {
				if strings.Contains(text, s) {
					t.Errorf("error %q contains secret %q", text, s)
				}
			}
			if !strings.Contains(text, secret.Redacted) {
				t.Errorf("error %q: want %s where the secret was", text, secret.Redacted)
			}
			var se *notifiers.StatusError
			if errors.As(err, &se) && strings.Contains(se.Body, token) {
				t.Errorf("StatusError.Body %q contains the token", se.Body)
			}
		})
	}
}

func TestConcurrentDeliveries(t *testing.T) {
	const total = 200
	rcv := testpeer.NewReceiver(t)
	n := newNotifier(t, webhook.Config{URL: secret.URL(rcv.URL() + "/h"), SigningSecret: testSecret,
		Headers: map[string]secret.String{"X-Tenant": "{{ .org }}"}}, waitTimeout)

	var wg sync.WaitGroup
	errs := make(chan error, total)
	for i := range total {
		wg.Go(func() {
			d := delivery(fmt.Sprintf("dlv_%03d", i), notifiers.Parts{
				Body:    fmt.Sprintf(`{"n":%d}`, i),
				Headers: map[string]string{"X-Tenant": fmt.Sprintf("org_%d", i)},
			})
			errs <- n.Notify(context.Background(), d)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Notify() = %v", err)
		}
	}
	reqs := rcv.WaitFor(total, waitTimeout)
	if distinct, got := rcv.IDs(); distinct != total || got != total {
		t.Errorf("IDs() = %d distinct of %d, want %d of %d", distinct, got, total, total)
	}
	for _, q := range reqs {
		var i int
		if _, err := fmt.Sscanf(q.Header.Get("webhook-id"), "dlv_%d", &i); err != nil {
			t.Fatalf("webhook-id %q: %v", q.Header.Get("webhook-id"), err)
		}
		if want := fmt.Sprintf(`{"n":%d}`, i); string(q.Body) != want {
			t.Errorf("request %d: body %q, want %q", i, q.Body, want)
		}
		if want := fmt.Sprintf("org_%d", i); q.Header.Get("X-Tenant") != want {
			t.Errorf("request %d: X-Tenant %q, want %q", i, q.Header.Get("X-Tenant"), want)
		}
	}
	rcv.Verify(t, testSecret)
}

func TestCloseKeepsNotifierUsable(t *testing.T) {
	rcv := testpeer.NewReceiver(t)
	n := newNotifier(t, webhook.Config{URL: secret.URL(rcv.URL())}, waitTimeout)
	for i := range 2 {
		if err := n.Notify(context.Background(), delivery(fmt.Sprint("dlv_", i), notifiers.Parts{Body: `{}`})); err != nil {
			t.Fatalf("Notify() #%d = %v", i, err)
		}
		if err := n.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
	}
	if got := len(rcv.WaitFor(2, waitTimeout)); got != 2 {
		t.Errorf("receiver got %d requests, want 2", got)
	}
}
