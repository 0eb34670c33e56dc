package actors

import (
	"encoding/json"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/entity-enricher/enricher"
)

// EntityStore keeps the entities of batch jobs by index under the job id (storage.DB, in
// blocks of consecutive entities).
// Every batch reads its entities from here, whichever form it was started with.
type EntityStore interface {
	// PutEntities stores the compact JSON of entities as indices from, from+1, ... of job.
	PutEntities(job string, from int, entities [][]byte) error
	// EntitiesAt returns the entities of job at indices, in that order.
	EntitiesAt(job string, indices []int) ([][]byte, error)
	// DeleteEntities removes every entity of job.
	DeleteEntities(job string) error
}

// entityWindow is how many entities a batch reads from storage at once, and how many it keeps
// read ahead of the ones it starts.
const entityWindow = 256

// entitySource hands a batch actor its entities in index order. It keeps the indices still to
// start and at most two windows of entity data read ahead; reads run in a goroutine that
// reports back to the actor with entitiesRead, so the actor never waits on storage. Owned by
// one batch actor; not safe for concurrent use.
type entitySource struct {
	store   EntityStore
	job     string
	order   []int    // indices not started yet, ascending
	ahead   [][]byte // data of order[:len(ahead)]
	reading bool     // a read of the indices after ahead is in flight
}

// remaining is the number of entities not started yet.
func (s *entitySource) remaining() int { return len(s.order) }

// ready reports whether the next entity's data is at hand.
func (s *entitySource) ready() bool { return len(s.ahead) > 0 }

// next takes the next entity: its index and its decoded data.
func (s *entitySource) next() (int, map[string]any, error) {
	i, raw := s.order[0], s.ahead[0]
	s.order, s.ahead = s.order[1:], s.ahead[1:]
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return i, nil, fmt.Errorf("entity %d: %w", i, err)
	}
	return i, m, nil
}

// drop forgets every entity not started yet (cancel) and returns how many there were.
func (s *entitySource) drop() int {
	n := len(s.order)
	s.order, s.ahead = nil, nil
	return n
}

// prefetch starts the read of the next window when less than a window is read ahead and no
// read is in flight. The goroutine ends after one read; its answer goes to the actor.
func (s *entitySource) prefetch(c actor.Context) {
	if s.reading || len(s.ahead) >= entityWindow || len(s.order) == len(s.ahead) {
		return
	}
	from := len(s.ahead)
	indices := append([]int(nil), s.order[from:min(len(s.order), from+entityWindow)]...)
	s.reading = true
	self, root, store, job := c.Self(), c.ActorSystem().Root, s.store, s.job
	go func() {
		data, err := store.EntitiesAt(job, indices)
		root.Send(self, &entitiesRead{indices: indices, data: data, err: err})
	}()
}

// took adds a finished read. It returns the indices of a failed read, which the batch ends as
// failed entities; a read that no longer matches (the batch was cancelled meanwhile) is
// ignored.
func (s *entitySource) took(m *entitiesRead) (failed []int) {
	s.reading = false
	from := len(s.ahead)
	if len(m.indices) == 0 || from >= len(s.order) || s.order[from] != m.indices[0] {
		return nil
	}
	if m.err != nil {
		// the failed indices leave the order: the caller counts them as ended
		s.order = append(s.order[:from:from], s.order[from+len(m.indices):]...)
		return m.indices
	}
	s.ahead = append(s.ahead, m.data...)
	return nil
}

// entitiesRead takes a window read from storage and starts what it can.
func (b *batchActor) entitiesRead(c actor.Context, m *entitiesRead) {
	if b.finished {
		return
	}
	for _, i := range b.src.took(m) {
		b.unreadable(c, i, m.err)
	}
	b.fill(c)
	b.maybeEnd(c)
}

// unreadable ends entity i as failed because its data could not be read back from storage.
func (b *batchActor) unreadable(c actor.Context, i int, err error) {
	b.in.Log.Error("batch entity unreadable", "job_id", b.job.ID, "entity_index", i, "err", err)
	msg := "the entity could not be read from storage"
	idx := i
	label := enricher.EntityName(b.in.Schema, nil, &idx)
	b.finishEntity(c, i, label, enricher.EntityCompletedEvent{ErrorMessage: &msg, Results: []enricher.ModelResult{}}, false, false, nil)
}
