// Package admission owns what the HTTP server lets in before and around a
// handler: a bound on open connections per client address, a per-path
// limit on request header bytes, and one budget for the request memory in
// flight (headers as they are read, bodies as handlers read them). It also
// hands memory back to the operating system once a flood has passed.
//
// It knows neither routes nor sources: the server tells it, per request
// target, how many header bytes to allow.
package admission
