// Package teams posts deliveries to a Microsoft Teams channel or chat
// through a Workflows "When a Teams webhook request is received" webhook,
// as an Adaptive Card. It owns the channel's configuration, the message
// envelope, Teams' size limit and the classification of its answers.
package teams
