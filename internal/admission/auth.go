package admission

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failure limits of AuthFailures: a client address may get a credential
// wrong authBurst times at once, then once per authEvery.
const (
	authBurst   = 10
	authEvery   = time.Second
	authEntries = 10000
)

// AuthFailures throttles guessing: each client address may fail to
// authenticate authBurst times, then once a second; while its allowance
// is spent its attempts are refused without being checked, right or
// wrong. It is safe for concurrent use.
type AuthFailures struct {
	now func() time.Time

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// NewAuthFailures returns an AuthFailures on the clock now (nil:
// time.Now).
func NewAuthFailures(now func() time.Time) *AuthFailures {
	if now == nil {
		now = time.Now
	}
	return &AuthFailures{now: now, clients: map[string]*rate.Limiter{}}
}

// Allowed reports whether client may try a credential now; when not, how
// long until it may.
func (f *AuthFailures) Allowed(client string) (bool, time.Duration) {
	if f == nil {
		return true, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	lim, ok := f.clients[client]
	if !ok {
		return true, 0
	}
	tokens := lim.TokensAt(f.now())
	if tokens >= 1 {
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - tokens) * float64(authEvery)))
	return false, max(wait, time.Second)
}

// Failed records that client got a credential wrong.
func (f *AuthFailures) Failed(client string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	lim, ok := f.clients[client]
	if !ok {
		if len(f.clients) >= authEntries {
			f.forgetIdle(now)
		}
		lim = rate.NewLimiter(rate.Every(authEvery), authBurst)
		f.clients[client] = lim
	}
	lim.AllowN(now, 1)
}

// forgetIdle drops clients whose allowance is whole again: they are as
// if never seen. If every one is still throttled, the oldest state goes
// all the same, so that the map stays bounded.
func (f *AuthFailures) forgetIdle(now time.Time) {
	for c, lim := range f.clients {
		if lim.TokensAt(now) >= authBurst {
			delete(f.clients, c)
		}
	}
	if len(f.clients) >= authEntries {
		clear(f.clients)
	}
}

// Client returns whom to count an http.Request's failures against: its
// RemoteAddr's address, or for IPv6 its /64 network (one machine commonly
// holds a whole /64).
func Client(remoteAddr string) string {
	host := hostOf(remoteAddr)
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is6() || ip.Is4In6() {
		return host
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return host
	}
	return p.String()
}
