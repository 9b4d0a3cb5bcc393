package web

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/secret"
)

// An in-process call reaches the handler as a remote client's request
// would (token, escaped path, query, If-Match, JSON body) and returns the
// status, headers and body the handler wrote.
func TestInProcessCall(t *testing.T) {
	var got struct {
		method, path, rawPath, query, auth, ifMatch, ctype, body string
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /api/v1/rules/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.path, got.rawPath, got.query = r.Method, r.PathValue("name"), r.URL.EscapedPath(), r.URL.RawQuery
		got.auth, got.ifMatch, got.ctype, got.body = r.Header.Get("Authorization"), r.Header.Get("If-Match"), r.Header.Get("Content-Type"), string(b)
		w.Header().Set("ETag", `"v2"`)
		w.WriteHeader(http.StatusConflict)
		w.WriteHeader(http.StatusOK) // ignored, as by a server
		_, _ = w.Write([]byte(`{"error":"stale"}`))
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	admin := InProcess(mux, secret.String("tok-123"))
	rep, err := admin.Call(context.Background(), AdminRequest{Method: http.MethodPut, Path: "/api/v1/rules/big invoice?dry=1",
		IfMatch: "v1", Body: []byte(`{"name":"n"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got.path != "big invoice" || got.rawPath != "/api/v1/rules/big%20invoice" || got.query != "dry=1" ||
		got.auth != "Bearer tok-123" || got.ifMatch != "v1" || got.ctype != "application/json" || got.body != `{"name":"n"}` {
		t.Fatalf("the handler saw %+v", got)
	}
	if rep.Code != http.StatusConflict || rep.Header.Get("ETag") != `"v2"` || string(rep.Body) != `{"error":"stale"}` {
		t.Fatalf("reply %d %v %s", rep.Code, rep.Header, rep.Body)
	}
	rep, err = admin.Call(context.Background(), AdminRequest{Method: http.MethodGet, Path: "/api/v1/status"})
	if err != nil || rep.Code != http.StatusOK || string(rep.Body) != `{"ok":true}` {
		t.Fatalf("a body without a status is a 200: %d %s (%v)", rep.Code, rep.Body, err)
	}
	if _, err := admin.Call(context.Background(), AdminRequest{Method: "BAD METHOD", Path: "/"}); err == nil {
		t.Fatal("a request that cannot be built gives no error")
	}
}
