package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/secret"
)

// Admin is the admin API as the editor uses it: every page the editor
// shows is read from it and every change the editor makes is written
// through it, so the editor takes the same validated path as any other
// client and owns no state of its own.
type Admin interface {
	// Call sends one request and returns the answer, whatever its
	// status; the error is for a request that could not be made.
	Call(ctx context.Context, req AdminRequest) (AdminReply, error)
}

// AdminRequest is one call of the admin API.
type AdminRequest struct {
	Method string
	// Path is the route with its query ("/api/v1/rules?x=y"); the part
	// before "?" is escaped as a path.
	Path string
	// IfMatch, if set, is sent as If-Match (the rules file's version).
	IfMatch string
	// Body is the JSON body, or nil.
	Body []byte
}

// AdminReply is an answer of the admin API.
type AdminReply struct {
	Code   int
	Header http.Header
	Body   []byte
}

// InProcess returns the admin API served by h (the server's own mux),
// called in process with the admin token: no socket, no second
// listener, the same authentication and handlers as a remote client.
func InProcess(h http.Handler, token secret.String) Admin {
	return inProcess{h: h, token: token}
}

type inProcess struct {
	h     http.Handler
	token secret.String
}

// Call builds the request as a remote client would send it and serves it
// with h into an in-memory answer.
func (c inProcess) Call(ctx context.Context, in AdminRequest) (AdminReply, error) {
	p, q, _ := strings.Cut(in.Path, "?")
	var body io.Reader = http.NoBody
	if in.Body != nil {
		body = bytes.NewReader(in.Body)
	}
	req, err := http.NewRequestWithContext(ctx, in.Method, (&url.URL{Path: p, RawQuery: q}).String(), body)
	if err != nil {
		return AdminReply{}, fmt.Errorf("build request: %w", err)
	}
	req.Host = "switchboard.internal"
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	if in.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if in.IfMatch != "" {
		req.Header.Set("If-Match", in.IfMatch)
	}
	w := &replyWriter{header: http.Header{}}
	c.h.ServeHTTP(w, req)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return AdminReply{Code: w.code, Header: w.header, Body: w.body.Bytes()}, nil
}

// replyWriter is the http.ResponseWriter an in-process call is served
// into: the status, the headers and the body, in memory.
type replyWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

// Header returns the answer's headers.
func (w *replyWriter) Header() http.Header { return w.header }

// WriteHeader records the status; like a server, only the first counts.
func (w *replyWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

// Write appends to the body, with status 200 if none was written.
func (w *replyWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(b)
}
