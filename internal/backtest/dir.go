package backtest

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// maxLine bounds one line of a .jsonl file (a message with its envelope).
const maxLine = 16 << 20

// Dir reads messages from a directory, so that a backtest runs in CI
// without a database. It holds:
//
//   - *.jsonl (or *.ndjson) files of one envelope per line, in time order
//     within each file: {"id": "…", "source": "lago", "received_at":
//     "2026-12-01T10:00:00Z", "body": {…the payload…}};
//   - *.json files of one envelope each, or of a bare payload, which is
//     taken as received at the file's modification time, from
//     DefaultSource, with the file name as its ID.
//
// Files are merged by receive time, reading one message per file at a
// time (the *.json files are sorted by time first, holding only their
// names and times).
type Dir struct {
	Path string
	// DefaultSource is the source of bare payloads.
	DefaultSource string
}

// envelope is one stored message as a file holds it.
type envelope struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	ReceivedAt time.Time       `json:"received_at"`
	Body       json.RawMessage `json:"body"`
}

// DirError is a file of a messages directory that cannot be read.
type DirError struct {
	File string
	Line int
	Err  error
}

func (e *DirError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *DirError) Unwrap() error { return e.Err }

// stream yields the messages of one file, or of the sorted *.json files.
type stream interface {
	next() (Message, bool, error)
	close()
}

// Scan implements Messages.
func (d Dir) Scan(ctx context.Context, f Filter, fn func(Message) error) error {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return fmt.Errorf("read messages directory: %w", err)
	}
	var streams []stream
	defer func() {
		for _, s := range streams {
			s.close()
		}
	}()
	var singles []single
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		p := filepath.Join(d.Path, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".jsonl"), strings.HasSuffix(e.Name(), ".ndjson"):
			fh, err := os.Open(p)
			if err != nil {
				return err
			}
			sc := bufio.NewScanner(fh)
			sc.Buffer(make([]byte, 64<<10), maxLine)
			streams = append(streams, &lines{path: p, source: d.DefaultSource, f: fh, sc: sc})
		case strings.HasSuffix(e.Name(), ".json"):
			m, err := d.readSingle(p, false)
			if err != nil {
				return err
			}
			if f.keep(m.Source, m.ReceivedAt) {
				singles = append(singles, single{path: p, at: m.ReceivedAt})
			}
		}
	}
	if len(singles) > 0 {
		slices.SortStableFunc(singles, func(a, b single) int { return a.at.Compare(b.at) })
		streams = append(streams, &singleFiles{d: d, files: singles})
	}
	h := &heads{}
	for _, s := range streams {
		m, ok, err := s.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Push(h, head{m, s})
		}
	}
	for h.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		top := (*h)[0]
		if err := fn(top.m); err != nil {
			return err
		}
		m, ok, err := top.s.next()
		if err != nil {
			return err
		}
		if ok {
			(*h)[0] = head{m, top.s}
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

type single struct {
	path string
	at   time.Time
}

// readSingle reads one *.json file: an envelope, or a bare payload.
func (d Dir) readSingle(p string, body bool) (Message, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return Message{}, err
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Message{}, &DirError{File: p, Err: fmt.Errorf("not a JSON object: %w", err)}
	}
	if len(env.Body) > 0 && !env.ReceivedAt.IsZero() {
		m := Message{ID: env.ID, Source: env.Source, ReceivedAt: env.ReceivedAt}
		if m.ID == "" {
			m.ID = filepath.Base(p)
		}
		if m.Source == "" {
			m.Source = d.DefaultSource
		}
		if body {
			m.Body = env.Body
		}
		return m, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return Message{}, err
	}
	m := Message{ID: filepath.Base(p), Source: d.DefaultSource, ReceivedAt: st.ModTime().UTC()}
	if body {
		m.Body = b
	}
	return m, nil
}

type singleFiles struct {
	d     Dir
	files []single
}

func (s *singleFiles) next() (Message, bool, error) {
	if len(s.files) == 0 {
		return Message{}, false, nil
	}
	p := s.files[0].path
	s.files = s.files[1:]
	m, err := s.d.readSingle(p, true)
	return m, err == nil, err
}

func (s *singleFiles) close() {}

// lines reads a .jsonl file one envelope at a time.
type lines struct {
	path   string
	source string // of envelopes that name none
	f      *os.File
	sc     *bufio.Scanner
	n      int
	last   time.Time
}

func (l *lines) next() (Message, bool, error) {
	for l.sc.Scan() {
		l.n++
		line := bytes.TrimSpace(l.sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var env envelope
		if err := json.Unmarshal(line, &env); err != nil {
			return Message{}, false, &DirError{File: l.path, Line: l.n, Err: fmt.Errorf("not a message envelope: %w", err)}
		}
		if len(env.Body) == 0 || env.ReceivedAt.IsZero() {
			return Message{}, false, &DirError{File: l.path, Line: l.n, Err: fmt.Errorf(`want {"id", "source", "received_at", "body"}`)}
		}
		if env.ReceivedAt.Before(l.last) {
			return Message{}, false, &DirError{File: l.path, Line: l.n, Err: fmt.Errorf("received_at %s is before the line above: a file must be in time order",
				env.ReceivedAt.Format(time.RFC3339Nano))}
		}
		l.last = env.ReceivedAt
		if env.ID == "" {
			env.ID = fmt.Sprintf("%s:%d", filepath.Base(l.path), l.n)
		}
		if env.Source == "" {
			env.Source = l.source
		}
		return Message{ID: env.ID, Source: env.Source, ReceivedAt: env.ReceivedAt, Body: env.Body}, true, nil
	}
	if err := l.sc.Err(); err != nil {
		return Message{}, false, &DirError{File: l.path, Line: l.n + 1, Err: err}
	}
	return Message{}, false, nil
}

func (l *lines) close() { l.f.Close() }

type head struct {
	m Message
	s stream
}

type heads []head

func (h heads) Len() int           { return len(h) }
func (h heads) Less(i, j int) bool { return h[i].m.ReceivedAt.Before(h[j].m.ReceivedAt) }
func (h heads) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *heads) Push(x any)        { *h = append(*h, x.(head)) }
func (h *heads) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
