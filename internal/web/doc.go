// Package web owns the rule editor served at /ui/: the login session, the
// server-rendered pages (rules list, guided rule editor with "Try it",
// history, channels, deliveries) and their embedded assets (templates,
// CSS, and htmx 2.0.11 vendored from the npm registry's htmx.org package,
// sha256 d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717).
//
// It is a client of the admin API only (the Admin interface; in the
// server InProcess, with the admin token): every page reads through it and
// every change, replay included, is written through it, so a save in the
// editor takes the same validated path as one through the API. It imports
// neither the store nor the reloader.
package web
