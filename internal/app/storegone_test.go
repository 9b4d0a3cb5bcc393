package app_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestStoreDeletedAnswers503AndUnready removes the SQLite file under a
// running server: webhooks must get 503 with Retry-After (Lago retries)
// instead of a 202 for a message lost at the next start, and /readyz must
// say not ready.
func TestStoreDeletedAnswers503AndUnready(t *testing.T) {
	s := startServe(t, floodRules, nil)
	c := clientFrom("127.0.0.1")
	if code, _ := postSigned(t, c, s.addr, 1); code != http.StatusAccepted {
		t.Fatalf("before: %d, want 202", code)
	}
	if code := getStatus(t, c, "http://"+s.addr+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz before: %d", code)
	}
	if err := os.Remove(filepath.Join(s.dataDir, "switchboard.db")); err != nil {
		t.Fatal(err)
	}
	for n := 2; n < 5; n++ {
		resp, err := c.Do(signedRequest(t, s.addr, n))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("webhook %d after the store file was deleted: %d (Retry-After %q), want 503 with Retry-After",
				n, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if code := getStatus(t, c, "http://"+s.addr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz after the store file was deleted: %d, want 503", code)
	}
	if code := getStatus(t, c, "http://"+s.addr+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: %d: the process itself is alive", code)
	}
}

func getStatus(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
