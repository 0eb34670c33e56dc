package actors

import (
	"sync"

	"github.com/entity-enricher/enricher"
)

// maxPooledEncodeBuf is the capacity above which an encoding buffer is not kept for reuse
// (one huge result must not pin its buffer).
const maxPooledEncodeBuf = 64 << 10

// encodeBufs holds scratch buffers for encodeExact; any goroutine may use it.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// encodeExact runs appendTo on a pooled scratch buffer and returns a copy of what it appended
// in a slice of exactly that size (one allocation, instead of the growth of a buffer from nil):
// the result is the caller's to keep. An error of appendTo is returned as is, with a nil slice.
// Safe for concurrent use.
func encodeExact(appendTo func(dst []byte) ([]byte, error)) ([]byte, error) {
	bp := encodeBufs.Get().(*[]byte)
	b, err := appendTo((*bp)[:0])
	var out []byte
	if err == nil {
		out = make([]byte, len(b))
		copy(out, b)
	}
	if cap(b) <= maxPooledEncodeBuf {
		*bp = b[:0]
		encodeBufs.Put(bp)
	}
	return out, err
}

// encodeJSON returns json.Marshal(v)'s bytes and error, encoded by enricher.AppendJSON into an
// exactly sized slice.
func encodeJSON(v any) ([]byte, error) {
	return encodeExact(func(dst []byte) ([]byte, error) { return enricher.AppendJSON(dst, v) })
}
