package testkit

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-dev/switchboard/internal/testpg"
)

// PollInterval is how often Eventually and Poll look at their condition.
const PollInterval = 10 * time.Millisecond

// Poll calls cond every PollInterval until it returns true, and reports
// whether it did within timeout. cond is called at least once.
func Poll(timeout time.Duration, cond func() bool) bool {
	return PollEvery(timeout, PollInterval, cond)
}

// PollEvery is Poll looking every interval, for a costly cond (one that
// runs a command, say).
func PollEvery(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// Eventually waits until cond holds, failing the test with "timed out
// after timeout waiting for what" if it does not within timeout.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	EventuallyEvery(t, what, timeout, PollInterval, cond)
}

// EventuallyEvery is Eventually looking every interval, for a costly
// cond.
func EventuallyEvery(t testing.TB, what string, timeout, interval time.Duration, cond func() bool) {
	t.Helper()
	if !PollEvery(timeout, interval, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// LogBuffer keeps everything written to it; any number of goroutines may
// write and read at once. The zero value is ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Contains reports whether sub was written.
func (l *LogBuffer) Contains(sub string) bool {
	return strings.Contains(l.String(), sub)
}

// Logger returns a JSON logger at debug level writing to l.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Main runs a package's tests, fails them if a goroutine outlives them,
// and then stops the package's PostgreSQL server, if pg is not nil and
// started one. Every package's TestMain is
//
//	func TestMain(m *testing.M) { testkit.Main(m, &pg) } // or nil: no PostgreSQL
//
// or, when it prepares something first (a binary, a child mode), ends
// with Main or MainThen.
func Main(m *testing.M, pg *testpg.Shared, opts ...goleak.Option) {
	MainThen(m, pg, nil, opts...)
}

// MainThen is Main with cleanup, which runs after the tests and the leak
// check, before the exit (e.g. removing a binary TestMain built).
func MainThen(m *testing.M, pg *testpg.Shared, cleanup func(), opts ...goleak.Option) {
	opts = append(opts, goleak.Cleanup(func(code int) {
		if pg != nil {
			if err := pg.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "stop PostgreSQL:", err)
			}
		}
		if cleanup != nil {
			cleanup()
		}
		os.Exit(code)
	}))
	goleak.VerifyTestMain(m, opts...)
}

// CI reports whether the tests run in continuous integration (CI=true).
func CI() bool {
	return os.Getenv("CI") == "true"
}

// RequireShared returns path, a file or directory of the shared
// reference material (../shared/ beside the repository), when it exists.
// When it is missing the test is skipped, or fails under CI=true, where
// the material is always laid beside the repository.
func RequireShared(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if CI() {
			t.Fatalf("shared reference material missing under CI=true: %v", err)
		}
		t.Skipf("shared reference material missing: %v", err)
	}
	return path
}

// RSAKey returns a new 2048-bit RSA key and its public key as a PEM
// document ("PUBLIC KEY"), for tests of Lago's JWT signatures (Lago
// serves the PEM base64-encoded).
func RSAKey(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
