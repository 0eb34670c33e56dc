package api

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Request and response bodies larger than these are not kept in fasthttp's buffer pools for
// reuse: a burst of big bodies would otherwise pin their buffers until the pools are emptied
// by two garbage collections, which an idle server may not run for minutes.
const (
	pooledRequestBodyBytes  = 256 << 10
	pooledResponseBodyBytes = 1 << 20
)

// bigBodyBytes is the request body size from which the server gives memory back to the
// operating system once the burst is over.
const bigBodyBytes = 1 << 20

// memoryRelief returns memory to the operating system after bursts of large request bodies,
// so the resident set comes back near its idle level within seconds instead of staying at the
// peak until the runtime's own periodic collection and scavenging catch up. Requests note
// their body size (safe for concurrent use); the server's background loop calls release.
type memoryRelief struct {
	lastBig atomic.Int64  // unix nanoseconds of the last big body; 0 once released
	quiet   time.Duration // how long no big body must arrive before release
	release func()        // debug.FreeOSMemory; a seam for tests
}

func newMemoryRelief() *memoryRelief {
	// The body pools are fasthttp's, shared by the process: capping what they keep is a
	// process-wide setting, made here because this server is what fills them.
	fasthttp.SetBodySizePoolLimit(pooledRequestBodyBytes, pooledResponseBodyBytes)
	return &memoryRelief{quiet: 2 * time.Second, release: debug.FreeOSMemory}
}

// note records a request body of n bytes.
func (m *memoryRelief) note(n int) {
	if n >= bigBodyBytes {
		m.lastBig.Store(time.Now().UnixNano())
	}
}

// loop releases memory once no big body has arrived for m.quiet. It runs until ctx is done.
func (m *memoryRelief) loop(ctx context.Context, done func()) {
	defer done()
	t := time.NewTicker(m.quiet / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			last := m.lastBig.Load()
			if last != 0 && time.Since(time.Unix(0, last)) >= m.quiet && m.lastBig.CompareAndSwap(last, 0) {
				m.release() // one collection plus scavenging; at most once per quiet spell
			}
		}
	}
}
