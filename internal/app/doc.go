// Package app composes Switchboard's commands from the other packages:
// serve (ingest, store, delivery, reload, admin API), check, test,
// deliveries and replay. cmd/switchboard parses flags and calls it.
package app
