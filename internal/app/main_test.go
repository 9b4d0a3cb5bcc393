package app_test

import (
	"testing"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// Serve starts the HTTP server, the delivery workers, the store's writer
// and the reload watcher: none may outlive the tests.
func TestMain(m *testing.M) {
	testkit.Main(m, nil)
}
