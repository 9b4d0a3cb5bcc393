//go:build race

package backtest

// raceEnabled shortens the memory test under the race detector, which
// multiplies its time and heap; scripts/test runs it in full without.
const raceEnabled = true
