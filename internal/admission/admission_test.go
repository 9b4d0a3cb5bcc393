package admission

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// serveOn runs an HTTP server on a Listener with o until the test ends.
func serveOn(t *testing.T, o Options, h http.Handler) (*Listener, string) {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(tcp, o)
	srv := &http.Server{Handler: l.Handler(h), ConnContext: l.ConnContext, ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes: 64 << 20}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l, tcp.Addr().String()
}

func ok(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	_, _ = io.WriteString(w, "ok")
}

// roundTrip sends one request with an extra header of n bytes and returns
// the status, or 0 when the connection closed without one.
func roundTrip(t *testing.T, addr, target string, n int) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		_, _ = io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", n)+"\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHeaderLimitPerTarget: the default limit everywhere, a larger one
// only where HeaderLimit says so; over it, 431.
func TestHeaderLimitPerTarget(t *testing.T) {
	_, addr := serveOn(t, Options{HeaderLimit: func(target string) int {
		if strings.HasPrefix(target, "/webhooks/jwt") {
			return 4 << 20
		}
		return 0
	}}, http.HandlerFunc(ok))
	for _, tt := range []struct {
		target string
		n      int
		want   int
	}{
		{"/webhooks/lago", 512 << 10, 200},
		{"/webhooks/lago", 2 << 20, 431},
		{"/ui/rules", 2 << 20, 431},
		{"/webhooks/jwt", 3 << 20, 200},
		{"/webhooks/jwt?x=1", 3 << 20, 200},
		{"/webhooks/jwt", 5 << 20, 431},
	} {
		if got := roundTrip(t, addr, tt.target, tt.n); got != tt.want {
			t.Errorf("%s with a %d-byte header: %d, want %d", tt.target, tt.n, got, tt.want)
		}
	}
}

// TestHeaderBudget: headers are charged while they are read; when the
// budget is spent the connection gets 503 with Retry-After, and the
// budget is whole again once the connections close.
func TestHeaderBudget(t *testing.T) {
	b := NewBudget(3 << 20) // header bytes count three times
	_, addr := serveOn(t, Options{Budget: b}, http.HandlerFunc(ok))

	// Three connections send 400 KiB of headers each (1.2 MiB charged)
	// and stall before the end of them: the third does not fit.
	var stalled []net.Conn
	defer func() {
		for _, c := range stalled {
			c.Close()
		}
	}()
	refused := 0
	head := "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 400<<10)
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, c)
		_, _ = io.WriteString(c, head)
		if i == 2 {
			break
		}
		// One connection at a time, so that which one does not fit is
		// the third, not whichever read last.
		want := int64(3 * len(head) * (i + 1))
		testkit.Poll(5*time.Second, func() bool { return b.Used() == want })
		if u := b.Used(); u != want {
			t.Fatalf("after connection %d: %d bytes charged, want %d", i+1, u, want)
		}
	}
	for _, c := range stalled {
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			continue // still waiting for the rest of its headers
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("over the budget: %d %v", resp.StatusCode, resp.Header)
		}
		refused++
	}
	if refused != 1 {
		t.Fatalf("%d of 3 stalled connections refused, want 1 (budget in use %d)", refused, b.Used())
	}
	for _, c := range stalled {
		c.Close()
	}
	testkit.Poll(5*time.Second, func() bool { return b.Used() == 0 })
	if u := b.Used(); u != 0 {
		t.Fatalf("%d bytes still charged after the connections closed", u)
	}
	if got := roundTrip(t, addr, "/", 100); got != 200 {
		t.Fatalf("after the flood: %d", got)
	}
	if u := b.Used(); u != 0 {
		t.Fatalf("%d bytes still charged after a request was answered", u)
	}
}

// TestPerClientBound: past PerClient open connections from one address,
// new ones are closed at once; another address is unaffected, and closing
// one frees its place.
func TestPerClientBound(t *testing.T) {
	l, addr := serveOn(t, Options{PerClient: 3}, http.HandlerFunc(ok))
	dial := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// answered reports whether c gets an answer to a request.
	answered := func(c net.Conn) bool {
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return false
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	var held []net.Conn
	for range 3 {
		c := dial("127.0.0.1")
		held = append(held, c)
		if !answered(c) {
			t.Fatal("a connection within the bound was not served")
		}
	}
	extra := dial("127.0.0.1")
	if answered(extra) {
		t.Fatal("a fourth connection from the same address was served")
	}
	extra.Close()
	other := dial("127.0.0.2")
	if !answered(other) {
		t.Fatal("another address was refused")
	}
	other.Close()
	if pc, _, _ := l.Refused(); pc != 1 {
		t.Fatalf("refused per client: %d, want 1", pc)
	}
	held[0].Close()
	testkit.EventuallyEvery(t, "the place a closed connection freed", 5*time.Second, 20*time.Millisecond, func() bool {
		c := dial("127.0.0.1")
		defer c.Close()
		return answered(c)
	})
	for _, c := range held[1:] {
		c.Close()
	}
}

func TestMain(m *testing.M) { testkit.Main(m, nil) }

// TestUnreadBodyIsNotNextHeaders: a handler that leaves its body unread
// (a redirect, an early refusal) on a kept-alive connection; the server
// reads the rest of it afterwards, and those bytes must not count as the
// next request's headers.
func TestUnreadBodyIsNotNextHeaders(t *testing.T) {
	_, addr := serveOn(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok") // the body is left unread
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	body := strings.Repeat("x", 200<<10)
	header := strings.Repeat("h", 900<<10) // 0.9 MB of a 1 MiB limit
	go func() {
		_, _ = io.WriteString(c, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
		_, _ = io.WriteString(c, "GET /b HTTP/1.1\r\nHost: x\r\nX-Big: "+header+"\r\n\r\n")
	}()
	for i, target := range []string{"/a", "/b"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d (%s): %v", i+1, target, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d (%s): %d, want 200", i+1, target, resp.StatusCode)
		}
	}
}
