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

// writerScratch holds buffers the group-commit writer reuses from batch
// to batch; only the writer goroutine touches them. They are cleared
// after each use, so that they keep no message alive, and dropped when a
// rare large batch made them large.
type writerScratch struct {
	args []any
	rows []deliveryRow
}

// maxScratch is the most elements a scratch buffer keeps between batches:
// a full batch of maxShape rows of the widest statement.
const maxScratch = maxShape * deliveryColumns

func clearArgs(args []any) []any {
	if cap(args) > maxScratch {
		return nil
	}
	clear(args)
	return args[:0]
}

func clearRows(rows []deliveryRow) []deliveryRow {
	if cap(rows) > maxScratch {
		return nil
	}
	clear(rows)
	return rows[:0]
}
