package llmtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// DefaultBatchDelay is how long a fake's batch runs before it ends on its own, unless the
// fake's SetBatchDelay changed it.
const DefaultBatchDelay = 20 * time.Millisecond

// lineStall bounds a scripted stall of a batch line.
const lineStall = 100 * time.Millisecond

// batchStore holds the batches of one fake server in the test process's memory, so they
// outlive a server process under test that is killed and restarted. A batch ends when its
// delay has passed (noticed at the next call that reads it) or when the test calls End;
// ending answers every line with the fake's normal answer logic, once. It is safe for
// concurrent use.
type batchStore struct {
	prefix string                               // batch id prefix
	answer func(line fakeBatchLine) fakeOutcome // the fake's answer to one line

	mu       sync.Mutex
	delay    time.Duration
	seq      int
	batches  map[string]*fakeBatch
	batchN   int // batches submitted
	requestN int // lines submitted
}

// fakeBatchLine is one request of a batch: its custom id and the body a realtime call
// would have sent (for Gemini: to Model).
type fakeBatchLine struct {
	CustomID string
	Model    string
	Body     []byte
}

// fakeOutcome is the answer the fake's realtime endpoint gave to a line.
type fakeOutcome struct {
	CustomID string
	Status   int
	Body     []byte
}

// fakeBatch is one batch.
type fakeBatch struct {
	id        string
	created   time.Time
	endAt     time.Time
	lines     []fakeBatchLine
	cancel    bool // cancel requested
	ended     bool
	cancelled bool // ended by a cancel, before its lines ran
	endedAt   time.Time
	outcomes  []fakeOutcome
	extra     map[string]string // per-fake data (e.g. OpenAI's file ids)
}

func newBatchStore(prefix string, answer func(fakeBatchLine) fakeOutcome) *batchStore {
	return &batchStore{prefix: prefix, answer: answer, delay: DefaultBatchDelay, batches: map[string]*fakeBatch{}}
}

// setDelay sets the delay of batches submitted from now on; a negative delay means they end
// only by End.
func (b *batchStore) setDelay(d time.Duration) {
	b.mu.Lock()
	b.delay = d
	b.mu.Unlock()
}

// submit stores a new batch of lines and returns it.
func (b *batchStore) submit(lines []fakeBatchLine, extra map[string]string) *fakeBatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	now := time.Now()
	fb := &fakeBatch{id: fmt.Sprintf("%s%06d", b.prefix, b.seq), created: now, lines: lines, extra: extra}
	if b.delay >= 0 {
		fb.endAt = now.Add(b.delay)
	}
	b.batches[fb.id] = fb
	b.batchN++
	b.requestN += len(lines)
	return fb
}

// get returns a snapshot of batch id after advancing it, or nil when unknown.
func (b *batchStore) get(id string) *fakeBatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	fb := b.batches[id]
	if fb == nil {
		return nil
	}
	b.advance(fb, time.Now(), false)
	cp := *fb
	return &cp
}

// cancelBatch asks batch id to cancel; it ends, without results, at its next read. Nil when
// unknown.
func (b *batchStore) cancelBatch(id string) *fakeBatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	fb := b.batches[id]
	if fb == nil {
		return nil
	}
	if !fb.ended {
		fb.cancel = true
	}
	cp := *fb
	return &cp
}

// advance ends fb when its time has come, it was cancelled, or force; b.mu is held.
func (b *batchStore) advance(fb *fakeBatch, now time.Time, force bool) {
	if fb.ended {
		return
	}
	switch {
	case fb.cancel:
		fb.cancelled = true
	case force || !fb.endAt.IsZero() && !now.Before(fb.endAt):
		for _, l := range fb.lines {
			out := b.answer(l)
			out.CustomID = l.CustomID
			fb.outcomes = append(fb.outcomes, out)
		}
	default:
		return
	}
	fb.ended, fb.endedAt = true, now
}

// end ends every open batch now (answering its lines) and returns how many it ended.
func (b *batchStore) end() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, fb := range b.batches {
		if !fb.ended {
			b.advance(fb, time.Now(), true)
			n++
		}
	}
	return n
}

// counts returns the batches and requests submitted so far.
func (b *batchStore) counts() (batches, requests int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.batchN, b.requestN
}

// serveLine runs handler, a fake's realtime endpoint, on one line as a request of method to
// path with header, and returns its answer. A scripted stall ends after lineStall with
// nothing, which is a 500 outcome.
func serveLine(handler http.HandlerFunc, method, path string, header http.Header, body []byte) fakeOutcome {
	ctx, cancel := context.WithTimeout(context.Background(), lineStall)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	req.Header = header.Clone()
	rec := httptest.NewRecorder()
	handler(rec, req)
	out := fakeOutcome{Status: rec.Code, Body: bytes.TrimSpace(rec.Body.Bytes())}
	if len(out.Body) == 0 {
		out.Status = http.StatusInternalServerError
	}
	return out
}
