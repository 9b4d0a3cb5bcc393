// Package api owns the admin surface: POST /-/reload and the JSON API under
// /api/v1/ (status, rules and their editing, history and restore, test a
// message or an unsaved rule, channels and their kinds, catalog,
// deliveries, replay, recent messages, rule stats, templates).
// Every route requires Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN; with
// no token configured the whole surface answers 404.
package api
