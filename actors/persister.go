package actors

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// Committer writes batches atomically (storage.DB.Commit).
type Committer interface {
	Commit(b *storage.Batch) error
}

// persistRetry is how often a persister holding its writes tries again.
const persistRetry = 500 * time.Millisecond

// persisterActor group-commits: while one write is in flight, requests accumulate and go out
// together in the next one. It is the only writer of events, records and job snapshots of
// running jobs, so a job's writes land in the order it sent them. It only writes and answers
// persisted: the job's journal publishes its events once told.
//
// A commit refused for low disk space (KindInsufficientStorage) fails nothing: the persister
// holds it with everything sent after it and tries again every retry until space returns.
// Nothing is acknowledged (so nothing published) meanwhile, so jobs pause by themselves: a batch starts
// no entity while a window of entity ends is unacknowledged, and a single job emits a bounded
// number of events; what is held is bounded by the work admitted (max_jobs).
type persisterActor struct {
	store   Committer
	log     *slog.Logger
	retry   time.Duration
	timers  *scheduler.TimerScheduler
	stored  func() // told after a commit that stored webhook deliveries; must not block
	pending []*persist
	writing bool
	holding bool // the last commit was refused for low space; a retryCommit is scheduled
	drains  []*actor.PID
}

func newPersister(store Committer, log *slog.Logger, retry time.Duration, webhooksStored func()) actor.Producer {
	return func() actor.Actor {
		return &persisterActor{store: store, log: log, retry: retry, stored: webhooksStored}
	}
}

func (p *persisterActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		p.timers = scheduler.NewTimerScheduler(c.ActorSystem().Root)
	case *retryCommit:
		if !p.writing && len(p.pending) > 0 {
			p.flush(c)
		}
	case *drain:
		if !p.writing && len(p.pending) == 0 {
			c.Respond(true)
			return
		}
		p.drains = append(p.drains, c.Sender())
	case *persist:
		p.pending = append(p.pending, m)
		if !p.writing && !p.holding {
			p.flush(c)
		}
	case *committed:
		p.writing = false
		if m.err != nil && enricher.IsKind(m.err, enricher.KindInsufficientStorage) {
			if !p.holding {
				p.log.Warn("disk space low: job writes held until space returns", "requests", len(m.reqs)+len(p.pending))
			}
			p.holding = true
			p.pending = append(m.reqs, p.pending...)
			p.timers.SendOnce(p.retry, c.Self(), &retryCommit{})
			return
		}
		if p.holding {
			p.holding = false
			p.log.Info("job writes resumed", "requests", len(m.reqs))
		}
		webhooks := false
		last := map[string]int{} // notify -> index of its last cumulative request in this commit
		for i, r := range m.reqs {
			if r.cumulative && r.notify != nil {
				last[r.notify.Id] = i
			}
		}
		for i, r := range m.reqs {
			if r.cumulative && r.notify != nil && last[r.notify.Id] != i {
				continue // a later request of the same journal acknowledges it
			}
			webhooks = webhooks || len(r.batch.Webhooks) > 0
			if m.err != nil {
				if r.notify != nil {
					c.Send(r.notify, &persistFailed{err: m.err})
				}
				continue
			}
			if r.notify != nil {
				c.Send(r.notify, &persisted{upTo: r.upTo})
			}
		}
		if m.err != nil {
			p.log.Error("event log write failed", "err", m.err, "requests", len(m.reqs))
		} else if webhooks && p.stored != nil {
			p.stored()
		}
		if len(p.pending) > 0 {
			p.flush(c)
			return
		}
		for _, d := range p.drains {
			c.Send(d, true)
		}
		p.drains = nil
	}
}

// flush starts one write of everything pending, in a goroutine that reports back.
func (p *persisterActor) flush(c actor.Context) {
	reqs := p.pending
	p.pending = nil
	p.writing = true
	var b storage.Batch
	last := map[string]int{} // job id -> index in b.Jobs: only a job's latest snapshot is written
	for _, r := range reqs {
		b.Records = append(b.Records, r.batch.Records...)
		b.Events = append(b.Events, r.batch.Events...)
		b.Finished = append(b.Finished, r.batch.Finished...)
		b.Started = append(b.Started, r.batch.Started...)
		b.Webhooks = append(b.Webhooks, r.batch.Webhooks...)
		for _, j := range r.batch.Jobs {
			if i, ok := last[j.ID]; ok {
				b.Jobs[i] = j
				continue
			}
			last[j.ID] = len(b.Jobs)
			b.Jobs = append(b.Jobs, j)
		}
	}
	self, root, store := c.Self(), c.ActorSystem().Root, p.store
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic in commit: %v", r)
			}
			root.Send(self, &committed{reqs: reqs, err: err})
		}()
		err = store.Commit(&b)
	}()
}
