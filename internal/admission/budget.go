package admission

import (
	"context"
	"errors"
	"io"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// ErrBudget is returned when the request memory budget is spent.
var ErrBudget = errors.New("request memory budget exceeded")

// Budget bounds the bytes of request headers and bodies held at once by
// every connection together. It is safe for concurrent use.
type Budget struct {
	limit   int64
	used    atomic.Int64
	flooded atomic.Bool
}

// NewBudget returns a Budget of limit bytes; limit <= 0 means no bound.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Take charges n bytes and reports whether they fit. Nothing is charged
// when they do not.
func (b *Budget) Take(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	for {
		u := b.used.Load()
		if b.limit > 0 && u+n > b.limit {
			b.flooded.Store(true)
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			if b.limit > 0 && u+n > b.limit/2 {
				b.flooded.Store(true)
			}
			return true
		}
	}
}

// Release gives back n bytes taken earlier.
func (b *Budget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.used.Add(-n)
}

// Used returns the bytes charged now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Limit returns the budget's size (0: no bound).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Relieve runs until ctx ends. Every interval it checks whether requests
// used more than half the budget since the last check and now use less
// than an eighth of it; then the flood has passed, and it returns the
// memory the flood made the heap grow by to the operating system at once
// rather than over minutes (debug.FreeOSMemory).
func (b *Budget) Relieve(ctx context.Context, interval time.Duration) {
	if b == nil || b.limit <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if b.flooded.Load() && b.used.Load() < b.limit/8 {
				b.flooded.Store(false)
				debug.FreeOSMemory()
			}
		}
	}
}

// Reader charges what it reads to a Budget. Release gives it all back.
type Reader struct {
	r     io.Reader
	b     *Budget
	taken int64
}

// NewReader returns a Reader of r charging b.
func NewReader(r io.Reader, b *Budget) *Reader { return &Reader{r: r, b: b} }

// Read implements io.Reader; it fails with ErrBudget once the budget is
// spent.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		if !r.b.Take(int64(n)) {
			return 0, ErrBudget
		}
		r.taken += int64(n)
	}
	return n, err
}

// Release gives back everything read so far.
func (r *Reader) Release() {
	r.b.Release(r.taken)
	r.taken = 0
}
