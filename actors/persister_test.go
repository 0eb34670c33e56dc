package actors

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// fullDisk is a Committer that refuses every commit while low is set, as storage does when
// free space is low, and keeps the events of the commits it accepts.
type fullDisk struct {
	low     atomic.Bool
	refused atomic.Int64
	mu      sync.Mutex
	seqs    []int64
}

func (d *fullDisk) Commit(b *storage.Batch) error {
	if d.low.Load() {
		d.refused.Add(1)
		return enricher.Errorf(enricher.KindInsufficientStorage, "low on disk space")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range b.Events {
		d.seqs = append(d.seqs, e.Seq)
	}
	return nil
}

func (d *fullDisk) stored() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]int64(nil), d.seqs...)
}

// TestPersisterHoldsWritesOnLowSpace: commits refused for low space fail nothing; the
// persister holds them (and what comes after, in order) and writes them all once space is back.
func TestPersisterHoldsWritesOnLowSpace(t *testing.T) {
	t.Parallel()
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	disk := &fullDisk{}
	disk.low.Store(true)
	p := sys.Root.Spawn(actor.PropsFromProducer(newPersister(disk, slog.New(slog.DiscardHandler), 5*time.Millisecond, nil)))
	replies := make(chan any, 16)
	probe := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *persisted, *persistFailed:
			replies <- m
		}
	}))
	for seq := int64(1); seq <= 5; seq++ {
		sys.Root.Send(p, &persist{batch: storage.Batch{Events: []storage.EventEntry{{JobID: "j", Seq: seq, Data: []byte("{}")}}},
			notify: probe, upTo: seq})
	}
	require.Eventually(t, func() bool { return disk.refused.Load() >= 3 }, 5*time.Second, time.Millisecond, "the persister keeps trying")
	select {
	case m := <-replies:
		t.Fatalf("nothing is acknowledged nor failed while space is low; got %T", m)
	default:
	}
	require.Empty(t, disk.stored())

	disk.low.Store(false)
	for seq := int64(1); seq <= 5; seq++ {
		select {
		case m := <-replies:
			require.Equal(t, &persisted{upTo: seq}, m, "acknowledged in order once stored")
		case <-time.After(5 * time.Second):
			t.Fatalf("no acknowledgement for seq %d", seq)
		}
	}
	require.Equal(t, []int64{1, 2, 3, 4, 5}, disk.stored(), "every held write lands, once, in order")
	res, err := sys.Root.RequestFuture(p, &drain{}, time.Second).Result()
	require.NoError(t, err)
	require.Equal(t, true, res)
}

// TestPersisterCumulativeAcks: the requests of a journal (cumulative) written in one commit
// get one persisted, for the last of them; other requests get one each.
func TestPersisterCumulativeAcks(t *testing.T) {
	t.Parallel()
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	disk := &fullDisk{}
	disk.low.Store(true) // held, then written in one commit
	p := sys.Root.Spawn(actor.PropsFromProducer(newPersister(disk, slog.New(slog.DiscardHandler), 5*time.Millisecond, nil)))
	probe := func(replies chan any) *actor.PID {
		return sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if m, ok := c.Message().(*persisted); ok {
				replies <- m
			}
		}))
	}
	journal, plain := make(chan any, 16), make(chan any, 16)
	j, o := probe(journal), probe(plain)
	for seq := int64(1); seq <= 4; seq++ {
		ev := []storage.EventEntry{{JobID: "j", Seq: seq, Data: []byte("{}")}}
		sys.Root.Send(p, &persist{batch: storage.Batch{Events: ev}, notify: j, upTo: seq, cumulative: true})
		sys.Root.Send(p, &persist{batch: storage.Batch{Events: []storage.EventEntry{{JobID: "o", Seq: seq, Data: []byte("{}")}}}, notify: o, upTo: seq})
	}
	require.Eventually(t, func() bool { return disk.refused.Load() >= 1 }, 5*time.Second, time.Millisecond)
	disk.low.Store(false)
	for seq := int64(1); seq <= 4; seq++ {
		require.Equal(t, &persisted{upTo: seq}, <-plain, "one acknowledgement per plain request")
	}
	require.Equal(t, &persisted{upTo: 4}, <-journal, "one acknowledgement for the journal's four requests")
	res, err := sys.Root.RequestFuture(p, &drain{}, time.Second).Result()
	require.NoError(t, err)
	require.Equal(t, true, res)
	select {
	case m := <-journal:
		t.Fatalf("a second acknowledgement for the journal: %v", m)
	default:
	}
}
