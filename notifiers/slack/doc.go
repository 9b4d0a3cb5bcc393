// Package slack is the Slack channel: it posts a delivery's rendered text
// and optional Block Kit blocks with a bot token (chat.postMessage) or
// through an incoming webhook, and classifies Slack's answers for the
// delivery workers (ok:false codes, 429 with Retry-After, 5xx).
//
// It owns the channel's configuration (Config, Validate) and its HTTP
// client. It does not render templates, escape mrkdwn, retry or rate-limit:
// the router renders, the delivery workers retry and pace.
package slack
