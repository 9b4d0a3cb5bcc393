package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// rssBytes returns the resident memory of process pid.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestHeaderFloodMemoryBounded stalls 400 connections, each after about
// 2 MB of headers, on the path of a Lago JWT source (whose header limit is
// twice its body limit, as the body travels in a header): the request
// memory budget and the soft memory limit it sets must keep the process's
// resident memory bounded while they last, and it must come back down
// once they close.
func TestHeaderFloodMemoryBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	_, pub := testkit.RSAKey(t)
	s := startServer(t, config{
		rules: `
sources:
  lagojwt:
    lago:
      jwt_public_key: ${LAGO_PUBLIC_KEY}
      allow_any_organization: true
rules: []
`,
		env:  []string{"LAGO_PUBLIC_KEY=" + pub, "SWITCHBOARD_LOG_LEVEL=warn"},
		args: []string{"--max-conns-per-client", "0"},
	})
	pid := s.cmd.Process.Pid
	base := rssBytes(t, pid)

	const conns, headerBytes = 400, 2_000_000
	filler := []byte(strings.Repeat("A", headerBytes))
	var (
		mu      sync.Mutex
		open    []net.Conn
		wg      sync.WaitGroup
		peak    atomic.Int64
		stopped = make(chan struct{})
	)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopped:
				return
			case <-time.After(20 * time.Millisecond):
				if r := rssBytes(t, pid); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", s.addr())
			if err != nil {
				return // refused: fine
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, "POST /webhooks/lagojwt HTTP/1.1\r\nHost: switchboard\r\nX-Lago-Signature: "); err != nil {
				return
			}
			_, _ = c.Write(filler) // and never the end of the header
		}()
	}
	wg.Wait()
	// The kernel holds what the clients wrote until the server reads it:
	// let it work through the flood before the clients go.
	time.Sleep(time.Second)
	mu.Lock()
	for _, c := range open {
		c.Close()
	}
	mu.Unlock()
	testkit.EventuallyEvery(t, "the request memory budget to empty", 15*time.Second, 100*time.Millisecond, func() bool {
		return strings.Contains(s.do("GET", "/metrics", nil).body, "\nswitchboard_request_memory_bytes 0\n")
	})
	var after int64
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(250 * time.Millisecond)
		after = rssBytes(t, pid)
		if after < base+64<<20 || time.Now().After(deadline) {
			break
		}
	}
	close(stopped)
	<-sampled
	top := peak.Load()
	t.Logf("resident memory: %d MiB at rest, %d MiB at most under %d connections stalled after 2 MB of headers, %d MiB after",
		base>>20, top>>20, conns, after>>20)
	// The default request budget (96 MiB) sets a soft memory limit of
	// 384 MiB, which the collector may overshoot a little when pressed;
	// without either, 400 such connections took 1.4 GiB and kept it, and
	// a 1 GiB container was killed.
	if top > 512<<20 {
		t.Errorf("peak resident memory %d MiB, want at most 512 MiB", top>>20)
	}
	if after > base+64<<20 {
		t.Errorf("resident memory %d MiB after the flood, want within 64 MiB of the %d MiB baseline", after>>20, base>>20)
	}
	if r := s.do("GET", "/healthz", nil); r.code != 200 {
		t.Fatalf("healthz after the flood: %d", r.code)
	}
}
