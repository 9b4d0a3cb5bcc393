// Package delivery sends stored deliveries through their channels' notifiers:
// per-channel worker pools with a concurrency bound and a rate limit,
// retries with backoff, dead letters, leases, and graceful shutdown.
//
// A Dispatcher owns this replica's share of the work. Deliveries reach it
// two ways:
//
//   - Submit: ingest has just committed them, already leased to this
//     replica, and hands them over without a database round trip;
//   - the poller: every PollInterval (1 s), or at once after Wake, it claims
//     due retries, replayed deliveries and deliveries whose lease expired on
//     another replica (or was released).
//
// The Dispatcher holds at most Window deliveries in memory (queued, being
// sent, or waiting for their outcome to be written), so memory stays flat
// under sustained load. When the window is full, Submit releases the
// deliveries it cannot take straight back to the store (pending, due now),
// where the poller of this or any replica claims them when there is room;
// nothing waits on a lease to expire.
//
// # Leases
//
// A held delivery's lease is renewed while it waits in a queue (a rate
// limit can hold it longer than its lease), and a send never starts unless
// the lease covers the channel's timeout with room to spare, so that
// another replica never takes over a delivery that is still being sent
// here. Outcomes are written in small batches (every few milliseconds) and
// only where this replica still holds the lease.
//
// # Retries
//
// A failed attempt is retried unless the notifier marked the error
// permanent (notifiers.Permanent: a 4xx other than 408 and 429, Slack's
// ok:false, a template error), which makes the delivery dead at once.
// Network errors, timeouts, 408, 429 and 5xx are retried. A
// notifiers.RetryAfterError is honoured exactly: the next attempt is due
// after that delay, no sooner. Otherwise the delay after the nth failed
// attempt is backoff·5^(n-1) (the channel's retry.backoff, default 5 s),
// capped at max_backoff (default 8 h), with ±20 % jitter:
//
//	after attempt   1     2       3          4           5         6           7, 8
//	wait           4–6s  20–30s  1m40–2m30  8m20–12m30  42m–1h02  3h28–5h12   6h24–8h
//
// A delivery goes dead when it has had its channel's MaxAttempts (default
// 12) or when its next attempt would fall after MaxAge (default 24 h) since
// it was queued, whichever comes first: with the defaults, after the 9th
// attempt, about 21 h after the first. A delivery whose channel no longer
// exists goes dead with "channel X is not configured". Dead deliveries keep
// their last error and attempt history; store.Replay requeues them with a
// fresh retry budget.
//
// # Circuit breaker
//
// Each channel has a breaker in the store, shared by every replica. After
// Breaker.Failures (default 5) retryable failures in a row it opens: its
// deliveries are parked (pending, not due, no attempt and no attempt row)
// and only one probe per interval goes out, across replicas (30 s by
// default, doubling after each failed probe up to 5 min). The first
// success closes it and makes the parked deliveries due: they drain at the
// channel's rate and concurrency. A Retry-After (HTTP 429 or 503, Slack's
// rate limit) pauses the whole channel until then; a 429 or a Slack rate
// limit does not count as a failure. Permanent errors do not count either:
// they are the delivery's fault, not the channel's.
//
// The log says when a channel opens (once, by the replica that opened it),
// sums it up at most once a minute while it stays open, and says when it
// closes, with how long it was open and how many deliveries wait; single
// failed attempts are logged at debug level. A channel's on_failure
// channel receives the same news as notices rendered with built-in
// templates (see notices/notice.tmpl), and a notice of the deliveries that
// went dead, at most once a minute.
//
// # Shutdown
//
// Run returns when its context is cancelled, after: queued deliveries are
// released; in-flight sends finish (their contexts are cancelled after
// ShutdownGrace, default 10 s, and they are released for another attempt);
// pending outcomes are written; and every lease this replica still holds is
// released (pending, due now).
//
// The Dispatcher is the one place that logs a delivery's outcome and
// updates the delivery metrics. It never logs parts (content) or secrets;
// notifier errors are scrubbed by the notifiers.
package delivery
