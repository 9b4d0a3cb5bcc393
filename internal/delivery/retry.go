// The retry policy: how long a failed delivery waits before its next
// attempt.

package delivery

import (
	"math/rand/v2"
	"time"
)

// DefaultBackoff is the retry delay after the attempt-th failed attempt:
// 5 s·5^(attempt-1), capped at 8 h, with ±20 % jitter. See the package
// documentation for the schedule.
func DefaultBackoff(attempt int) time.Duration {
	return Exponential(DefaultRetryBackoff, DefaultMaxBackoff, attempt)
}

// Exponential is base·5^(attempt-1) (5 s, 25 s, 2 min, 10 min, 52 min, …
// for a 5 s base) with ±20 % jitter, capped at ceiling.
func Exponential(base, ceiling time.Duration, attempt int) time.Duration {
	d := ceiling
	if attempt < 1 {
		attempt = 1
	}
	if n := base; attempt <= 20 {
		for range attempt - 1 {
			n *= BackoffFactor
			if n >= ceiling {
				break
			}
		}
		d = min(n, ceiling)
	}
	fifth := d / 5
	return min(d-fifth+rand.N(2*fifth+1), ceiling)
}
