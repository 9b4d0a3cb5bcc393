// Package backtest replays stored messages through two configurations —
// the rules in force and a candidate — in memory, and reports what the
// candidate would have changed: per rule and channel, the notifications
// added, removed and changed (same message, different content), with
// examples and counts per hour and per day.
//
// Throttles, digest groups and quiet hours are simulated over the window
// in time order on a virtual clock (each message's receive time), with
// each configuration's own settings, using the router's policy decisions
// (router.Policy, router.Quiet); the window and group state lives in maps
// instead of the store's tables. Silences and Slack pacing are not
// simulated: they depend on what people and peers did at the time.
//
// Nothing is sent and nothing is written: messages are read from a store
// opened read-only (store.OpenReader) or from a directory of JSON files,
// one at a time, so memory stays bounded whatever the window holds.
//
// It does not own the routing (package router), the store (package
// store) or how a report is asked for (cmd/switchboard, package api).
package backtest
