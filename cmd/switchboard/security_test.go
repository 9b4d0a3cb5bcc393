package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

// secretMarker is part of every secret value of TestSecretsNeverLeak, at
// its start (or right after a fixed prefix such as "xoxb-"), so that a
// secret cut short in an output is found as well as a whole one.
const secretMarker = "S3cr3t"

// Secret values, each reaching Switchboard through ${VAR}.
const (
	leakLagoSecret    = "S3cr3t-lago-hmac-9a7d41"
	leakSlackTokenA   = "xoxb-S3cr3t-slack-a-7c1e55"
	leakSlackTokenB   = "xoxb-S3cr3t-slack-b-8d2f66"
	leakSlackHookPath = "/services/T000/B000/S3cr3tHookPath8f2a11"
	leakSlackDownPath = "/services/T111/B111/S3cr3tDownPath3e9b22"
	leakSMTPPassword  = "S3cr3t-smtp-pw-4b8c02"
	leakCRMToken      = "S3cr3t-crm-bearer-62f0aa"
	// leakSigningKey is "whsec_" and base64 of "security-test-signing-key-0001".
	leakSigningKey    = "whsec_c2VjdXJpdHktdGVzdC1zaWduaW5nLWtleS0wMDAx"
	leakBasicPassword = "S3cr3t-basic-pw-0d4e77"
	leakBasicQuery    = "S3cr3t-basic-q-91aa3c"
	leakTemplQuery    = "S3cr3t-templ-q-55bb01"
	leakTemplHeader   = "S3cr3t-templ-hdr-66cc02"
	leakRefusedPW     = "S3cr3t-refused-pw-5577aa"
	leakRefusedQuery  = "S3cr3t-refused-q-c0ffee"
	leakPartnerToken  = "S3cr3t-partner-bearer-7b7b7b"
	leakLagoAPIKey    = "S3cr3t-lago-api-key-44dd11"
	leakKeyURLQuery   = "S3cr3t-key-url-q-88ee33"
	leakAdminToken    = "S3cr3t-admin-token-e5e5e5-0b1c2d3e4f"
)

// leakNeedles are the strings no output may contain: the marker, and the
// encodings under which secrets travel (Basic auth, SMTP AUTH PLAIN, the
// signing key's base64 part and its decoded bytes).
func leakNeedles() []string {
	b64 := base64.StdEncoding.EncodeToString
	return []string{
		secretMarker,
		leakSigningKey, strings.TrimPrefix(leakSigningKey, "whsec_"), "security-test-signing-key-0001",
		b64([]byte("hookuser:" + leakBasicPassword)),
		b64([]byte("refuser:" + leakRefusedPW)),
		b64([]byte("\x00sec-mailer\x00" + leakSMTPPassword)),
		b64([]byte(leakSMTPPassword)),
	}
}

// leakRules configures every kind of secret: Lago HMAC and JWT-URL
// sources, a bearer source, Slack token and webhook URL channels, an SMTP
// password, HTTP header values, a signing secret, and URLs with userinfo
// and query (static and templated).
const leakRules = `
sources:
  lago:
    lago:
      hmac_secret: ${LAGO_SECRET}
  lagojwt:
    lago:
      jwt_public_key_url: ${KEY_URL}
      api_key: ${LAGO_API_KEY}
      organization_id: 0a0a0a0a-1111-4222-8333-444455556666
  partner:
    generic:
      bearer: {token: "${PARTNER_TOKEN}"}
channels:
  slack-auth:
    slack: {token: "${SLACK_TOKEN_A}", channel: "#ops", api_url: "${SLACK_API_A}"}
  slack-scripted:
    slack: {token: "${SLACK_TOKEN_B}", channel: "#ops", api_url: "${SLACK_API_B}"}
  slack-hook:
    slack: {webhook_url: "${SLACK_HOOK_URL}"}
  slack-down:
    retry: {max_attempts: 2, backoff: 100ms, max_backoff: 200ms}
    slack: {webhook_url: "${SLACK_DOWN_URL}"}
  mail:
    email:
      host: 127.0.0.1
      port: ${SMTP_PORT}
      tls: none
      username: sec-mailer
      password: ${SMTP_PASSWORD}
      from: "Billing <billing@example.com>"
      to: [ops@example.com]
  crm:
    http:
      url: ${ECHO_URL}/crm
      headers: {Authorization: "Bearer ${CRM_TOKEN}"}
      signing_secret: ${CRM_SIGNING_SECRET}
  crm-basic:
    http:
      url: http://hookuser:${BASIC_PW}@${ECHO_HOST}/basic?token=${BASIC_QUERY}
  crm-templ:
    http:
      url: "${ECHO_URL}/t/{{ .webhook_type }}?key=${TEMPL_QUERY}"
      headers: {X-Auth: "Token ${TEMPL_HEADER} for {{ .webhook_type }}"}
  refused:
    retry: {max_attempts: 2, backoff: 100ms, max_backoff: 200ms}
    http:
      url: http://refuser:${REFUSED_PW}@${CLOSED_HOST}/x?token=${REFUSED_QUERY}
rules:
  - name: everything
    when: meta.source == "lago"
    send:
      - {to: slack-auth}
      - {to: slack-scripted}
      - {to: slack-hook}
      - {to: slack-down}
      - {to: mail}
      - {to: crm}
      - {to: crm-basic}
      - {to: crm-templ}
      - {to: refused}
`

// leakBrokenSyntax is the rules with a literal secret on a line YAML
// cannot parse (an unterminated quote).
var leakBrokenSyntax = strings.Replace(leakRules, "rules:\n", `  literal:
    http:
      url: "http://127.0.0.1:1/x"
      headers: {X-Literal: "S3cr3t-literal-hdr-5555}
rules:
`, 1)

// leakBrokenConfig is valid YAML with literal secrets in fields that fail
// validation, next to an expression error.
var leakBrokenConfig = strings.Replace(leakRules, "rules:\n", `  literal:
    http:
      url: "http://literal-user:S3cr3t-literal-pw-1111@127.0.0.1:1/x?token=S3cr3t-literal-q-2222#S3cr3t-fragment"
      headers: {X-Literal: "S3cr3t-literal-hdr-3333", "Bad Header": "S3cr3t-literal-hdr-4444"}
      signing_secret: "whsec_S3cr3t-literal!!"
  literal-slack:
    slack: {token: "xoxb-S3cr3t-literal-5555", webhook_url: "http://x:S3cr3t-literal-6666@127.0.0.1:1/services/S3cr3t"}
  literal-mail:
    email: {host: 127.0.0.1, port: 1, password: "S3cr3t-literal-7777", tls: bogus, from: "not an address", to: []}
rules:
  - name: literal
    when: 'webhook_type == "invoice.created" &&'
    send: [{to: literal}, {to: literal-slack}, {to: literal-mail}]
`, 1)

// echoServer answers every request 401 with the request's own request
// line and headers in the body, as some receivers' error pages do.
type echoServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []echoed
}

type echoed struct {
	uri    string
	header http.Header
}

func newEchoServer(t *testing.T) *echoServer {
	e := &echoServer{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dump, _ := httputil.DumpRequest(r, true)
		e.mu.Lock()
		e.reqs = append(e.reqs, echoed{r.RequestURI, r.Header.Clone()})
		e.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "rejected request:\n%s", dump)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *echoServer) requests() []echoed {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]echoed(nil), e.reqs...)
}

// outputs collects everything Switchboard printed or served, by name.
type outputs map[string]string

func (o outputs) add(name, text string) { o[name] += text }

func (o outputs) addResponse(name string, r response) {
	o.add(name, fmt.Sprintf("%d %v\n%s", r.code, r.header, r.body))
}

// check fails t for every needle found in any output.
func (o outputs) check(t *testing.T) {
	t.Helper()
	names := make([]string, 0, len(o))
	for n := range o {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		text := o[name]
		for _, needle := range leakNeedles() {
			if i := strings.Index(text, needle); i >= 0 {
				from, to := max(0, i-160), min(len(text), i+len(needle)+80)
				t.Errorf("%s leaks %q:\n…%s…", name, needle, text[from:to])
			}
		}
	}
}

type deliveryView struct {
	ID        string `json:"id"`
	Channel   string `json:"channel"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

func (s *server) adminDo(method, path string, body []byte) response {
	s.t.Helper()
	return s.do(method, path, body, "Authorization", "Bearer "+leakAdminToken)
}

func (s *server) listDeliveries(t *testing.T, status string) ([]deliveryView, response) {
	t.Helper()
	r := s.adminDo("GET", "/api/v1/deliveries?limit=1000&status="+status, nil)
	var list struct {
		Deliveries []deliveryView `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatalf("deliveries: %d %s", r.code, r.body)
	}
	return list.Deliveries, r
}

// TestSecretsNeverLeak configures every kind of secret through ${VAR},
// drives the failure paths where secrets leak in practice (Slack
// invalid_auth, SMTP 535, connection refused, a receiver echoing the
// request in its error, a signature key that cannot be fetched, reloads
// that fail on files holding literal secrets), and then searches
// everything the processes printed and served — logs, metrics, the admin
// API, ingest answers, and the output of check, test, deliveries and
// serve --dry-run — for every secret and its encodings.
func TestSecretsNeverLeak(t *testing.T) {
	slackAuth := testpeer.NewSlack(t)
	slackAuth.RequireToken("xoxb-the-token-slack-expects")
	slackScripted := testpeer.NewSlack(t)
	slackHook := testpeer.NewSlack(t)
	hookURL := slackHook.URL() + leakSlackHookPath
	for range 4 {
		slackScripted.Reply(testpeer.SlackError("invalid_auth"))
		slackHook.Reply(testpeer.SlackReply{Error: "invalid_token", Body: "invalid_token: no webhook at " + hookURL})
	}
	smtp := testpeer.NewSMTP(t, testpeer.SMTPOptions{Username: "sec-mailer", Password: "the-password-smtp-expects"})
	echo := newEchoServer(t)
	closedSlack, closedHTTP, closedKey := freePort(t), freePort(t), freePort(t)

	env := []string{
		"LAGO_SECRET=" + leakLagoSecret,
		"KEY_URL=http://" + closedKey + "/api/v1/webhooks/public_key?sig=" + leakKeyURLQuery,
		"LAGO_API_KEY=" + leakLagoAPIKey,
		"PARTNER_TOKEN=" + leakPartnerToken,
		"SLACK_TOKEN_A=" + leakSlackTokenA, "SLACK_API_A=" + slackAuth.APIURL(),
		"SLACK_TOKEN_B=" + leakSlackTokenB, "SLACK_API_B=" + slackScripted.APIURL(),
		"SLACK_HOOK_URL=" + hookURL,
		"SLACK_DOWN_URL=http://" + closedSlack + leakSlackDownPath,
		fmt.Sprintf("SMTP_PORT=%d", smtp.Port()), "SMTP_PASSWORD=" + leakSMTPPassword,
		"ECHO_URL=" + echo.srv.URL, "ECHO_HOST=" + strings.TrimPrefix(echo.srv.URL, "http://"),
		"CRM_TOKEN=" + leakCRMToken, "CRM_SIGNING_SECRET=" + leakSigningKey,
		"BASIC_PW=" + leakBasicPassword, "BASIC_QUERY=" + leakBasicQuery,
		"TEMPL_QUERY=" + leakTemplQuery, "TEMPL_HEADER=" + leakTemplHeader,
		"CLOSED_HOST=" + closedHTTP, "REFUSED_PW=" + leakRefusedPW, "REFUSED_QUERY=" + leakRefusedQuery,
		"SWITCHBOARD_ADMIN_TOKEN=" + leakAdminToken, "SWITCHBOARD_LOG_LEVEL=debug",
	}
	out := outputs{}
	s := startServer(t, config{rules: leakRules, env: env})

	// Ingest: a valid message, a bad signature, a wrong bearer token, and a
	// JWT source whose key URL refuses connections.
	invoice := fixture(t, "invoice.created")
	r := s.lagoPost("lago", leakLagoSecret, "leak-1", invoice)
	if r.code != http.StatusAccepted {
		t.Fatalf("valid message: %d %s", r.code, r.body)
	}
	out.addResponse("ingest 202", r)
	r = s.lagoPost("lago", "not-the-secret", "leak-2", invoice)
	if r.code != http.StatusUnauthorized {
		t.Errorf("bad signature: %d %s", r.code, r.body)
	}
	out.addResponse("ingest bad signature", r)
	r = s.do("POST", "/webhooks/partner", []byte(`{"a":1}`), "Authorization", "Bearer "+leakPartnerToken+"x")
	if r.code != http.StatusUnauthorized {
		t.Errorf("wrong bearer token: %d %s", r.code, r.body)
	}
	out.addResponse("ingest wrong bearer", r)
	r = s.do("POST", "/webhooks/lagojwt", invoice,
		"X-Lago-Signature", "eyJhbGciOiJSUzI1NiJ9.eyJkYXRhIjoie30ifQ.c2ln", "X-Lago-Signature-Algorithm", "jwt")
	if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("JWT key unavailable: %d %v %s", r.code, r.header, r.body)
	}
	out.addResponse("ingest key unavailable", r)

	// Every delivery fails, permanently or after its retries.
	var dead []deliveryView
	testkit.Eventually(t, "all nine deliveries to be dead", 30*time.Second, func() bool {
		dead, _ = s.listDeliveries(t, "dead")
		return len(dead) == 9
	})
	wantErrors := map[string]string{
		"slack-auth": "invalid_auth", "slack-scripted": "invalid_auth", "slack-hook": "invalid_token",
		"slack-down": "connection refused", "mail": "535", "crm": "401", "crm-basic": "401", "crm-templ": "401",
		"refused": "connection refused",
	}
	for _, d := range dead {
		if want := wantErrors[d.Channel]; !strings.Contains(d.LastError, want) {
			t.Errorf("%s: last error %q, want it to mention %q", d.Channel, d.LastError, want)
		}
		delete(wantErrors, d.Channel)
	}
	if len(wantErrors) > 0 {
		t.Errorf("no dead delivery for %v", wantErrors)
	}
	checkPeersSawSecrets(t, slackAuth, slackScripted, slackHook, smtp, echo)

	// Reloads that fail on files holding literal secrets.
	writeFile(t, filepath.Join(s.dir, "rules.yaml"), leakBrokenSyntax)
	var status struct {
		OK     bool              `json:"ok"`
		Errors []json.RawMessage `json:"errors"`
	}
	testkit.Eventually(t, "the broken file to be rejected", 15*time.Second, func() bool {
		r := s.adminDo("GET", "/api/v1/status", nil)
		_ = json.Unmarshal([]byte(r.body), &status)
		return !status.OK && len(status.Errors) > 0
	})
	out.addResponse("status after a YAML syntax error", s.adminDo("GET", "/api/v1/status", nil))
	writeFile(t, filepath.Join(s.dir, "rules.yaml"), leakBrokenConfig)
	r = s.adminDo("POST", "/-/reload", nil)
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, "literal") {
		t.Errorf("reload of the invalid file: %d %s", r.code, r.body)
	}
	out.addResponse("POST /-/reload of an invalid file", r)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the SIGHUP reload to be logged", 15*time.Second, func() bool {
		return strings.Contains(s.logs.String(), "reason=SIGHUP")
	})

	// Everything the server serves.
	for _, p := range []string{"/api/v1/status", "/api/v1/rules", "/api/v1/rules/everything", "/api/v1/catalog"} {
		out.addResponse(p, s.adminDo("GET", p, nil))
	}
	for _, st := range []string{"", "pending", "in_flight", "delivered", "dead"} {
		list, r := s.listDeliveries(t, st)
		out.addResponse("/api/v1/deliveries?status="+st, r)
		for _, d := range list {
			out.addResponse("/api/v1/deliveries/"+d.ID+" ("+d.Channel+")", s.adminDo("GET", "/api/v1/deliveries/"+d.ID, nil))
		}
	}
	testReq, _ := json.Marshal(map[string]any{"message": json.RawMessage(invoice), "source": "lago"})
	r = s.adminDo("POST", "/api/v1/test", testReq)
	if r.code != http.StatusOK || !strings.Contains(r.body, `"rule": "everything"`) {
		t.Errorf("POST /api/v1/test: %d %s", r.code, r.body)
	}
	out.addResponse("POST /api/v1/test", r)
	metrics := s.do("GET", "/metrics", nil)
	mustContain(t, "metrics", metrics.body, "switchboard_config_last_reload_successful 0",
		`switchboard_deliveries_total{channel="refused",outcome="dead"} 1`)
	out.addResponse("/metrics", metrics)
	out.addResponse("unauthorized admin request", s.do("GET", "/api/v1/status", nil, "Authorization", "Bearer "+leakAdminToken+"x"))
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	out.add("serve output", s.logs.String())
	mustContain(t, "serve output", s.logs.String(), "configuration rejected", "connection refused", "535")

	// The store, read by the deliveries command.
	for _, args := range [][]string{{"--json"}, {}, {"--status", "dead"}} {
		code, stdout, stderr := runCLI(t, env, append([]string{"deliveries", "--data", filepath.Join(s.dir, "data")}, args...)...)
		if code != 0 || !strings.Contains(stdout, "crm-basic") {
			t.Errorf("deliveries %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		out.add(fmt.Sprintf("deliveries %v", args), stdout+stderr)
	}

	// check, on the good file and on the broken ones.
	dir := t.TempDir()
	for name, rules := range map[string]string{"good": leakRules, "syntax": leakBrokenSyntax, "invalid": leakBrokenConfig} {
		path := filepath.Join(dir, name+".yaml")
		writeFile(t, path, rules)
		for _, extra := range [][]string{nil, {"--dry-run"}} {
			code, stdout, stderr := runCLI(t, env, append([]string{"check", "--rules", path, "--templates", dir}, extra...)...)
			if (code == 0) != (name == "good") {
				t.Errorf("check %s %v: exit %d\n%s%s", name, extra, code, stdout, stderr)
			}
			out.add(fmt.Sprintf("check %s %v", name, extra), stdout+stderr)
		}
	}
	// Without the variables: warnings for check, errors with --require-env.
	code, stdout, stderr := runCLI(t, nil, "check", "--rules", filepath.Join(dir, "good.yaml"), "--templates", dir)
	if code != 0 {
		t.Errorf("check without the variables: exit %d", code)
	}
	out.add("check without the variables", stdout+stderr)
	code, stdout, stderr = runCLI(t, nil, "check", "--require-env", "--rules", filepath.Join(dir, "good.yaml"), "--templates", dir)
	if code != 1 {
		t.Errorf("check --require-env without the variables: exit %d", code)
	}
	out.add("check --require-env without the variables", stdout+stderr)

	// test, as text and as JSON.
	msg := filepath.Join(dir, "invoice.json")
	writeFile(t, msg, string(invoice))
	for _, extra := range [][]string{nil, {"--json"}} {
		code, stdout, stderr := runCLI(t, env, append([]string{"test", "--rules", filepath.Join(dir, "good.yaml"), "--templates", dir, "--source", "lago", msg}, extra...)...)
		if code != 0 || !strings.Contains(stdout, "everything") || !strings.Contains(stdout, "crm-templ") {
			t.Errorf("test %v: exit %d\n%s%s", extra, code, stdout, stderr)
		}
		out.add(fmt.Sprintf("test %v", extra), stdout+stderr)
	}

	// serve --dry-run renders and logs every notification.
	d := startServer(t, config{rules: leakRules, env: env, args: []string{"--dry-run"}})
	if r := d.lagoPost("lago", leakLagoSecret, "leak-dry", invoice); r.code != http.StatusAccepted {
		t.Fatalf("dry run: %d %s", r.code, r.body)
	}
	testkit.Eventually(t, "nine dry-run notifications", 30*time.Second, func() bool {
		return strings.Count(d.logs.String(), "dry-run notification") == 9
	})
	list, lr := d.listDeliveries(t, "")
	out.addResponse("dry run /api/v1/deliveries", lr)
	for _, dl := range list {
		out.addResponse("dry run /api/v1/deliveries/"+dl.ID, d.adminDo("GET", "/api/v1/deliveries/"+dl.ID, nil))
	}
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Errorf("dry run exit: %v", err)
	}
	mustContain(t, "dry-run output", d.logs.String(), "channel=crm-templ", "channel=refused", "channel=mail")
	out.add("serve --dry-run output", d.logs.String())

	out.check(t)
}

// checkPeersSawSecrets proves the test is not vacuous: the peers received
// the secrets, so the errors and echoes Switchboard handled held them.
func checkPeersSawSecrets(t *testing.T, slackAuth, slackScripted, slackHook *testpeer.SlackServer, smtp *testpeer.SMTPServer, echo *echoServer) {
	t.Helper()
	if reqs := slackAuth.Requests(); len(reqs) == 0 || reqs[0].Token() != leakSlackTokenA {
		t.Errorf("the Slack peer requiring another token saw %d requests", len(reqs))
	}
	if reqs := slackScripted.Requests(); len(reqs) == 0 || reqs[0].Token() != leakSlackTokenB {
		t.Errorf("the scripted Slack peer saw %d requests", len(reqs))
	}
	if reqs := slackHook.Requests(); len(reqs) == 0 || reqs[0].Path != leakSlackHookPath {
		t.Errorf("the Slack webhook peer saw %d requests", len(reqs))
	}
	if smtp.Sessions() == 0 || smtp.Len() != 0 {
		t.Errorf("SMTP peer: %d sessions, %d messages", smtp.Sessions(), smtp.Len())
	}
	seen := map[string]bool{}
	for _, e := range echo.requests() {
		switch {
		case e.uri == "/crm":
			seen["bearer"] = e.header.Get("Authorization") == "Bearer "+leakCRMToken && e.header.Get("webhook-signature") != ""
		case strings.HasPrefix(e.uri, "/basic?"):
			seen["basic"] = e.header.Get("Authorization") == "Basic "+base64.StdEncoding.EncodeToString([]byte("hookuser:"+leakBasicPassword)) &&
				strings.Contains(e.uri, leakBasicQuery)
		case strings.HasPrefix(e.uri, "/t/"):
			seen["templated"] = strings.Contains(e.uri, leakTemplQuery) && strings.Contains(e.header.Get("X-Auth"), leakTemplHeader)
		}
	}
	if !seen["bearer"] || !seen["basic"] || !seen["templated"] {
		t.Errorf("the echoing receiver did not get every secret: %v", seen)
	}
}
