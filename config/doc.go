// Package config holds what a rules file is made of before anything is
// built from it: the ${VAR} grammar of connection and secret fields
// (Expand, References, ParseRef: the one definition every reader uses)
// and the diagnostics a load reports (Diagnostic, LoadError), with file,
// line and column. It builds nothing and imports no notifier and no
// signature verifier.
package config
