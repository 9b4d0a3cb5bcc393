// Package testpeer holds real network peers for tests: a Slack Web API and
// incoming-webhook stand-in, an SMTP server and an HTTP receiver, each
// recording what it received and playing scripted replies. Notifier tests
// and the end-to-end tests of the binary share them.
package testpeer
