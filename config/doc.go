// Package config is what a rules file is made of before anything is built
// from it: the schema (SourceConfig, ChannelConfig, RuleConfig and their
// parts), strict parsing with positions (Parse: unknown keys, type errors
// and YAML traps reported at file:line:column, every problem at once),
// the ${VAR} grammar of connection and secret fields (Expand, References,
// ParseRef: the one definition every reader uses) and the diagnostics a
// load reports (Diagnostic, Diags, LoadError).
//
// It builds nothing and imports no notifier and no signature verifier.
// A channel's kind block (slack:, email:, …) is decoded into the
// configuration its kind gives (Kinds, implemented by the router over
// the wiring package's descriptors), so the schema names no kind. The
// router compiles a Document into a Ruleset.
package config
