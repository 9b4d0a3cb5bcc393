// Package testkit is what the project's tests share: one way to wait for
// an event (Eventually, Poll), one log sink that goroutines may write to
// at once (LogBuffer), one TestMain (Main: goroutine leak check and the
// package's PostgreSQL server), and RequireShared for tests that read the
// shared reference material.
//
// It is imported by tests only.
package testkit
