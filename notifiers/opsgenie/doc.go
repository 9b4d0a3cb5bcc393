// Package opsgenie sends deliveries to Opsgenie through its Alert API: a
// delivery creates an alert whose alias is the conversation key (Opsgenie
// folds a second one with the same alias into the open alert) and a
// resolving delivery closes it. It owns the channel's configuration, the
// requests and the classification of Opsgenie's answers.
package opsgenie
