// Package pagerduty sends deliveries to PagerDuty as Events API v2 alert
// events: a trigger opens or updates the incident its dedup_key names, a
// resolve closes it. It owns the channel's configuration, the request and
// the classification of PagerDuty's answers; it knows nothing of rules or
// templates.
package pagerduty
