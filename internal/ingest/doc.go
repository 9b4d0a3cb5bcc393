// Package ingest owns POST /webhooks/{source}: it checks the source, the
// body size and the signature, parses the message, routes it, and answers
// 2xx only once the message and its deliveries are committed to the store.
// Everything that fails before that answers non-2xx so the sender retries.
package ingest
