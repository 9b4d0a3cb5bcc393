package api

import (
	"github.com/switchboard-dev/switchboard/internal/app/reload"
	"github.com/switchboard-dev/switchboard/internal/wiring"

	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpg"
	"github.com/switchboard-dev/switchboard/router"
)

// pg is one PostgreSQL server shared by the package's tests.
var pg testpg.Shared

func TestMain(m *testing.M) { testkit.Main(m, &pg) }

const testToken = "test-admin-token"

// server is the admin API over a real rules file, a real Reloader and a
// real store.
type server struct {
	t      *testing.T
	path   string
	url    string
	reload *reload.Reloader
	store  *store.Store
}

// backends names the stores the history tests run against.
var backends = []struct {
	name string
	opts func(t *testing.T) store.Options
}{
	{name: "sqlite", opts: func(t *testing.T) store.Options { return store.Options{DataDir: t.TempDir()} }},
	{name: "postgres", opts: func(t *testing.T) store.Options { return store.Options{DatabaseURL: pg.DSN(t)} }},
}

var testEnv = map[string]string{
	"LAGO_SECRET": "lago-hmac-secret-value",
	"SLACK_TOKEN": "xoxb-slack-token-value",
	"CRM_TOKEN":   "crm-token-value",
	// The service channels' tests reference these.
	"CRM_DISCORD_URL": "https://discord.com/api/webhooks/1/discord-token-value",
	"CRM_OG_KEY":      "og-key-value",
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newServer writes rules to a fresh directory and serves the admin API
// over it, with a store from so (nil: SQLite in a temp directory).
func newServer(t *testing.T, rules string, so *store.Options) *server {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	return serverOn(t, path, so)
}

// testEditorVars are the variables the tests' channels reference.
var testEditorVars = []string{"SLACK_*", "CRM_*", "SMTP_*", "LAGO_*"}

// serverOn starts a server editing the rules file at path, whose
// directory holds templates/: one replica among those sharing the file.
func serverOn(t *testing.T, path string, so *store.Options) *server {
	t.Helper()
	return serverWithVars(t, path, so, testEditorVars)
}

// serverWithVars is serverOn with the editor's variables (nil: those the
// rules file references).
func serverWithVars(t *testing.T, path string, so *store.Options, editorVars []string) *server {
	t.Helper()
	dir := filepath.Dir(path)
	log := slog.New(slog.DiscardHandler)
	rl, err := reload.New(router.LoadOptions{
		Builder:   wiring.Builder{},
		RulesPath: path, TemplatesDir: filepath.Join(dir, "templates"), DryRun: true, Logger: log,
		Env: func(k string) (string, bool) { v, ok := testEnv[k]; return v, ok },
	}, log, nil, nil)
	if err != nil {
		t.Fatalf("reload.New: %v", err)
	}
	t.Cleanup(func() { rl.Current().Close() })
	o := store.Options{DataDir: t.TempDir()}
	if so != nil {
		o = *so
	}
	st, err := store.Open(ctxT(t), o)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	mux := http.NewServeMux()
	New(Options{Token: secret.String(testToken), Reload: rl, Store: st, Logger: log, EditorVars: editorVars}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &server{t: t, path: path, url: srv.URL, reload: rl, store: st}
}

// reply is an HTTP answer.
type reply struct {
	code int
	body []byte
	etag string
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (s *server) do(method, path, ifMatch string, body any) reply {
	s.t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctxT(s.t), method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if ifMatch != "" {
		req.Header.Set("If-Match", `"`+ifMatch+`"`)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return reply{code: resp.StatusCode, body: b, etag: resp.Header.Get("ETag")}
}

func (s *server) file() string {
	s.t.Helper()
	b, err := os.ReadFile(s.path)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

func (s *server) version() string {
	s.t.Helper()
	var out struct {
		Version string `json:"version"`
	}
	s.do("GET", "/api/v1/rules", "", nil).decode(s.t, &out)
	return out.Version
}
