package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Serve starts the HTTP server, the delivery workers, the store's writer
// and the reload watcher: none may outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
