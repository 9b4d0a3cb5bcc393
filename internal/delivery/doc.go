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
// permanent (notifiers.Permanent), which makes the delivery dead at once. A
// notifiers.RetryAfterError is honoured exactly: the next attempt is due
// after that delay, no sooner. Otherwise the delay after the nth failed
// attempt is DefaultBackoff(n): 1 min·2^(n-1), capped at 8 h, with equal
// jitter (a random delay between half the value and the value):
//
//	after attempt   1      2     3     4      5       6       7      8       9       10, 11
//	wait           30s–1m 1–2m  2–4m  4–8m   8–16m   16–32m  32–64m 1–2h8m  2–4h16m 4–8h
//
// so the 12th attempt, the default bound, comes 12–24 h after the first.
// A delivery goes dead when it has had its channel's MaxAttempts (default
// 12) or when its next attempt would fall after MaxAge (default 24 h) since
// it was queued, whichever comes first. A delivery whose channel no longer
// exists goes dead with "channel X is not configured". Dead deliveries keep
// their last error and attempt history; store.Replay requeues them with a
// fresh retry budget.
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
