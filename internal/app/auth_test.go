package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/secret"
)

// TestShortAdminTokenRefused: Serve does not start with an admin token
// short enough to guess, and says why and how to make a good one.
func TestShortAdminTokenRefused(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(floodRules), 0o600); err != nil {
		t.Fatal(err)
	}
	err := app.Serve(context.Background(), app.ServeOptions{
		Rules: rules, Templates: dir, Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
		AdminToken: secret.String("hunter2-hunter2-hunter2"), Logger: slog.New(slog.DiscardHandler),
	})
	if err == nil || !strings.Contains(err.Error(), "at least 32") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Serve with a 23-character token: %v, want a refusal asking for 32 characters without the token", err)
	}
}

// TestWrongTokensThrottledAcrossAPIAndEditor: the editor's login and the
// admin API share one allowance per client address, so guesses cannot
// alternate between them.
func TestWrongTokensThrottledAcrossAPIAndEditor(t *testing.T) {
	const token = "admin-token-throttle-test-0123456789abcdef"
	s := startServe(t, floodRules, func(o *app.ServeOptions) { o.AdminToken = secret.String(token) })
	c := clientFrom("127.0.0.3")
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for i := range 10 {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/ui/login",
			strings.NewReader(url.Values{"token": {"wrong-guess-number-" + string(rune('a'+i))}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://"+s.addr)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong login %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("API after ten wrong logins: %d, want 429 with Retry-After", resp.StatusCode)
	}
	if !strings.Contains(s.logs.String(), "admin authentication failed") {
		t.Fatal("failed logins not logged")
	}
	if code := getStatusAuth(t, clientFrom("127.0.0.4"), "http://"+s.addr+"/api/v1/status", token); code != http.StatusOK {
		t.Fatalf("API from another address: %d, want 200", code)
	}
}

func getStatusAuth(t *testing.T, c *http.Client, u, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
