// Package router is Switchboard's core. It owns the rules file — parsing it
// with positions, validating it, expanding ${VAR} references in connection
// and secret fields, compiling every `when` expression and template — and
// the resulting immutable Ruleset, which matches a message against the rules
// and renders one delivery per (message, rule, target). It also owns the
// Reloader, which watches the rules file and templates directory and swaps in
// a new Ruleset only when the whole configuration is valid.
//
// The router knows the notifiers.Notifier interface and builds each channel's
// notifier in exactly one place (channels.go); it never sends anything
// itself. Ingest, storage and delivery live in internal/.
package router
