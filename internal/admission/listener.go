package admission

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHeaderLimit is the header bytes a request may send unless
// Options.HeaderLimit allows its target more: Go's own default.
const DefaultHeaderLimit = http.DefaultMaxHeaderBytes

// headerCost is what a header byte read costs in memory until the handler
// runs: Go's server gathers a header line by appending (up to twice its
// size) and then copies it into the header map. Measured with 2 MB
// headers: about three times their size.
const headerCost = 3

// maxRequestLine bounds the request line kept to find the target; past
// it, the default limit applies.
const maxRequestLine = 8 << 10

// Errors a connection's Read returns when it is cut off; the server then
// closes the connection.
var (
	errHeaderTooLarge = errors.New("request headers too large for their target")
)

// Options configure Listen.
type Options struct {
	// PerClient bounds the connections open at once from one client
	// address; more are closed as soon as they are accepted. 0: no bound.
	PerClient int
	// Budget, if set, is charged with every header byte read (three
	// times: what parsing it takes) until the handler runs, and released
	// then, or when the connection closes.
	Budget *Budget
	// HeaderLimit returns the header bytes allowed for a request target
	// ("/webhooks/lago?x=1"); nil or a result <= 0 means
	// DefaultHeaderLimit.
	HeaderLimit func(target string) int
	Logger      *slog.Logger
}

// Listener wraps a net.Listener with Options' bounds. Serve HTTP on it
// with ConnContext set as the server's ConnContext and every handler
// wrapped by Handler.
type Listener struct {
	net.Listener
	o Options

	mu    sync.Mutex
	conns map[string]int

	refusedClient atomic.Int64
	refusedMemory atomic.Int64
	refusedHeader atomic.Int64
	lastLog       atomic.Int64 // unix seconds of the last refusal logged
}

// Listen wraps ln.
func Listen(ln net.Listener, o Options) *Listener {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, o: o, conns: map[string]int{}}
}

// Refused returns how many connections were cut off: over the per-client
// bound, for want of request memory, and for headers too large.
func (l *Listener) Refused() (perClient, memory, header int64) {
	return l.refusedClient.Load(), l.refusedMemory.Load(), l.refusedHeader.Load()
}

// Accept returns the next connection within the per-client bound.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := clientHost(c.RemoteAddr())
		l.mu.Lock()
		if l.o.PerClient > 0 && l.conns[host] >= l.o.PerClient {
			l.mu.Unlock()
			_ = c.Close()
			l.refusedClient.Add(1)
			l.logRefusal("connection refused: too many open connections from this client", host)
			continue
		}
		l.conns[host]++
		l.mu.Unlock()
		return &conn{Conn: c, l: l, host: host, limit: DefaultHeaderLimit}, nil
	}
}

// logRefusal logs at most one refusal every ten seconds: a flood must not
// flood the log too.
func (l *Listener) logRefusal(msg, host string) {
	now := time.Now().Unix()
	last := l.lastLog.Load()
	if now-last < 10 || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	pc, mem, hdr := l.Refused()
	l.o.Logger.Warn(msg, "client", host, "refused_per_client", pc, "refused_memory", mem, "refused_header", hdr)
}

func (l *Listener) closed(host string) {
	l.mu.Lock()
	if l.conns[host]--; l.conns[host] <= 0 {
		delete(l.conns, host)
	}
	l.mu.Unlock()
}

type connKey struct{}

// ConnContext is the http.Server ConnContext hook: it lets Handler find
// the request's connection.
func (l *Listener) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if ac, ok := c.(*conn); ok {
		return context.WithValue(ctx, connKey{}, ac)
	}
	return ctx
}

// Handler marks the end of a request's headers for next: what they were
// charged to the budget is given back (handlers charge bodies themselves),
// and once next returns the connection's next request is counted afresh.
func (l *Listener) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(*conn); ok {
			c.enterBody()
			defer func() {
				drainBody(r)
				c.leaveBody()
			}()
		}
		next.ServeHTTP(w, r)
	})
}

// postHandlerRead is the most of an unread body Go's server reads after
// its handler to reuse the connection (net/http's maxPostHandlerReadBytes).
const postHandlerRead = 256 << 10

// drainBody reads what the handler left of a small body, as Go's server
// would right after: read here, while the connection counts reads as the
// body's, it is not taken for the next request's headers. A client
// waiting for "100 Continue" has sent no body; the server closes such a
// connection instead.
func drainBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 ||
		strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return
	}
	_, _ = io.CopyN(io.Discard, r.Body, postHandlerRead+1)
}

// conn counts the header bytes of each request read through it.
type conn struct {
	net.Conn
	l    *Listener
	host string
	once sync.Once

	mu       sync.Mutex
	inBody   bool  // a handler runs: reads are its body's
	read     int64 // header bytes read for the current request
	charged  int64 // bytes charged to the budget
	line     []byte
	haveLine bool
	limit    int64
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n <= 0 {
		return n, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inBody {
		return n, err
	}
	if aerr := c.account(p[:n]); aerr != nil {
		return 0, aerr
	}
	return n, err
}

// account counts header bytes: the request line decides the limit, the
// budget must hold them.
func (c *conn) account(p []byte) error {
	if !c.haveLine {
		room := maxRequestLine - len(c.line)
		chunk := p[:min(len(p), room)]
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			c.line = append(c.line, chunk[:i]...)
			c.haveLine = true
			if f := c.l.o.HeaderLimit; f != nil {
				if lim := f(requestTarget(c.line)); lim > 0 {
					c.limit = int64(lim)
				}
			}
		} else if len(p) >= room {
			// No target in sight (a very long line, or the rest of a
			// body the server discards after its handler): the default
			// limit stands, and Go's server judges the line.
			c.haveLine = true
		} else {
			c.line = append(c.line, chunk...)
		}
	}
	c.read += int64(len(p))
	// Go's server reads a little beyond the header (its buffer), hence
	// the 4 KiB of slack, as http.Server.MaxHeaderBytes has.
	if c.read > c.limit+4096 {
		c.l.refusedHeader.Add(1)
		c.l.logRefusal("connection closed: request headers too large for their target", c.host)
		c.answer(answerHeaderTooLarge)
		return errHeaderTooLarge
	}
	if !c.l.o.Budget.Take(headerCost * int64(len(p))) {
		c.l.refusedMemory.Add(1)
		c.l.logRefusal("connection closed: request memory budget spent", c.host)
		c.answer(answerBusy)
		return ErrBudget
	}
	c.charged += headerCost * int64(len(p))
	return nil
}

// Answers written straight to a connection cut off while its headers are
// read, before the server could answer: the client learns why, and when
// to try again.
const (
	answerHeaderTooLarge = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Connection: close\r\nContent-Length: 30\r\n\r\nrequest headers are too large\n"
	answerBusy = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Retry-After: 1\r\nConnection: close\r\nContent-Length: 11\r\n\r\noverloaded\n"
)

// answer writes a final answer, giving up after a second: the client may
// not be reading.
func (c *conn) answer(s string) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write([]byte(s))
}

func (c *conn) enterBody() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.l.o.Budget.Release(c.charged)
	c.charged, c.inBody = 0, true
}

func (c *conn) leaveBody() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inBody, c.read, c.line, c.haveLine, c.limit = false, 0, c.line[:0], false, DefaultHeaderLimit
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.l.o.Budget.Release(c.charged)
		c.charged = 0
		c.mu.Unlock()
		c.l.closed(c.host)
	})
	return c.Conn.Close()
}

// requestTarget returns the target of an HTTP/1 request line
// ("POST /webhooks/lago HTTP/1.1" → "/webhooks/lago").
func requestTarget(line []byte) string {
	_, rest, ok := bytes.Cut(bytes.TrimSpace(line), []byte(" "))
	if !ok {
		return ""
	}
	target, _, _ := bytes.Cut(rest, []byte(" "))
	return string(target)
}

// clientHost is the address part of a remote address.
func clientHost(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return hostOf(a.String())
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
