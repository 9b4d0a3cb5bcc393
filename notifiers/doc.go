// Package notifiers defines the contract between the router and the
// channels that send notifications: the Notification a notifier receives, the
// Notifier interface, and the error classification that tells the delivery
// workers whether to retry.
//
// Each channel lives in its own package (notifiers/slack, notifiers/email,
// notifiers/webhook, notifiers/pagerduty, notifiers/opsgenie,
// notifiers/teams, notifiers/discord), which also exports its Kind: the
// descriptor that tells the rest of Switchboard the kind's defaults, the
// configuration its rules-file block decodes into (Config, a Settings),
// how to build its notifier (Builds), its built-in template, the template
// blocks it reads and their escaping, how a digest of grouped messages
// looks, which conversations it can hold, what the editor shows of a
// notification, and how a pacing summary and a failure notice look. A
// kind's Settings may also answer the router's small optional interfaces
// (Addressed, Routed, Unthreaded). internal/wiring registers the kinds.
// The helpers in post.go are what the JSON-over-HTTPS kinds share (Poster:
// a client per channel, classifying answers, scrubbing credentials from
// errors). Notifiers never
// see rules, expressions or raw payloads:
// everything they send was rendered once, by the router, into Parts.
package notifiers
