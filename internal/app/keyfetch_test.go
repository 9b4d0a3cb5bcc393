package app_test

import (
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// jwtURLRules is a Lago source that fetches its public key from url.
func jwtURLRules(url string) string {
	return `
sources:
  lago:
    lago:
      jwt_public_key_url: "` + url + `"
      api_key: lago-api-key-value
      allow_any_organization: true
rules: []
`
}

// TestSignatureKeyFetchedAtLoad: a source that fetches Lago's public key
// fetches it when the configuration loads, not on the first webhook, and
// a key that cannot be fetched is a warning at start (its webhooks would
// answer 503), which names the source and not the API key.
func TestSignatureKeyFetchedAtLoad(t *testing.T) {
	_, pemKey := testkit.RSAKey(t)
	served := base64.StdEncoding.EncodeToString([]byte(pemKey))
	var fetches atomic.Int64
	lago := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer lago-api-key-value" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		fetches.Add(1)
		_, _ = w.Write([]byte(served))
	}))
	defer lago.Close()

	s := startServe(t, jwtURLRules(lago.URL+"/api/v1/webhooks/public_key"), nil)
	testkit.Eventually(t, "the key to be fetched at start", 10*time.Second, func() bool { return fetches.Load() == 1 })
	if strings.Contains(s.logs.String(), "cannot fetch") {
		t.Errorf("a warning for a key that was fetched:\n%s", s.logs.String())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	down := startServe(t, jwtURLRules("http://"+closed+"/api/v1/webhooks/public_key"), nil)
	testkit.Eventually(t, "a warning for a key that cannot be fetched", 20*time.Second, func() bool {
		return strings.Contains(down.logs.String(), "cannot fetch the source's signature key")
	})
	logs := down.logs.String()
	if !strings.Contains(logs, "source=lago") || strings.Contains(logs, "lago-api-key-value") {
		t.Errorf("the warning must name the source and not the API key:\n%s", logs)
	}
}
