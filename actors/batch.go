package actors

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// batchInput is what a batch actor starts with. Read-only.
type batchInput struct {
	Job        *enricher.Job
	Spec       *enricher.EnrichSpec
	Schema     *enricher.Schema
	SchemaHash string
	Answers    *answerSchemas
	Models     []enricher.ModelInfo
	Classifier *enricher.ModelInfo
	Arbiter    *enricher.ModelInfo
	Providers  map[string]*actor.PID
	Journal    journalDeps
	Window     int
	Finished   []int       // entities that ended before a restart
	Gates      gates       // provider room (provider_queue)
	Need       callNeed    // calls one entity may hold at once
	Entities   EntityStore // where the batch's Spec.EntityCount entities are stored
	Log        *slog.Logger
	// Recovered holds the records of entities in flight before a restart, by entity index;
	// Started lists the entities that had announced their start then.
	Recovered map[int][]*enricher.Record
	Started   []int
	// Collectors are the provider batch collectors to spawn, one per model (execution
	// provider_batch; provbatch.go): the entities' calls go to them.
	Collectors []provBatchConfig
}

// batchActor runs a batch: at most Window entity jobs in flight, in ascending
// index order; it is the only writer of the batch's event sequence, numbering its own events
// and those its entity jobs forward. Entity results go to the store with their events; the
// actor keeps only counters and a bitmap of finished entities, so memory does not grow with
// the batch. Entity data comes from storage, a window at a time (batch_source.go).
type batchActor struct {
	in        *batchInput
	job       *enricher.Job
	src       entitySource // entities still to start
	labels    map[int]string
	inflight  map[int]*actor.PID
	running   map[int][]string
	current   *string
	attempt   int
	lastError *string
	cancel    *cancelJob
	waiters   []*actor.PID
	finished  bool
	done      []byte // bitmap of ended entities; stored as marks, not in the job snapshot
	journal   *journal
	unstored  []int64 // seqs of the entity_completed events not yet stored: new entities wait while many
	// resumed holds the records of entities in flight before a restart, until they start;
	// announced the entities that had emitted entity_started then.
	resumed   map[int][]*enricher.Record
	announced map[int]bool
	room      entityRoom
	retrying  bool // a retryFill is scheduled
	timers    *scheduler.TimerScheduler
	route     map[string]*actor.PID // provider batch collectors by model key (provider_batch)
}

// roomRetry is how long a batch without provider room waits before it tries again.
const roomRetry = 50 * time.Millisecond

func newBatchActor(in *batchInput) actor.Producer {
	return func() actor.Actor {
		return &batchActor{in: in, inflight: map[int]*actor.PID{}, running: map[int][]string{}, labels: map[int]string{}}
	}
}

func (b *batchActor) Receive(c actor.Context) {
	defer b.flushJournal(c)
	switch m := c.Message().(type) {
	case *actor.Started:
		b.room = entityRoom{gates: b.in.Gates, need: b.in.Need}
		b.timers = scheduler.NewTimerScheduler(c.ActorSystem().Root)
		for _, cfg := range b.in.Collectors {
			if b.route == nil {
				b.route = map[string]*actor.PID{}
			}
			b.route[cfg.Model] = c.Spawn(actor.PropsFromProducer(newProvBatchActor(cfg)))
		}
		b.start(c)
	case *actor.Stopping:
		b.room.close()
		if b.journal != nil {
			b.journal.stop()
		}
	case *subscribe, *rejoinLive, *unsubscribe:
		b.journal.serve(c, m)
	case *retryFill:
		b.retrying = false
		b.fill(c)
	case *entityEvent:
		b.entityEvent(c, m)
	case *entityDone:
		b.entityFinished(c, m)
	case *entitiesRead:
		b.entitiesRead(c, m)
	case *providerBatchNotice:
		if !b.finished {
			b.emit(c, m.Type, m.Payload, nil)
		}
	case *cancelJob:
		if b.finished {
			c.Respond(&jobReply{Err: enricher.Errorf(enricher.KindConflict, "job already finished")})
			return
		}
		b.waiters = append(b.waiters, c.Sender())
		if b.cancel != nil {
			return
		}
		b.cancel = m
		*b.job.SkippedEntities += b.src.drop() // never started
		for _, pid := range b.inflight {
			c.Send(pid, &cancelJob{Reason: m.Reason})
		}
		for _, pid := range b.route {
			c.Send(pid, &cancelProviderBatches{})
		}
		b.maybeEnd(c)
	case *continueJob:
		c.Respond(&jobReply{Err: enricher.Errorf(enricher.KindConflict, "job is not paused (status %s)", b.job.Status)})
	case *persisted:
		ended := b.journal.stored(m.upTo)
		n := 0
		for n < len(b.unstored) && b.unstored[n] <= m.upTo {
			n++
		}
		b.unstored = b.unstored[:copy(b.unstored, b.unstored[n:])]
		if ended {
			for _, w := range b.waiters {
				c.Send(w, &jobReply{Status: b.job.Status})
			}
			c.Send(c.Parent(), &jobFinished{JobID: b.job.ID, OrgID: b.job.OrganizationID, Status: b.job.Status, Ended: true})
		} else if n > 0 {
			b.fill(c)
		}
	case *persistFailed:
		b.in.Log.Error("batch cannot store its events", "job_id", b.job.ID, "err", m.err)
		c.Send(c.Parent(), &jobFinished{JobID: b.job.ID, OrgID: b.job.OrganizationID, Status: b.job.Status})
	}
}

func (b *batchActor) start(c actor.Context) {
	j := *b.in.Job
	b.job = &j
	b.journal = newJournal(b.job, b.in.Journal)
	if b.job.RecordIDs == nil {
		b.job.RecordIDs = []string{}
	}
	n := b.in.Spec.EntityCount
	total := n
	if b.in.Spec.SelectedIndices != nil {
		total = len(b.in.Spec.SelectedIndices)
	}
	if b.job.TotalEntities == nil {
		b.job.TotalEntities, b.job.CompletedEntities, b.job.FailedEntities, b.job.SkippedEntities = &total, ptrInt(0), ptrInt(0), ptrInt(0)
	}
	b.resumeEntities()
	b.done = make([]byte, (n+7)/8)
	for _, i := range b.in.Finished {
		setBit(b.done, i)
	}
	b.src = entitySource{store: b.in.Entities, job: b.job.ID, order: make([]int, 0, total-len(b.in.Finished))}
	if b.in.Spec.SelectedIndices != nil {
		for _, i := range b.in.Spec.SelectedIndices {
			if !bitSet(b.done, i) {
				b.src.order = append(b.src.order, i)
			}
		}
	} else {
		for i := range n {
			if !bitSet(b.done, i) {
				b.src.order = append(b.src.order, i)
			}
		}
	}
	if b.job.StartedAt == nil {
		b.job.StartedAt = enricher.NewTimePtr(b.in.Journal.cfg.Now())
	}
	b.job.Status = enricher.JobRunning
	if b.job.LastSeq == 0 {
		b.emit(c, enricher.EventBatchStarted, enricher.BatchStartedEvent{SelectedIndices: b.in.Spec.SelectedIndices}, nil)
	}
	b.fill(c)
	b.maybeEnd(c)
}

func ptrInt(v int) *int { return &v }

func bitSet(bm []byte, i int) bool { return i/8 < len(bm) && bm[i/8]&(1<<(i%8)) != 0 }

func setBit(bm []byte, i int) {
	if i/8 < len(bm) {
		bm[i/8] |= 1 << (i % 8)
	}
}

// fill starts entities until the window is full. It waits while more than a window of entity
// ends are not stored yet, so a batch never runs ahead of its event log (bounded memory), and
// while the next entity is still being read from storage, and while its providers have no room
// for an entity's calls (backpressure: it tries again after roomRetry, and an entity ending
// makes room too).
func (b *batchActor) fill(c actor.Context) {
	for len(b.inflight) < b.in.Window && b.src.ready() && b.cancel == nil && len(b.unstored) < b.in.Window {
		if !b.room.take() {
			if !b.retrying {
				b.retrying = true
				b.timers.SendOnce(roomRetry, c.Self(), &retryFill{})
			}
			break
		}
		i, data, err := b.src.next()
		if err != nil {
			b.room.give()
			b.unreadable(c, i, err)
			continue
		}
		b.startEntity(c, i, data)
		if _, running := b.inflight[i]; !running { // ended at once (no search key)
			b.room.give()
		}
	}
	if b.cancel == nil {
		b.src.prefetch(c)
	}
	if b.src.remaining() == 0 || b.cancel != nil {
		b.room.setWaiting(false)
	}
}

// startEntity runs the single-entity pipeline on entity i as a child job actor.
func (b *batchActor) startEntity(c actor.Context, i int, data map[string]any) {
	clean, _ := enricher.StripSimDirective(data)
	idx := i
	label := enricher.EntityName(b.in.Schema, clean, &idx)
	b.labels[i] = label
	recovered := b.announce(c, i, label)
	if err := enricher.CheckSearchKeys(b.in.Schema, clean); err != nil {
		msg := enricher.PublicMessage(err)
		b.finishEntity(c, i, label, enricher.EntityCompletedEvent{ErrorMessage: &msg, Results: []enricher.ModelResult{}}, false, false, nil)
		return
	}
	spec := *b.in.Spec
	spec.Entities, spec.SelectedIndices, spec.EntityData, spec.Sync = nil, nil, data, true
	pseudo := &enricher.Job{ID: b.job.ID, OrganizationID: b.job.OrganizationID, Type: b.job.Type, CreatedBy: b.job.CreatedBy,
		Status: enricher.JobRunning, TotalModels: len(b.in.Models), RecordIDs: []string{}}
	in := &jobInput{Job: pseudo, Spec: &spec, Schema: b.in.Schema, SchemaHash: b.in.SchemaHash, Answers: b.in.Answers, Models: b.in.Models, Classifier: b.in.Classifier,
		Arbiter: b.in.Arbiter, Providers: b.in.Providers, Route: b.route, Cfg: b.in.Journal.cfg, Log: b.in.Log, Entity: &idx, Recovered: recovered}
	b.inflight[i] = c.Spawn(actor.PropsFromProducer(newJobActor(in)))
}

// entityEvent numbers and stores an event an entity job forwarded.
func (b *batchActor) entityEvent(c actor.Context, m *entityEvent) {
	b.running[m.Index] = m.Running
	b.current, b.attempt = m.Current, m.Attempt
	if m.LastError != nil {
		b.lastError = m.LastError
	}
	if m.Type == enricher.EventModelCompleted {
		b.job.CompletedModels++
	}
	for _, r := range m.Records {
		b.addRecord(r)
	}
	b.emit(c, m.Type, m.Payload, m.Records)
}

func (b *batchActor) addRecord(r *enricher.Record) {
	b.job.RecordCount++
	if len(b.job.RecordIDs) < 1000 {
		b.job.RecordIDs = append(b.job.RecordIDs, r.ID)
	}
}

// entityFinished turns an entity job's end into entity_completed.
func (b *batchActor) entityFinished(c actor.Context, m *entityDone) {
	if pid, ok := b.inflight[m.Index]; ok {
		c.Stop(pid)
		delete(b.inflight, m.Index)
		b.room.give()
	}
	delete(b.running, m.Index)
	o := m.Outcome
	label := b.labels[m.Index]
	delete(b.labels, m.Index)
	ev := enricher.EntityCompletedEvent{Results: o.PerModelResults, Fusion: o.Fusion, CostUSD: o.CostUSD, ProcessingTimeMS: o.ProcessingTimeMS}
	if ev.Results == nil {
		ev.Results = []enricher.ModelResult{}
	}
	for _, r := range m.Records {
		b.addRecord(r)
		o.CostUSD += r.CostUSD
	}
	ev.CostUSD = o.CostUSD
	b.job.CostUSD += o.CostUSD
	b.job.InputTokens += o.InputTokens
	b.job.OutputTokens += o.OutputTokens
	skipped := m.Reason == enricher.ReasonClassificationMismatch
	if m.Reason == "" && o.Success {
		ev.FinalResult, ev.FinalRecordID = o.Result, o.RecordID
	} else if !skipped && m.Reason == "" {
		msg := "every model failed"
		if len(o.FailedModels) > 0 && o.FailedModels[0].ErrorMessage != nil {
			msg = *o.FailedModels[0].ErrorMessage
		}
		ev.ErrorMessage = &msg
	}
	if m.Reason != "" && !skipped { // cancelled with the batch: counts as skipped, no entity_completed
		setBit(b.done, m.Index)
		*b.job.SkippedEntities++
		b.journal.write(c, storage.Batch{Records: m.Records, Finished: []storage.EntityMark{{JobID: b.job.ID, Index: m.Index}}})
		b.maybeEnd(c)
		return
	}
	b.finishEntity(c, m.Index, label, ev, m.Reason == "" && o.Success, skipped, m.Records)
}

// finishEntity counts an entity and emits its entity_completed, then starts the next ones.
func (b *batchActor) finishEntity(c actor.Context, i int, label string, ev enricher.EntityCompletedEvent, success, skipped bool, records []*enricher.Record) {
	setBit(b.done, i)
	delete(b.labels, i)
	switch {
	case success:
		*b.job.CompletedEntities++
	case skipped:
		*b.job.SkippedEntities++
	default:
		*b.job.FailedEntities++
	}
	ev.EntityIndex, ev.EntityLabel, ev.Success, ev.Skipped = i, label, success, skipped
	seq := b.emitWith(c, enricher.EventEntityCompleted, ev, storage.Batch{Records: records,
		Finished: []storage.EntityMark{{JobID: b.job.ID, Index: i}}})
	b.unstored = append(b.unstored, seq)
	b.fill(c)
	b.maybeEnd(c)
}

// maybeEnd ends the batch once nothing is in flight and nothing is left to start.
func (b *batchActor) maybeEnd(c actor.Context) {
	if b.finished || len(b.inflight) > 0 || (b.src.remaining() > 0 && b.cancel == nil) {
		return
	}
	b.finished = true
	b.current = nil
	ms := b.in.Journal.cfg.Now().Sub(b.job.StartedAt.Time).Milliseconds()
	sum := enricher.BatchSummary{BatchCounters: b.counters(), CostUSD: b.job.CostUSD,
		InputTokens: b.job.InputTokens, OutputTokens: b.job.OutputTokens, ProcessingTimeMS: ms}
	raw, err := json.Marshal(sum)
	b.job.FinishedAt = enricher.NewTimePtr(b.in.Journal.cfg.Now())
	if err != nil { // the batch fails, without a result
		b.in.Log.Error("batch summary cannot be encoded; the batch fails", "job_id", b.job.ID, "err", err)
		msg := "the batch's result could not be encoded"
		b.job.Status, b.job.ErrorMessage = enricher.JobFailed, &msg
		b.emit(c, enricher.EventFailed, enricher.FailedEvent{ErrorCode: enricher.CodeInternal, ErrorMessage: msg}, nil)
		return
	}
	b.job.Result = raw
	if b.cancel != nil {
		b.job.Status = enricher.JobCancelled
		b.emit(c, enricher.EventCancelled, enricher.CancelledEvent{Reason: b.cancel.Reason, Result: raw}, nil)
		return
	}
	b.emit(c, enricher.EventBatchCompleted, enricher.BatchCompletedEvent{CostUSD: sum.CostUSD, InputTokens: sum.InputTokens,
		OutputTokens: sum.OutputTokens, ProcessingTimeMS: ms}, nil)
	b.job.Status = enricher.JobCompleted
	b.emit(c, enricher.EventCompleted, enricher.CompletedEvent{Result: raw}, nil)
}

func (b *batchActor) emit(c actor.Context, typ string, payload any, records []*enricher.Record) int64 {
	return b.emitWith(c, typ, payload, storage.Batch{Records: records})
}

// emitWith numbers and stores an event of the batch with extra writes in the same batch.
func (b *batchActor) emitWith(c actor.Context, typ string, payload any, extra storage.Batch) int64 {
	var running []string
	seen := map[string]bool{}
	for _, m := range b.in.Models {
		for _, r := range b.running {
			for _, k := range r {
				if k == m.Key && !seen[k] {
					seen[k] = true
					running = append(running, k)
				}
			}
		}
	}
	h := enricher.EventHeader{Type: typ, RunningModels: running, CurrentModel: b.current, LastErrorSummary: b.lastError,
		Batch: ptrCounters(b.counters())}
	if b.current != nil {
		h.CurrentAttempt, h.MaxAttempts = b.attempt, b.in.Journal.cfg.MaxAttempts
	}
	return b.journal.append(c, b.job, &h, payload, extra)
}

// counters returns the batch's entity counters as they stand.
func (b *batchActor) counters() enricher.BatchCounters {
	return enricher.BatchCounters{TotalEntities: *b.job.TotalEntities, CompletedEntities: *b.job.CompletedEntities,
		FailedEntities: *b.job.FailedEntities, SkippedEntities: *b.job.SkippedEntities}
}

func ptrCounters(c enricher.BatchCounters) *enricher.BatchCounters { return &c }

// flushJournal sends the journal's writes of the message just handled.
func (b *batchActor) flushJournal(c actor.Context) {
	if b.journal != nil {
		b.journal.flush(c)
	}
}
