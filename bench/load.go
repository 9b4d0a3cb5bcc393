package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// requestTimeout bounds one request of the load generator.
const requestTimeout = 10 * time.Second

// loadSpec says what load to send.
type loadSpec struct {
	URL         string
	Body        []byte
	Connections int
	Duration    time.Duration
	// KeyPrefix and Keys make each request's X-Lago-Unique-Key unique:
	// the prefix and the next value of the counter.
	KeyPrefix string
	Keys      *atomic.Int64
}

// loadResult is what one load run saw.
type loadResult struct {
	Start, End time.Time
	// Accepted counts 202 answers: messages the target took.
	Accepted int
	// OK counts every 2xx answer (202 included).
	OK int
	// Statuses counts the other answers by status code.
	Statuses map[int]int
	// Errors counts requests that got no answer; FirstError is one of them.
	Errors     int
	FirstError string
	// Latencies of the 2xx answers, sorted.
	Latencies []time.Duration
}

// Elapsed is the length of the load window.
func (r loadResult) Elapsed() time.Duration { return r.End.Sub(r.Start) }

// newLoadClient returns a client that keeps up to conns connections alive
// to one host and never opens more.
func newLoadClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:       conns,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: requestTimeout,
		DisableCompression:    true,
	}}
}

// runLoad sends requests on s.Connections connections in a closed loop
// (each sends its next request when the previous one is answered) for
// s.Duration, or until ctx ends.
func runLoad(ctx context.Context, client *http.Client, s loadSpec) loadResult {
	type worker struct {
		accepted, ok, errors int
		statuses             map[int]int
		firstErr             string
		lat                  []time.Duration
	}
	ws := make([]worker, s.Connections)
	start := time.Now()
	deadline := start.Add(s.Duration)
	lctx, cancel := context.WithDeadline(ctx, deadline.Add(requestTimeout))
	defer cancel()
	var wg sync.WaitGroup
	for i := range ws {
		w := &ws[i]
		w.statuses = map[int]int{}
		w.lat = make([]time.Duration, 0, 1024)
		wg.Go(func() {
			for time.Now().Before(deadline) && lctx.Err() == nil {
				key := s.KeyPrefix + strconv.FormatInt(s.Keys.Add(1), 10)
				t0 := time.Now()
				status, err := post(lctx, client, s.URL, key, s.Body)
				d := time.Since(t0)
				switch {
				case err != nil:
					if lctx.Err() != nil {
						return
					}
					w.errors++
					if w.firstErr == "" {
						w.firstErr = err.Error()
					}
					// Do not spin on a dead server.
					time.Sleep(10 * time.Millisecond)
				case status >= 200 && status < 300:
					w.ok++
					if status == http.StatusAccepted {
						w.accepted++
					}
					w.lat = append(w.lat, d)
				default:
					w.statuses[status]++
				}
			}
		})
	}
	wg.Wait()
	res := loadResult{Start: start, End: time.Now(), Statuses: map[int]int{}}
	n := 0
	for i := range ws {
		n += len(ws[i].lat)
	}
	res.Latencies = make([]time.Duration, 0, n)
	for _, w := range ws {
		res.Accepted += w.accepted
		res.OK += w.ok
		res.Errors += w.errors
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
		for k, v := range w.statuses {
			res.Statuses[k] += v
		}
		res.Latencies = append(res.Latencies, w.lat...)
	}
	slices.Sort(res.Latencies)
	return res
}

// post sends one message and returns the status code.
func post(ctx context.Context, client *http.Client, url, key string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Lago-Unique-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, nil
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted durations, or 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

var errNoLoad = errors.New("no request was answered 2xx")
