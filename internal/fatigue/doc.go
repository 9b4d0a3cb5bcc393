// Package fatigue owns the order in which alert-fatigue settings apply to
// one delivery: silence, then quiet hours that drop, then the throttle,
// then grouping, then quiet hours that hold. Ingest, the store's commit
// transaction and the admin API's explanation of a test all walk this one
// order; what each step does (a silence lookup, a throttle window, a
// digest group) stays with its owner.
//
// It does not decide whether a step applies: its caller knows whether a
// silence matches or the rule throttles, and says so in Facts.
package fatigue
