package ingest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// readBody reads a request body. When the sender declared its length (Lago
// does), the body is read into one buffer of that size instead of one
// grown by doubling: a 2.7 KB body then costs one allocation, not six
// totalling three times its size. size is at most the source's max_body;
// the reader enforces it whatever the header said. At most maxPrealloc
// is set aside before the bytes arrive, so that a sender declaring a large
// body and sending little holds no more than what it sent, plus that.
func readBody(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 {
		return io.ReadAll(r)
	}
	var b bytes.Buffer
	// MinRead more: ReadFrom reads until EOF and grows when less than
	// MinRead bytes are free.
	b.Grow(int(min(size, maxPrealloc)) + bytes.MinRead)
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// maxPrealloc is the most readBody sets aside for a declared length.
const maxPrealloc = 16 << 10

// replyWriter is a reusable buffer with its JSON encoder for answers.
type replyWriter struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// replyWriters holds encoders between answers; answers are small, so
// every buffer goes back.
var replyWriters = sync.Pool{New: func() any {
	rw := new(replyWriter)
	rw.enc = json.NewEncoder(&rw.buf)
	return rw
}}

// writeReply writes rep as JSON (with a trailing newline, as
// json.Encoder does) in one Write.
func writeReply(w http.ResponseWriter, rep reply) {
	rw := replyWriters.Get().(*replyWriter)
	rw.buf.Reset()
	if err := rw.enc.Encode(rep); err == nil {
		_, _ = w.Write(rw.buf.Bytes())
	}
	replyWriters.Put(rw)
}
