//go:build !unix

package store

// freeBytes is unknown here: Health does not check free space.
func freeBytes(string) (int64, bool) { return 0, false }
