//go:build !linux

package store

import "os"

// startWriteback does nothing here: the fsync before the next WAL restart
// writes the checkpointed pages.
func startWriteback(*os.File) {}
