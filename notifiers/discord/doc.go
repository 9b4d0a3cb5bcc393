// Package discord posts deliveries to a Discord channel through a webhook:
// content and embeds, never a mention (allowed_mentions parses nothing),
// and Discord's rate limits honoured. It owns the channel's
// configuration, the request and the classification of Discord's answers.
package discord
