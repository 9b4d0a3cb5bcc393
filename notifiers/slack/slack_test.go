package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/slack"
)

func TestMain(m *testing.M) { testkit.Main(m, nil) }

const (
	testToken = "xoxb-1111-2222-s3cr3tT0k3n"
	// waitTimeout is generous: the peer is local, but the machine may be busy.
	waitTimeout = 10 * time.Second
)

// newNotifier builds a notifier and closes it with the test.
func newNotifier(t *testing.T, c slack.Config, timeout time.Duration) *slack.Notifier {
	t.Helper()
	n, err := slack.New(c, notifiers.Options{Timeout: timeout})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func tokenConfig(peer *testpeer.SlackServer) slack.Config {
	return slack.Config{Token: testToken, Channel: "#billing-alerts", APIURL: secret.URL(peer.APIURL())}
}

func webhookConfig(peer *testpeer.SlackServer) slack.Config {
	return slack.Config{WebhookURL: secret.String(peer.WebhookURL())}
}

func delivery(text, blocks string) notifiers.Notification {
	return notifiers.Notification{
		ID: "dlv_1", MessageID: "msg_1", Rule: "wallet-depleted", Channel: "billing-alerts",
		Parts: notifiers.Parts{Text: text, Blocks: blocks},
	}
}

// sameJSON compares two JSON documents by value.
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("received JSON %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want JSON %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

const text = "*Wallet depleted* for <https://app.getlago.com/customers/cus_1|Acme &amp; Co> — balance $0.00"

const blocksArray = `[
  {"type":"header","text":{"type":"plain_text","text":"Wallet depleted","emoji":true}},
  {"type":"section","text":{"type":"mrkdwn","text":"*Customer:* Acme"},
   "fields":[{"type":"mrkdwn","text":"*Balance*\n$0.00"},{"type":"mrkdwn","text":"*Wallet*\nwal_1"}],
   "accessory":{"type":"button","text":{"type":"plain_text","text":"Open"},"url":"https://app.getlago.com/w/1","action_id":"open"}},
  {"type":"divider"},
  {"type":"context","elements":[{"type":"mrkdwn","text":"lago · wallet.depleted_ongoing_balance"}]}
]`

func TestNotifySends(t *testing.T) {
	tests := []struct {
		name       string
		webhook    bool
		trimSlash  bool
		blocks     string
		wantBlocks string // "" means none
	}{
		{name: "token text"},
		{name: "token blocks array", blocks: blocksArray, wantBlocks: blocksArray},
		{name: "token blocks object", blocks: `{"blocks":` + blocksArray + `}`, wantBlocks: blocksArray},
		{name: "token empty blocks array", blocks: " [] "},
		{name: "token api_url without trailing slash", trimSlash: true},
		{name: "webhook text", webhook: true},
		{name: "webhook blocks array", webhook: true, blocks: blocksArray, wantBlocks: blocksArray},
		{name: "webhook blocks object", webhook: true, blocks: "\n{\"blocks\": " + blocksArray + "}\n", wantBlocks: blocksArray},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := testpeer.NewSlack(t)
			peer.RequireToken(testToken)
			c := tokenConfig(peer)
			if tt.webhook {
				c = webhookConfig(peer)
			}
			if tt.trimSlash {
				c.APIURL = secret.URL(strings.TrimSuffix(peer.APIURL(), "/"))
			}
			n := newNotifier(t, c, 0)

			if err := n.Notify(context.Background(), delivery(text, tt.blocks)); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			reqs, err := peer.WaitFor(1, waitTimeout)
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != 1 {
				t.Fatalf("peer got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost {
				t.Errorf("method = %s, want POST", r.Method)
			}
			if tt.webhook {
				if r.Path != testpeer.SlackWebhookPath {
					t.Errorf("path = %s, want %s", r.Path, testpeer.SlackWebhookPath)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				if r.JSON == nil {
					t.Fatalf("webhook body is not a JSON object: %s", r.Body)
				}
				if r.Token() != "" || strings.Contains(string(r.Body), testToken) {
					t.Errorf("webhook request carries a token")
				}
			} else {
				if r.Path != "/api/chat.postMessage" {
					t.Errorf("path = %s, want /api/chat.postMessage", r.Path)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
					t.Errorf("Content-Type = %q", ct)
				}
				if r.Token() != testToken {
					t.Errorf("token = %q, want the configured token", r.Token())
				}
				if r.Channel() != "#billing-alerts" {
					t.Errorf("channel = %q, want #billing-alerts", r.Channel())
				}
			}
			if r.Text() != text {
				t.Errorf("text = %q, want %q", r.Text(), text)
			}
			got := r.Blocks()
			switch {
			case tt.wantBlocks == "" && got != nil:
				t.Errorf("blocks = %s, want none", got)
			case tt.wantBlocks != "" && got == nil:
				t.Errorf("no blocks received, want %s", tt.wantBlocks)
			case tt.wantBlocks != "" && !sameJSON(t, string(got), tt.wantBlocks):
				t.Errorf("blocks = %s\nwant %s", got, tt.wantBlocks)
			}
		})
	}
}

func TestNotifyErrors(t *testing.T) {
	tests := []struct {
		name          string
		webhook       bool
		timeout       time.Duration
		reply         testpeer.SlackReply
		wantPermanent bool
		wantAfter     time.Duration // > 0: a RetryAfter of exactly this
		wantText      string
	}{
		{name: "token channel_not_found", reply: testpeer.SlackError("channel_not_found"),
			wantPermanent: true, wantText: "post to slack: channel_not_found"},
		{name: "token invalid_auth", reply: testpeer.SlackError("invalid_auth"),
			wantPermanent: true, wantText: "invalid_auth"},
		{name: "token not_in_channel", reply: testpeer.SlackError("not_in_channel"),
			wantPermanent: true, wantText: "not_in_channel"},
		{name: "token missing_scope names the scopes",
			reply:         testpeer.SlackReply{Body: `{"ok":false,"error":"missing_scope","needed":"chat:write","provided":"users:read"}`},
			wantPermanent: true, wantText: "missing_scope (needed: chat:write, provided: users:read)"},
		{name: "token invalid_blocks explains",
			reply:         testpeer.SlackReply{Body: `{"ok":false,"error":"invalid_blocks","response_metadata":{"messages":["[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]"]}}`},
			wantPermanent: true, wantText: "invalid_blocks ([ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text])"},
		{name: "token ok:false ratelimited is transient", reply: testpeer.SlackError("ratelimited"), wantText: "ratelimited"},
		{name: "token ok:false internal_error is transient", reply: testpeer.SlackError("internal_error"), wantText: "internal_error"},
		{name: "token ok:false service_unavailable is transient", reply: testpeer.SlackError("service_unavailable"), wantText: "service_unavailable"},
		{name: "token 429 with Retry-After", reply: testpeer.SlackRateLimited("2"),
			wantAfter: 2 * time.Second, wantText: "rate limited"},
		{name: "token 429 without Retry-After", reply: testpeer.SlackRateLimited(""), wantText: "429"},
		{name: "token 500", reply: testpeer.SlackStatus(http.StatusInternalServerError), wantText: "500"},
		{name: "token 503", reply: testpeer.SlackStatus(http.StatusServiceUnavailable), wantText: "503"},
		{name: "token 408", reply: testpeer.SlackStatus(http.StatusRequestTimeout), wantText: "408"},
		{name: "token 400", reply: testpeer.SlackStatus(http.StatusBadRequest), wantPermanent: true, wantText: "400"},
		{name: "token 404", reply: testpeer.SlackStatus(http.StatusNotFound), wantPermanent: true, wantText: "404"},
		{name: "token 200 with a non-JSON body", reply: testpeer.SlackReply{Body: "<html>proxy</html>"}, wantText: "post to slack: unreadable answer"},
		{name: "token hang", reply: testpeer.SlackHang(), timeout: 300 * time.Millisecond, wantText: "post to slack"},

		{name: "webhook channel_not_found", webhook: true, reply: testpeer.SlackError("channel_not_found"),
			wantPermanent: true, wantText: "post to slack webhook: unexpected status 404: channel_not_found"},
		{name: "webhook invalid_token", webhook: true, reply: testpeer.SlackError("invalid_token"),
			wantPermanent: true, wantText: "403: invalid_token"},
		{name: "webhook invalid_payload", webhook: true, reply: testpeer.SlackError("invalid_payload"),
			wantPermanent: true, wantText: "400: invalid_payload"},
		{name: "webhook 429 with Retry-After", webhook: true, reply: testpeer.SlackRateLimited("2"),
			wantAfter: 2 * time.Second, wantText: "429"},
		{name: "webhook 429 without Retry-After", webhook: true, reply: testpeer.SlackRateLimited(""), wantText: "429"},
		{name: "webhook 500", webhook: true, reply: testpeer.SlackStatus(http.StatusInternalServerError), wantText: "500"},
		{name: "webhook hang", webhook: true, reply: testpeer.SlackHang(), timeout: 300 * time.Millisecond, wantText: "post to slack webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := testpeer.NewSlack(t)
			c := tokenConfig(peer)
			if tt.webhook {
				c = webhookConfig(peer)
			}
			n := newNotifier(t, c, tt.timeout)
			peer.Reply(tt.reply)

			start := time.Now()
			err := n.Notify(context.Background(), delivery(text, ""))
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("Notify succeeded, want an error")
			}
			if got := notifiers.IsPermanent(err); got != tt.wantPermanent {
				t.Errorf("IsPermanent = %v, want %v (err: %v)", got, tt.wantPermanent, err)
			}
			after, ok := notifiers.RetryAfter(err)
			if tt.wantAfter > 0 && (!ok || after != tt.wantAfter) {
				t.Errorf("RetryAfter = %v, %v; want %v (err: %v)", after, ok, tt.wantAfter, err)
			}
			if tt.wantAfter == 0 && ok {
				t.Errorf("RetryAfter = %v, want none (err: %v)", after, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			assertNoSecret(t, err, testToken, peer.WebhookURL(), testpeer.SlackWebhookPath)
			if tt.timeout > 0 && elapsed > tt.timeout+5*time.Second {
				t.Errorf("Notify took %s with a %s timeout", elapsed, tt.timeout)
			}
			if peer.Len() != 1 {
				t.Errorf("peer got %d requests, want 1", peer.Len())
			}
		})
	}
}

func TestNotifyHonoursContext(t *testing.T) {
	for _, webhook := range []bool{false, true} {
		name := map[bool]string{false: "token", true: "webhook"}[webhook]
		t.Run(name, func(t *testing.T) {
			peer := testpeer.NewSlack(t)
			c := tokenConfig(peer)
			if webhook {
				c = webhookConfig(peer)
			}
			n := newNotifier(t, c, time.Minute)
			peer.Reply(testpeer.SlackHang())
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := n.Notify(ctx, delivery(text, ""))
			if err == nil || notifiers.IsPermanent(err) {
				t.Fatalf("err = %v, want a transient error", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Notify took %s after a 200ms deadline", d)
			}
			assertNoSecret(t, err, testToken, peer.WebhookURL(), testpeer.SlackWebhookPath)
		})
	}
}

func TestNotifyRejectsBadMessages(t *testing.T) {
	tests := []struct {
		name, text, blocks, wantText string
	}{
		{name: "blocks not JSON", text: "x", blocks: `[{"type":"section",`, wantText: "slack blocks"},
		{name: "blocks of the wrong shape", text: "x", blocks: `[{"type":"section","text":"plain string"}]`, wantText: "slack blocks"},
		{name: "blocks object without blocks", text: "x", blocks: `{"text":"hi"}`, wantText: "slack blocks"},
		{name: "blocks object with extra keys", text: "x", blocks: `{"blocks":[],"text":"hi"}`, wantText: "slack blocks"},
		{name: "blocks with trailing data", text: "x", blocks: `{"blocks":[]} []`, wantText: "slack blocks"},
		{name: "nothing to send", text: "  ", blocks: "", wantText: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := testpeer.NewSlack(t)
			for _, c := range []slack.Config{tokenConfig(peer), webhookConfig(peer)} {
				n := newNotifier(t, c, 0)
				err := n.Notify(context.Background(), delivery(tt.text, tt.blocks))
				if !notifiers.IsPermanent(err) {
					t.Errorf("err = %v, want a permanent error", err)
				}
				if err != nil && !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("error %q does not contain %q", err, tt.wantText)
				}
			}
			if peer.Len() != 0 {
				t.Errorf("peer got %d requests, want none", peer.Len())
			}
		})
	}
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestNotifyConnectionRefusedHidesSecrets(t *testing.T) {
	addr := closedAddr(t)
	tests := []struct {
		name    string
		config  slack.Config
		secrets []string
	}{
		{
			name:    "webhook path and query",
			config:  slack.Config{WebhookURL: secret.String("http://" + addr + "/services/T0SECRET/B0SECRET/hookS3cr3tValue?key=qu3ryS3cr3t")},
			secrets: []string{"T0SECRET", "B0SECRET", "hookS3cr3tValue", "qu3ryS3cr3t"},
		},
		{
			name:    "api_url userinfo and token",
			config:  slack.Config{Token: testToken, Channel: "C1", APIURL: secret.URL("http://proxyuser:pr0xyP4ss@" + addr + "/api/")},
			secrets: []string{"pr0xyP4ss", testToken},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNotifier(t, tt.config, 0)
			err := n.Notify(context.Background(), delivery(text, ""))
			if err == nil {
				t.Fatal("Notify succeeded against a closed port")
			}
			if notifiers.IsPermanent(err) {
				t.Errorf("connection refused is permanent: %v", err)
			}
			if !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("error %q does not say connection refused", err)
			}
			if !strings.Contains(err.Error(), addr) {
				t.Errorf("error %q does not name the host", err)
			}
			assertNoSecret(t, err, tt.secrets...)
		})
	}
}

// A redirect is never followed: it could carry the token (a form field) to
// another host.
func TestNotifyDoesNotFollowRedirects(t *testing.T) {
	elsewhere := testpeer.NewSlack(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL()+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)

	tests := []struct {
		name   string
		config slack.Config
	}{
		{"token", slack.Config{Token: testToken, Channel: "C1", APIURL: secret.URL(redirector.URL + "/api/")}},
		{"webhook", slack.Config{WebhookURL: secret.String(redirector.URL + testpeer.SlackWebhookPath)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNotifier(t, tt.config, 0)
			err := n.Notify(context.Background(), delivery(text, ""))
			if !notifiers.IsPermanent(err) {
				t.Errorf("err = %v, want a permanent error", err)
			}
			if err != nil && !strings.Contains(err.Error(), "307") {
				t.Errorf("error %q does not name the status", err)
			}
		})
	}
	if elsewhere.Len() != 0 {
		t.Errorf("the redirect target got %d requests", elsewhere.Len())
	}
}

func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains secret %q", err, s)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		config slack.Config
		want   []string // "field: message" substrings, in order; none means valid
	}{
		{name: "token and channel", config: slack.Config{Token: testToken, Channel: "#alerts"}},
		{name: "token, channel and api_url", config: slack.Config{Token: testToken, Channel: "C1", APIURL: "http://127.0.0.1:9000/api"}},
		{name: "webhook", config: slack.Config{WebhookURL: "https://hooks.slack.com/services/T0/B0/XYZ"}},
		{name: "nothing", config: slack.Config{},
			want: []string{"token: set token (with channel) or webhook_url"}},
		{name: "token without channel", config: slack.Config{Token: testToken},
			want: []string{"channel: required with token"}},
		{name: "both token and webhook", config: slack.Config{Token: testToken, Channel: "C1", WebhookURL: "https://hooks.slack.com/services/T0/B0/XYZ"},
			want: []string{"webhook_url: set either token or webhook_url, not both"}},
		{name: "token with a trailing newline", config: slack.Config{Token: testToken + "\n", Channel: "C1"},
			want: []string{"token: has leading or trailing white space"}},
		{name: "webhook not http", config: slack.Config{WebhookURL: "ftp://hooks.slack.com/services/T0/B0/S3CRETPATH"},
			want: []string{"webhook_url: must be an http or https URL"}},
		{name: "webhook not a URL", config: slack.Config{WebhookURL: "S3CRETPATH"},
			want: []string{"webhook_url: must be an http or https URL"}},
		{name: "webhook unparsable", config: slack.Config{WebhookURL: "https://hooks.slack.com/%zzS3CRETPATH"},
			want: []string{"webhook_url: is not a valid URL"}},
		{name: "webhook without host", config: slack.Config{WebhookURL: "https:///services/S3CRETPATH"},
			want: []string{"webhook_url: must name a host"}},
		{name: "webhook with channel", config: slack.Config{WebhookURL: "https://hooks.slack.com/services/T0/B0/XYZ", Channel: "#x"},
			want: []string{"channel: only with token"}},
		{name: "webhook with api_url", config: slack.Config{WebhookURL: "https://hooks.slack.com/services/T0/B0/XYZ", APIURL: "http://127.0.0.1/api/"},
			want: []string{"api_url: only with token"}},
		{name: "api_url not http", config: slack.Config{Token: testToken, Channel: "C1", APIURL: "unix:///S3CRETPATH"},
			want: []string{"api_url: must be an http or https URL"}},
		{name: "api_url with query", config: slack.Config{Token: testToken, Channel: "C1", APIURL: "https://proxy.example.com/api/?key=S3CRETPATH"},
			want: []string{"api_url: must not have a query"}},
		{name: "every problem at once", config: slack.Config{Token: testToken + " ", APIURL: "nope"},
			want: []string{"token: has leading", "channel: required with token", "api_url: must be an http or https URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.config.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				if _, err := slack.New(tt.config, notifiers.Options{}); err != nil {
					t.Fatalf("New = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tt.want)
			}
			var fields []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *notifiers.FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("error %T %v is not a *notifiers.FieldError", e, e)
				}
				fields = append(fields, fe.Error())
			}
			if len(fields) != len(tt.want) {
				t.Fatalf("Validate = %q, want %q", fields, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(fields[i], w) {
					t.Errorf("error %d = %q, want it to contain %q", i, fields[i], w)
				}
			}
			assertNoSecret(t, err, testToken, "S3CRETPATH")
			if _, newErr := slack.New(tt.config, notifiers.Options{}); newErr == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}

// A test notification from the editor says so, in both modes.
func TestNotifyMarksTests(t *testing.T) {
	for _, mode := range []string{"token", "webhook"} {
		t.Run(mode, func(t *testing.T) {
			peer := testpeer.NewSlack(t)
			cfg := webhookConfig(peer)
			if mode == "token" {
				peer.RequireToken(testToken)
				cfg = tokenConfig(peer)
			}
			n := newNotifier(t, cfg, waitTimeout)
			d := delivery("Wallet of acme is empty", `[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]`)
			d.Test = true
			if err := n.Notify(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			reqs := peer.Requests()
			if len(reqs) != 1 || reqs[0].Text() != "[TEST] Wallet of acme is empty" {
				t.Fatalf("text %q", reqs[0].Text())
			}
			if b := string(reqs[0].Blocks()); !strings.Contains(b, `"type":"context"`) || !strings.Contains(b, "*[TEST]*") ||
				strings.Index(b, `"context"`) > strings.Index(b, `"section"`) {
				t.Fatalf("blocks %s: want a test note first", b)
			}
		})
	}
}
