// Package lago holds the knowledge about Lago webhooks that is built into the
// binary: the catalog of webhook types (with a group for the editor), one
// realistic example payload per type, and the field paths those payloads
// have.
//
// The examples in testdata/ are also the project's test fixtures: other
// packages render every one of them in their golden tests. Their shapes
// follow lago-api's serializers (app/serializers/v1), including what the
// documentation's examples leave out: decimal columns written as strings
// ("3000.0"), provider errors as objects, and fields such as an invoice's
// voided_at or a credit note's precise_total_amount_cents. They use fake
// IDs, customers and amounts; testdata/variants/ holds older payload shapes
// from Lago's documentation, which count as valid field paths too.
//
// The field-path index answers two questions: which fields the editor's
// field picker offers for a type (Fields), and whether a path used in a rule
// condition can exist at all for that type (Lookup), so that `switchboard
// check` can warn about typos such as invoice.total_amout_cents.
//
// The package does not parse or validate incoming messages, know about
// signatures, or know about variables that the router adds beside the
// payload (such as meta); those belong to ingest and router.
package lago
