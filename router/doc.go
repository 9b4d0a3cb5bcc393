// Package router is Switchboard's core. It compiles a rules file — from
// bytes (Compile) or from files (Load) — validating it with positions,
// expanding ${VAR} references (with config's grammar) in connection and
// secret fields, and compiling every `when` expression and template, into
// an immutable Ruleset, which matches a message against the rules and
// renders one delivery per (message, rule, target), with the fatigue
// policy (throttle, group, quiet hours) and digests.
//
// Diagnostics and the ${VAR} grammar belong to package config; reloading
// and file watching to internal/app/reload; the channel kinds' descriptors
// are registered in internal/wiring. The router knows the
// notifiers.Notifier interface and builds each channel's notifier in one
// place (channels.go); it never sends anything itself. Ingest, storage and
// delivery live in internal/.
package router
