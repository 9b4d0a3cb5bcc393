// Package maintenance runs the store's periodic upkeep on each replica: it
// refreshes the queue gauges from the store and runs the retention sweep.
//
// It owns the two loops and their logs, not what they compute: the
// counting and the deleting are the store's (Store.Stats, Store.Sweep).
// It sends nothing and holds no deliveries; that is the delivery package.
package maintenance
