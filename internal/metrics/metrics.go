// Package metrics defines every Prometheus metric Switchboard exports
// (prefix switchboard_). Metrics are registered on a registry passed in, so
// tests use a private one and nothing is global.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics holds the collectors. Label values are source, rule and channel
// names from the rules file and fixed outcome words: never message content
// or secrets.
type Metrics struct {
	// MessagesReceived counts ingest requests by source and outcome
	// (queued, duplicate, unknown_source, too_large, unauthorized,
	// bad_request, unavailable, overloaded).
	MessagesReceived *prometheus.CounterVec
	// RuleMatches counts messages each rule matched.
	RuleMatches *prometheus.CounterVec
	// RuleErrors counts expression run-time errors and render errors by rule.
	RuleErrors *prometheus.CounterVec
	// Deliveries counts deliveries reaching a final state by channel and
	// outcome (delivered, dead).
	Deliveries *prometheus.CounterVec
	// DeliveryAttempts counts send attempts by channel and outcome
	// (success, retry, permanent).
	DeliveryAttempts *prometheus.CounterVec
	// DeliveryDuration observes the duration of each send attempt.
	DeliveryDuration *prometheus.HistogramVec
	// DeliveryLatency observes the time from receipt to successful delivery.
	DeliveryLatency *prometheus.HistogramVec
	// DeliveriesPending is the number of deliveries not yet delivered or dead.
	DeliveriesPending prometheus.Gauge
	// DeliveriesByState is the number of stored deliveries per state.
	DeliveriesByState *prometheus.GaugeVec
	// OldestPendingSeconds is the age of the oldest pending delivery.
	OldestPendingSeconds prometheus.Gauge
	// OpenConversations counts conversations awaiting their resolution,
	// by the rule that opened them.
	OpenConversations *prometheus.GaugeVec
	// ConfigLastReloadSuccessful is 1 when the last reload succeeded.
	ConfigLastReloadSuccessful prometheus.Gauge
	// ConfigLastReloadSuccessTimestamp is the time of the last good load.
	ConfigLastReloadSuccessTimestamp prometheus.Gauge
	// IngestBatchSize observes how many messages each group commit held.
	IngestBatchSize prometheus.Histogram
	// CommitDuration observes how long each group commit took.
	CommitDuration prometheus.Histogram
	// RuleDecisions counts alert-fatigue decisions by rule and decision
	// (suppressed, grouped, held, dropped, silenced).
	RuleDecisions *prometheus.CounterVec
	// Digests counts digests sent out by rule.
	Digests *prometheus.CounterVec
	// PacingCollapsed counts deliveries folded into pacing summaries, by
	// channel.
	PacingCollapsed *prometheus.CounterVec
	// ChannelState is each channel's breaker state: 0 closed, 1 open
	// (nothing sent but probes), 2 paused (the peer asked to wait).
	ChannelState *prometheus.GaugeVec
	// ChannelOpens counts how many times each channel's breaker opened.
	ChannelOpens *prometheus.CounterVec
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	const ns = "switchboard"
	m := &Metrics{
		MessagesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "messages_received_total",
			Help: "Webhook requests received, by source and outcome.",
		}, []string{"source", "outcome"}),
		RuleMatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "rule_matches_total",
			Help: "Messages matched, by rule.",
		}, []string{"rule"}),
		RuleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "rule_errors_total",
			Help: "Expression or template errors, by rule.",
		}, []string{"rule"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "deliveries_total",
			Help: "Deliveries that reached a final state, by channel and outcome (delivered, dead).",
		}, []string{"channel", "outcome"}),
		DeliveryAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "delivery_attempts_total",
			Help: "Send attempts, by channel and outcome (success, retry, permanent).",
		}, []string{"channel", "outcome"}),
		DeliveryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "delivery_duration_seconds",
			Help:    "Duration of one send attempt, by channel.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"channel"}),
		DeliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "delivery_latency_seconds",
			Help:    "Time from a message's receipt to its delivery, by channel.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 30, 60, 300, 1800, 3600, 21600, 86400},
		}, []string{"channel"}),
		DeliveriesPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "deliveries_pending",
			Help: "Deliveries waiting to be sent or being sent.",
		}),
		DeliveriesByState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "deliveries",
			Help: "Stored deliveries, by state.",
		}, []string{"state"}),
		OldestPendingSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "oldest_pending_seconds",
			Help: "Age of the oldest pending delivery.",
		}),
		OpenConversations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "open_conversations",
			Help: "Conversations not yet resolved, by the rule that opened them.",
		}, []string{"rule"}),
		ConfigLastReloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (1) or failed (0).",
		}),
		ConfigLastReloadSuccessTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful configuration load.",
		}),
		IngestBatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "ingest_batch_size",
			Help:    "Messages committed per group-commit transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		CommitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "commit_duration_seconds",
			Help:    "Duration of one group-commit transaction.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, 1},
		}),
		RuleDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "rule_decisions_total",
			Help: "Matches not sent at once, by rule and decision (suppressed, grouped, held, dropped, silenced).",
		}, []string{"rule", "decision"}),
		Digests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "digests_total",
			Help: "Digests produced, by rule.",
		}, []string{"rule"}),
		PacingCollapsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "pacing_collapsed_total",
			Help: "Deliveries folded into a pacing summary, by channel.",
		}, []string{"channel"}),
		ChannelState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "channel_state",
			Help: "Circuit-breaker state of each channel: 0 closed, 1 open, 2 paused by the peer (Retry-After).",
		}, []string{"channel"}),
		ChannelOpens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "channel_open_total",
			Help: "Times each channel's circuit breaker opened.",
		}, []string{"channel"}),
	}
	reg.MustRegister(m.RuleDecisions, m.Digests, m.PacingCollapsed, m.ChannelState, m.ChannelOpens, m.OpenConversations)
	reg.MustRegister(m.MessagesReceived, m.RuleMatches, m.RuleErrors, m.Deliveries,
		m.DeliveryAttempts, m.DeliveryDuration, m.DeliveryLatency, m.DeliveriesPending,
		m.DeliveriesByState, m.OldestPendingSeconds, m.ConfigLastReloadSuccessful,
		m.ConfigLastReloadSuccessTimestamp, m.IngestBatchSize, m.CommitDuration)
	return m
}
