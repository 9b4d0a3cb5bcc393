package router

import (
	"testing"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// No goroutine the tests start (rulesets, notifiers, stand-in peers) may
// outlive them.
func TestMain(m *testing.M) { testkit.Main(m, nil) }
