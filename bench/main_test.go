package main

import (
	"os"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// childEnv makes the test binary act as the bench program, so that tests
// can start a baseline as a real child process.
const childEnv = "SWITCHBOARD_BENCH_TEST_CHILD"

// The baselines, the sink and the load generator start goroutines: none
// may outlive the tests.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	testkit.Main(m, nil)
}
