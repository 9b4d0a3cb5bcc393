// Package notifiers defines the contract between the router and the
// channels that send notifications: the Notification a notifier receives, the
// Notifier interface, and the error classification that tells the delivery
// workers whether to retry.
//
// Each channel lives in its own package (notifiers/slack, notifiers/email,
// notifiers/webhook), which also exports its Kind: the descriptor that
// tells the rest of Switchboard the kind's defaults, how to build its
// notifier, what the editor shows of a notification and how a pacing
// summary looks. internal/wiring registers them. Notifiers never see rules, expressions or raw payloads:
// everything they send was rendered once, by the router, into Parts.
package notifiers
