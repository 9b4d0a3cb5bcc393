// Package testpg starts throwaway PostgreSQL servers for tests, from the
// binaries of Debian's postgresql package (/usr/lib/postgresql/<version>/bin).
//
// It owns the server's life: a temporary data directory, initdb, a server
// listening on 127.0.0.1 on a free port with its socket inside that
// directory, fresh databases on demand, and shutdown and removal when the
// tests are done. It does not install PostgreSQL: when the binaries are
// missing, tests are skipped, or fail when the CI environment variable is
// "true" so that a CI run can never pass by skipping.
//
// Starting a server takes a second or two, so a package's tests share one
// through a Shared value closed from TestMain, each test getting its own
// database:
//
//	var pg testpg.Shared
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
//			pg.Close()
//			os.Exit(code)
//		}))
//	}
//
//	func TestSomething(t *testing.T) {
//		dsn := pg.DSN(t) // postgres://postgres@127.0.0.1:PORT/test_N?sslmode=disable
//	}
//
// Start gives a test a server of its own.
package testpg
