package actors

import (
	"log/slog"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// Event is one stored event of a job, as sent on the wire.
type Event = enricher.StreamEvent

// journalDeps are what a journal needs from the engine: the persister, the limits
// (event_max_bytes, job_events_max_bytes, sse_buffer, sse_max_subscribers, the observer's
// StreamCatchUp) and whether the engine is stopping (a stop then ends streams as a shutdown).
type journalDeps struct {
	persister *actor.PID
	cfg       *Config
	log       *slog.Logger
	stopping  *atomic.Bool // nil: never a shutdown (tests)
}

// journal is a job's event sequence and subscribers, owned by the job (or batch, or schema
// job) actor: it numbers each event, applies the byte budgets, hands the encoded event to the
// persister with the writes it depends on, and once the persister answers persisted it
// publishes the event to the job's own subscribers. Subscribers register with the job actor
// by message (subscribe, rejoinLive, unsubscribe in messages.go), so whoever addresses the job
// — the engine through its supervisor on one machine, a grain reference in a cluster — reaches
// its stream; nothing of a running job's stream lives outside its actor. Every method is
// called from that actor's Receive only, and none blocks.
type journal struct {
	deps    journalDeps
	seq     int64   // last seq given
	bytes   int64   // encoded bytes of the job's events so far (job_events_max_bytes)
	pending []Event // handed to the persister, not yet stored: published once persisted
	subs    *subscribers
	out     *persist // the writes of the message being handled, sent by flush
}

// newJournal opens the journal of job, which goes on from the job's stored LastSeq and
// EventBytes (a recovered job continues its sequence).
func newJournal(job *enricher.Job, deps journalDeps) *journal {
	return &journal{deps: deps, seq: job.LastSeq, bytes: job.EventBytes,
		subs: newSubscribers(job.LastSeq, deps.cfg.SSEMaxSubscribers, deps.cfg.SSEBuffer, deps.cfg.Observer.StreamCatchUp)}
}

// append gives the next seq to an event whose header h carries the job-specific fields (type,
// running and current model, attempt, last error), completes the common fields from job,
// encodes it and queues it for the persister with extra (records, entity marks) and a
// snapshot of job, whose LastSeq and EventBytes it keeps. A payload over event_max_bytes is
// truncated; once the job's events passed job_events_max_bytes every truncatable payload is.
// The persister answers persisted to c.Self() once flush sent it. It returns the seq.
func (j *journal) append(c actor.Context, job *enricher.Job, h *enricher.EventHeader, payload any, extra storage.Batch) int64 {
	cfg := j.deps.cfg
	j.seq++
	h.Seq, h.JobID, h.JobType, h.Status, h.Timestamp = j.seq, job.ID, job.Type, job.Status, cfg.Now()
	h.TotalModels, h.CompletedModels = job.TotalModels, job.CompletedModels
	if h.RunningModels == nil {
		h.RunningModels = []string{}
	}
	maxPayload := cfg.EventMaxBytes
	if j.bytes > int64(cfg.JobEventsMaxBytes) {
		maxPayload = 1
	}
	data, err := encodeExact(func(dst []byte) ([]byte, error) { return enricher.AppendEvent(dst, h, payload, maxPayload) })
	if err != nil {
		j.deps.log.Error("event encoding failed", "job_id", job.ID, "type", h.Type, "err", err)
		data = enricher.AppendBareEvent(nil, h)
	}
	j.bytes += int64(len(data))
	job.LastSeq, job.EventBytes = j.seq, j.bytes
	for i := range extra.Finished { // an entity's mark points at the event that ended it
		extra.Finished[i].Seq = h.Seq
	}
	j.pending = append(j.pending, Event{Seq: h.Seq, Data: data, Terminal: enricher.TerminalEvent(h.Type)})
	req := &persist{
		batch: storage.Batch{Jobs: []*enricher.Job{snapshotJob(job)}, Events: []storage.EventEntry{{JobID: job.ID, Seq: h.Seq, Data: data}},
			Records: extra.Records, Finished: extra.Finished, Started: extra.Started},
		notify: c.Self(), upTo: h.Seq, cumulative: true,
	}
	if d := newWebhookDelivery(job, h, data, j.deps.log); d != nil { // stored with its event (webhook.go)
		req.batch.Webhooks = []*enricher.WebhookDelivery{d}
	}
	j.queue(req)
	return h.Seq
}

// write queues writes without an event (a job snapshot, entity marks) for the persister, in
// order with the job's events; nobody is told when they land.
func (j *journal) write(_ actor.Context, b storage.Batch) {
	j.queue(&persist{batch: b})
}

// queue adds req to the writes of the message being handled: they go to the persister as one
// request when the actor's Receive ends (flush), so the events one message produces (a model's
// end and the job's, say) are stored in one commit and acknowledged at once.
func (j *journal) queue(req *persist) {
	out := j.out
	if out == nil {
		j.out = req
		return
	}
	b, r := &out.batch, &req.batch
	if len(r.Jobs) > 0 { // the journal's own job: only its latest snapshot is worth writing
		b.Jobs = r.Jobs
	}
	b.Events = append(b.Events, r.Events...)
	b.Records = append(b.Records, r.Records...)
	b.Finished = append(b.Finished, r.Finished...)
	b.Started = append(b.Started, r.Started...)
	b.Webhooks = append(b.Webhooks, r.Webhooks...)
	if req.notify != nil {
		out.notify, out.upTo, out.cumulative = req.notify, req.upTo, req.cumulative
	}
}

// flush sends the queued writes to the persister. The journal's actor calls it when its
// Receive ends (deferred), so every write of a message leaves before the next message.
func (j *journal) flush(c actor.Context) {
	if j.out != nil {
		c.Send(j.deps.persister, j.out)
		j.out = nil
	}
}

// stored handles the persister's persisted: the events up to upTo are stored, so they are
// published to the subscribers. It reports true once, when the terminal event is among them:
// the job's end is stored and every subscriber was told.
func (j *journal) stored(upTo int64) bool {
	n := 0
	for n < len(j.pending) && j.pending[n].Seq <= upTo {
		n++
	}
	if n == 0 {
		return false
	}
	ended := j.subs.publish(j.pending[:n])
	m := copy(j.pending, j.pending[n:])
	clear(j.pending[m:])
	j.pending = j.pending[:m]
	return ended
}

// ended reports whether the terminal event is stored and published.
func (j *journal) ended() bool { return j.subs.ended == laneFinished }

// serve answers the subscription messages (subscribe, rejoinLive, unsubscribe) sent to the
// journal's actor; the actor passes them on from its Receive.
func (j *journal) serve(c actor.Context, msg any) {
	switch m := msg.(type) {
	case *subscribe:
		sub, l, final, err := j.subs.subscribe()
		c.Respond(&subscribed{Sub: sub, Lane: l, Final: final, Err: err})
	case *rejoinLive:
		c.Respond(&subscribed{Sub: m.Sub, Lane: j.subs.rejoin(m.Sub)})
	case *unsubscribe:
		j.subs.remove(m.Sub, laneClosed)
	}
}

// stop ends every live subscription when the journal's actor stops (actor.Stopping): as a
// shutdown while the engine stops, otherwise as a stop whose reason the stream asks about.
func (j *journal) stop() {
	end := laneStopped
	if j.deps.stopping != nil && j.deps.stopping.Load() {
		end = laneShutdown
	}
	j.subs.stop(end)
}

// afterEnd is the job's whole behaviour once its terminal event is stored, until the
// supervisor's poison pill stops it: requests queued meanwhile are answered (subscribers get
// the terminal seq, commands a conflict); anything else is dropped, as a stopped actor would.
func (a *jobActor) afterEnd(c actor.Context) {
	switch m := c.Message().(type) {
	case *subscribe, *rejoinLive, *unsubscribe:
		a.journal.serve(c, m)
	case *cancelJob, *continueJob:
		c.Respond(&jobReply{Err: enricher.Errorf(enricher.KindConflict, "job already finished (status %s)", a.job.Status)})
	}
}

// snapshotJob copies job deeply enough that the owner may go on changing it while the
// persister encodes the copy. RecordIDs only ever grows by append, so the copy shares its
// prefix instead of cloning it.
func snapshotJob(job *enricher.Job) *enricher.Job {
	snap := *job
	snap.RecordIDs = job.RecordIDs[:len(job.RecordIDs):len(job.RecordIDs)]
	for _, p := range []**int{&snap.TotalEntities, &snap.CompletedEntities, &snap.FailedEntities, &snap.SkippedEntities} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	return &snap
}

// ---- subscribers ----

// laneEnd says why a lane's channel was closed.
type laneEnd int

const (
	laneOpen     laneEnd = iota // not closed (a live lane)
	laneBehind                  // its buffer was full: catch up from the log, then rejoin
	laneFinished                // the job ended: read the log to final (0: to its end)
	laneStopped                 // the job's actor stopped before the end: ask again (rejoin)
	laneShutdown                // the server is stopping: the stream ends
	laneClosed                  // the subscriber unsubscribed
)

// lane is one live channel of a subscription: the events with Seq > since, in order. The
// journal sets end and final before it closes c, and never touches a lane again after that; a
// Stream reads them only once it has seen c closed. A lane without c is an answer only (the
// job finished, the server stops, the subscription is closed).
type lane struct {
	c     chan Event
	since int64
	end   laneEnd
	final int64
}

// Subscription is one subscriber's place in a job's journal. The journal's actor owns its
// fields; the Stream holds it only to name it in rejoinLive and unsubscribe.
type Subscription struct {
	lane    *lane // the current lane
	lagging bool  // the lane was closed because it was full; the place is kept
}

var errTooManySubscribers = enricher.Errorf(enricher.KindTooMany, "too many subscribers on this job")

// subscribers are the live subscribers of one job. Publishing never blocks: a subscriber whose
// buffer is full gets its lane closed as laneBehind and is skipped until it rejoins; it keeps
// its place under max meanwhile, so rejoining is never refused by the cap. Not safe for
// concurrent use: the journal's actor owns it.
type subscribers struct {
	set       map[*Subscription]struct{}
	published int64   // highest seq published
	final     int64   // seq of the terminal event, once published
	ended     laneEnd // laneFinished after the terminal event, laneStopped/laneShutdown after stop
	max, buf  int
	onCatchUp func() // told each time a subscriber falls behind; must not block
}

func newSubscribers(published int64, max, buf int, onCatchUp func()) *subscribers {
	return &subscribers{set: map[*Subscription]struct{}{}, published: published, max: max, buf: buf, onCatchUp: onCatchUp}
}

// subscribe registers a subscriber and returns its first lane. After the job ended it returns
// no subscription and the terminal seq (the caller serves the log alone); at the cap,
// errTooManySubscribers.
func (s *subscribers) subscribe() (*Subscription, *lane, int64, error) {
	switch {
	case s.ended != laneOpen:
		return nil, nil, s.final, nil
	case len(s.set) >= s.max:
		return nil, nil, 0, errTooManySubscribers
	}
	sub := &Subscription{lane: s.newLane()}
	s.set[sub] = struct{}{}
	return sub, sub.lane, 0, nil
}

func (s *subscribers) newLane() *lane {
	return &lane{c: make(chan Event, s.buf), since: s.published}
}

// rejoin gives a lagging subscriber a new lane starting after the last published seq. Otherwise
// it answers with a lane without channel that says why not: the job ended (with its final
// seq), the journal stopped, or the subscription is closed.
func (s *subscribers) rejoin(sub *Subscription) *lane {
	if s.ended != laneOpen {
		return &lane{end: s.ended, final: s.final}
	}
	if _, ok := s.set[sub]; !ok || !sub.lagging {
		return &lane{end: laneClosed}
	}
	sub.lane, sub.lagging = s.newLane(), false
	return sub.lane
}

// remove unregisters sub, closing its lane as end unless it is closed already. Idempotent.
func (s *subscribers) remove(sub *Subscription, end laneEnd) {
	if _, ok := s.set[sub]; !ok {
		return
	}
	delete(s.set, sub)
	if !sub.lagging {
		sub.lane.end, sub.lane.final = end, s.final
		close(sub.lane.c)
	}
}

// publish delivers stored events (in seq order) to every live subscriber without blocking.
// After the terminal event every subscription ends (laneFinished) and it returns true.
func (s *subscribers) publish(events []Event) bool {
	ended := false
	for _, ev := range events {
		if ev.Seq <= s.published || s.ended != laneOpen {
			continue
		}
		s.published = ev.Seq
		for sub := range s.set {
			if sub.lagging {
				continue
			}
			select {
			case sub.lane.c <- ev:
			default:
				sub.lagging, sub.lane.end = true, laneBehind
				close(sub.lane.c)
				if s.onCatchUp != nil {
					s.onCatchUp()
				}
			}
		}
		if ev.Terminal {
			s.ended, s.final, ended = laneFinished, ev.Seq, true
			for sub := range s.set {
				s.remove(sub, laneFinished)
			}
		}
	}
	return ended
}

// stop ends every subscription as end (laneStopped or laneShutdown) unless the job ended.
func (s *subscribers) stop(end laneEnd) {
	if s.ended != laneOpen {
		return
	}
	s.ended = end
	for sub := range s.set {
		s.remove(sub, end)
	}
}

// count returns the number of registered subscribers, lagging ones included.
func (s *subscribers) count() int { return len(s.set) }
