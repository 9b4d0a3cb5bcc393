// Package notifiers defines the contract between the router and the
// channels that send notifications: the Notification a notifier receives, the
// Notifier interface, and the error classification that tells the delivery
// workers whether to retry.
//
// Each channel lives in its own package (notifiers/slack, notifiers/email,
// notifiers/webhook, notifiers/pagerduty, notifiers/opsgenie,
// notifiers/teams, notifiers/discord), which also exports its Kind: the
// descriptor that tells the rest of Switchboard the kind's defaults, how to
// build its notifier, what the editor shows of a notification and how a
// pacing summary looks. internal/wiring registers them. The helpers in
// post.go are what the JSON-over-HTTPS kinds share (a client per channel,
// classifying answers, scrubbing credentials from errors). Notifiers never
// see rules, expressions or raw payloads:
// everything they send was rendered once, by the router, into Parts.
package notifiers
