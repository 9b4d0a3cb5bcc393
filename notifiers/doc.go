// Package notifiers defines the contract between the router and the
// channels that send notifications: the Delivery a notifier receives, the
// Notifier interface, and the error classification that tells the delivery
// workers whether to retry.
//
// Each channel lives in its own package (notifiers/slack, notifiers/email,
// notifiers/http, notifiers/pagerduty, notifiers/opsgenie, notifiers/teams,
// notifiers/discord); the helpers in post.go are what the JSON-over-HTTPS
// ones share (a client per channel, classifying answers, scrubbing
// credentials from errors). Notifiers never see rules, expressions or raw payloads:
// everything they send was rendered once, by the router, into Parts.
package notifiers
