// Command bench is Switchboard's reproducible throughput benchmark. In one
// run on one machine it starts each target as its own process, drives it
// with the same closed-loop load (a fixed number of keep-alive connections
// posting Lago invoice.created bodies, each with a unique
// X-Lago-Unique-Key), and reports accepted requests per second, latency
// percentiles, deliveries per second during the load, drain time, CPU per
// message, startup time and idle and peak RSS, with Switchboard's ratios to
// each baseline and the targets.
//
// The targets:
//
//   - bare: net/http reading the body, decoding the JSON and answering 202;
//   - fsync: bare plus a group-committed, fsynced append of every message
//     to a file;
//   - relay: fsync plus one outbound POST per committed message to the sink,
//     sent by a small worker pool;
//   - switchboard-1 and switchboard-N: `switchboard serve` on its embedded
//     SQLite store (or PostgreSQL with -postgres) with the one rule that
//     matches, and with N-1 more rules that never match, all delivering to
//     the sink.
//
// The baselines are this same program run in a hidden mode
// (`bench serve-baseline`), so each target has its own process and its own
// RSS. The load generator and the sink that counts deliveries run in the
// driving process. Everything listens on 127.0.0.1 on ports the kernel
// picks; every child process is stopped when the run ends, on error or
// interrupt too.
//
// The command owns the harness only: it does not change how Switchboard
// serves, and writes nothing outside its temporary directory and
// bench/results/.
package main
