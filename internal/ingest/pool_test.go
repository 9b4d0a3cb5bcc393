package ingest

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	body := strings.Repeat("x", 40<<10) // larger than maxPrealloc
	for _, tt := range []struct {
		name string
		in   string
		size int64
	}{
		{"declared", `{"a":1}`, 7},
		{"unknown length", `{"a":1}`, -1},
		{"declared more than sent", `{"a":1}`, 1 << 20},
		{"larger than set aside", body, int64(len(body))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(tt.in), tt.size)
			if err != nil || string(got) != tt.in {
				t.Fatalf("readBody = %d bytes, %v; want %d bytes", len(got), err, len(tt.in))
			}
			if tt.size > maxPrealloc && cap(got) > 2*(len(tt.in)+maxPrealloc) {
				t.Errorf("capacity %d for %d bytes read: set aside what was declared", cap(got), len(tt.in))
			}
		})
	}
}

func TestWriteReplyIsJSONLine(t *testing.T) {
	w := httptest.NewRecorder()
	writeReply(w, reply{Status: "queued", ID: "m1", Matched: 1, Deliveries: 2})
	writeReply(w, reply{Status: "duplicate"})
	want := `{"status":"queued","id":"m1","matched":1,"deliveries":2}` + "\n" + `{"status":"duplicate"}` + "\n"
	if w.Body.String() != want {
		t.Errorf("got %q, want %q", w.Body.String(), want)
	}
}
