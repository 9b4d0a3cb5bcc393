package store

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// partsBuffer is a reusable buffer with its JSON encoder: encoding a
// delivery's parts on the ingest path reuses both instead of allocating
// a fresh encoder state and output slice per delivery.
type partsBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledBuffer is the largest buffer put back in the pool: a rare
// huge body must not stay pinned in memory.
const maxPooledBuffer = 64 << 10

var partsBuffers = sync.Pool{New: func() any {
	b := new(partsBuffer)
	b.enc = json.NewEncoder(&b.buf)
	return b
}}

// encodeParts returns the JSON of p, as json.Marshal would.
func encodeParts(p *notifiers.Parts) (string, error) {
	b := partsBuffers.Get().(*partsBuffer)
	b.buf.Reset()
	err := b.enc.Encode(p)
	var out string
	if err == nil {
		// Encode ends the value with a newline; Marshal does not.
		out = string(bytes.TrimSuffix(b.buf.Bytes(), []byte{'\n'}))
	}
	if b.buf.Cap() <= maxPooledBuffer {
		partsBuffers.Put(b)
	}
	return out, err
}
