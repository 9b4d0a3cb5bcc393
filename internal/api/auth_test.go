package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/admission"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// TestAuthFailuresThrottled: a client address that keeps getting the
// token wrong is refused with 429 and Retry-After after ten failures,
// even with the right token, until its allowance refills (one a second);
// other addresses are not affected; every failure is logged with the
// client's address and never the token tried.
func TestAuthFailuresThrottled(t *testing.T) {
	clock := testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	var logs testkit.LogBuffer
	mux := http.NewServeMux()
	New(Options{Token: secret.String(testToken), Failures: admission.NewAuthFailures(clock.Now),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}).Register(mux)
	try := func(from, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/no-such-thing", nil)
		req.RemoteAddr = from
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w
	}
	const attacker, other = "203.0.113.7:40001", "198.51.100.2:5555"
	const guess = "guess-0123456789-guess-0123456789"
	for i := range 10 {
		if w := try(attacker, guess); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, w.Code)
		}
	}
	w := try(attacker, guess)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("eleventh failure: %d (Retry-After %q), want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	// Throttled means not checked: the right token does not get through
	// either, or a guesser would learn from the difference.
	if w := try("203.0.113.7:40002", testToken); w.Code != http.StatusTooManyRequests {
		t.Fatalf("right token from the throttled address: %d, want 429", w.Code)
	}
	if w := try(other, testToken); w.Code != http.StatusNotFound {
		t.Fatalf("right token from another address: %d, want 404 (authenticated, no such endpoint)", w.Code)
	}
	clock.Add(time.Second)
	if w := try(attacker, testToken); w.Code != http.StatusNotFound {
		t.Fatalf("right token a second later: %d, want 404 (authenticated)", w.Code)
	}
	if w := try(attacker, guess); w.Code != http.StatusUnauthorized {
		t.Fatalf("one more guess a second later: %d, want 401", w.Code)
	}
	if w := try(attacker, guess); w.Code != http.StatusTooManyRequests {
		t.Fatalf("and another at once: %d, want 429", w.Code)
	}
	out := logs.String()
	if n := strings.Count(out, "admin authentication failed"); n != 11 {
		t.Errorf("%d failures logged, want 11:\n%s", n, out)
	}
	if !strings.Contains(out, "client=203.0.113.7") || strings.Contains(out, guess) || strings.Contains(out, testToken) {
		t.Errorf("log must name the client and never a token:\n%s", out)
	}
}
