// Package render is Switchboard's template engine: it compiles the
// notification templates of the rules file and the templates directory
// (once, at config load) and renders them for each message (on the ingest
// path, so execution is cheap and safe for concurrent use). It owns the
// template language — Go's text/template, and html/template for HTML — the
// function allow-list, escaping, the output cap, positions in errors, and
// the built-in default templates. It does not own which blocks a channel
// needs, subject precedence or recipients: the router decides those.
//
// # Data
//
// The router passes the decoded message, a map[string]any from
// json.Unmarshal (numbers are float64), with an added key "meta":
//
//	{"source": "lago", "id": "<message ID>", "received_at": "<RFC 3339 time>"}
//
// unless the payload has a top-level "meta" of its own, which wins. Lookups
// also work through map[string]string and the exported fields of structs.
//
// # Missing data
//
// A missing or null field renders as an empty string, never "<no value>",
// and so does any chain through a missing, null or non-object value:
// {{ .invoice.customer.email }} when there is no invoice, or {{ .a.b }}
// when a is a string. Parse rewrites the parse tree to get this: every
// field chain becomes a nil-safe lookup, and every output action ends in a
// function that prints nil as "" and escapes the value. So {{ if }},
// {{ with }} and {{ range }} over missing fields take the empty branch,
// {{ default "x" .missing }} gives "x", and a missing value passed to a
// function expecting a string is "" (an expected number is 0). len of a
// missing value is 0; index and slice of one are empty. eq, ne, lt, le, gt
// and ge compare numbers by value whatever their Go type (JSON numbers are
// float64, constants in a template int); an ordered comparison with a
// missing value is false rather than an error.
//
// Numbers print without exponent: a JSON 1500000 prints as 1500000, not
// 1.5e+06 (also through print, printf's %v/%s/%d, toString and join).
// Objects and lists print as JSON, times as RFC 3339.
//
// # Escaping
//
// The Escape given to Parse or File.Block applies to interpolated values
// only, never to the template's literal text: Mrkdwn (Slack text) escapes
// &, < and > so a value cannot add links or mentions while the template's
// own <https://…|link> stays, and a backtick becomes ˋ (U+02CB), since
// Slack has no escape for it and it would end a `code span`; HTML uses
// html/template's contextual escaping; URLPath and URLQuery escape for a URL's path and query;
// HeaderValue strips CR, LF and other control characters. The mrkdwn and
// urlquery functions escape explicitly; their results are not escaped a
// second time by Mrkdwn, respectively URLPath and URLQuery.
//
// # Functions
//
// Templates get text/template's builtins (several made nil-safe, as above),
// an allow-list of the Sprig helpers known from Helm (see sprigNames), and:
//
//	money CENTS CURRENCY   amount in minor units: $12,345.67, €9.99, ¥1,200, BHD 1.234
//	                       (also CENTS | money CURRENCY); a missing amount is ""
//	toJson V               JSON, safe inside JSON bodies and Slack blocks; nil → null
//	                       (toRawJson without HTML escaping, toPrettyJson indented)
//	required MSG V         fails rendering with MSG when V is missing, "" or empty
//	hours_since TS, hours_until TS, days_since TS, days_until TS
//	                       whole hours/days (an int, truncated toward zero) between a
//	                       Lago ISO-8601 timestamp and now; "" for a missing timestamp
//	date LAYOUT TS, dateInZone LAYOUT TS ZONE, htmlDate TS, ago TS, unixEpoch TS, …
//	                       accept Lago timestamps, format in UTC unless given a zone,
//	                       and print a missing date as "" (Sprig's would print now)
//	mrkdwn V               V escaped for Slack mrkdwn
//	mrkdwnJson V           V escaped for Slack mrkdwn and then for the inside of a
//	                       JSON string (no quotes): the safe way to put a value in
//	                       a Block Kit mrkdwn text, "text": "*Name*\n{{ mrkdwnJson .x }}"
//	markdown V             V escaped for Discord and Teams Markdown (a backslash
//	                       before \ * _ ~ ` | < > [ ] @: no mention, link or styling)
//	markdownJson V         V escaped for Markdown and then for the inside of a JSON
//	                       string (no quotes): the safe way to put a value in a
//	                       Discord embed or a Teams card, "text": "{{ markdownJson .x }}"
//	urlquery V             V escaped with url.QueryEscape
//	lagoObject .           the object of a Lago message (the value under the key
//	                       its object_type names), or nil
//	eventType .            webhook_type, else type, event or event_type
//
// Never offered: anything that reads the environment, files or the network
// (env, expandenv, getHostByName), generates keys or certificates, is
// random (a retry must resend identical content) or mutates the message
// data. A template calling one fails to parse: function "env" not defined.
// The generators are capped: until, untilStep and seq at 10,000 elements,
// ranging over an integer at 10,000 iterations, repeat and indent at the
// output cap.
//
// # Limits and errors
//
// Each Execute writes at most Options.MaxBytes (64 KiB by default); the
// first write past it stops execution with an error wrapping ErrTooLarge.
//
// Each Execute also has a budget, so that no template — whoever wrote it —
// can exhaust the process: at most Options.MaxSteps steps (1,000,000: a
// function call, a field lookup or output, an iteration of a range, a
// template call), Options.MaxMemory bytes of intermediate values (32 MiB:
// the sum of the sizes of every string, list and object a function
// returns; a function whose result could exceed what is left — print,
// join, toJson, replace, printf with widths, … of values holding the same
// long string many times — is refused before it runs) and Options.Timeout
// of wall-clock time (2 s). Exceeding any of them stops that execution
// with an error wrapping ErrBudget; the caller fails that one delivery.
// Parse and ParseFile errors are *Error values with the line and column in
// the given text. Execute errors are short:
// "template: x.tmpl:3:12: required: invoice number missing".
//
// # Files and defaults
//
// A template file defines named blocks ({{ define "text" }}…{{ end }}): text,
// blocks, subject, html, body and content_type; other defines are helpers.
// Default returns the built-in file of a channel kind, used when a send
// target has neither template nor message.
package render
