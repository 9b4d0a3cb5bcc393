// Package signature decides whether an incoming webhook request is
// authentic. It owns the verification schemes a source can be configured
// with: Lago's HMAC and JWT signatures (including fetching and caching
// Lago's public key), a generic HMAC over the body, Standard Webhooks and a
// static bearer token.
//
// A Verifier is built from configuration and checks a request's headers and
// raw body bytes. It always applies the configured scheme, never the one a
// request claims. It does not read request bodies, enforce size limits,
// deduplicate deliveries or choose HTTP status codes: the ingest handler
// does that. Error texts are short, safe reasons meant for the client; they
// never contain a secret, a key or an expected signature.
package signature
