// Package router is Switchboard's core. It compiles a rules file — from
// bytes (Compile) or from files (Load) — validating it with positions,
// expanding ${VAR} references (with config's grammar) in connection and
// secret fields, and compiling every `when` expression and template, into
// an immutable Ruleset, which matches a message against the rules and
// renders one delivery per (message, rule, target), with the fatigue
// policy (throttle, group, quiet hours) and digests.
//
// The rules file's schema, diagnostics and the ${VAR} grammar belong to
// package config; reloading and file watching to internal/app/reload.
// The router imports no channel kind and no signature verifier: the
// caller passes a Builder (internal/wiring's) in LoadOptions, whose kind
// descriptors (notifiers.Kind) decode and validate each channel's block
// and build its notifier, and which builds each source's verifier. The
// router knows the notifiers.Notifier interface and never sends anything
// itself. Ingest, storage and delivery live in internal/.
package router
