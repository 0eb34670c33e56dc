package actors

import (
	"log/slog"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/entity-enricher/enricher"
)

// supervisorActor admits jobs (global and per-organization caps, paused jobs included, and
// provider room: gates), keeps the registry of running jobs and stops, never restarts, a job
// that fails.
type supervisorActor struct {
	cfg      *Config
	gates    gates
	held     map[string]callNeed // job -> calls taken at admission
	active   *atomic.Int64       // total, published for GET /health without a round trip
	log      *slog.Logger
	jobs     map[string]*actor.PID
	owner    map[string]string // job -> org
	types    map[string]string // job -> job type
	perOrg   map[string]int
	total    int
	stopping bool
	released func(job string) // told of every job that stopped (its claim is given back); may be nil
}

func newSupervisor(cfg *Config, gs gates, active *atomic.Int64, log *slog.Logger, released func(string)) actor.Producer {
	return func() actor.Actor {
		return &supervisorActor{cfg: cfg, gates: gs, active: active, released: released, held: map[string]callNeed{}, log: log, jobs: map[string]*actor.PID{}, owner: map[string]string{}, types: map[string]string{}, perOrg: map[string]int{}}
	}
}

func (s *supervisorActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *reserve:
		var roomErr error
		if !m.Recovered {
			roomErr = s.gates.admit(m.Need)
		}
		switch {
		case s.stopping:
			c.Respond(&reserved{Err: enricher.Errorf(enricher.KindUnavailable, "server is shutting down")})
		case m.Recovered:
			s.admitted(m)
			c.Respond(&reserved{})
		case s.total >= s.cfg.MaxJobs:
			c.Respond(&reserved{Err: enricher.Errorf(enricher.KindTooMany, "the server already runs %d jobs, the maximum", s.cfg.MaxJobs)})
		case s.perOrg[m.Org] >= s.cfg.MaxJobsPerOrg:
			c.Respond(&reserved{Err: enricher.Errorf(enricher.KindTooMany, "your organization already has %d unfinished jobs, the maximum", s.cfg.MaxJobsPerOrg)})
		case roomErr != nil:
			c.Respond(&reserved{Err: roomErr})
		default:
			s.admitted(m)
			c.Respond(&reserved{})
		}
	case *release:
		s.gates.give(m.Held)
		s.free(m.Org)
	case *spawnJob:
		id := m.Job.ID
		pid, err := c.SpawnNamed(m.Props, "job-"+id)
		if err != nil {
			s.log.Error("job actor not started", "job_id", id, "err", err)
			s.gates.give(m.Held)
			s.free(m.Job.OrganizationID)
			return
		}
		if m.Held != nil {
			s.held[id] = m.Held
		}
		s.jobs[id], s.owner[id], s.types[id] = pid, m.Job.OrganizationID, string(m.Job.Type)
		s.cfg.Observer.JobStarted(string(m.Job.Type))
	case *toJob:
		if pid, ok := s.jobs[m.JobID]; ok && s.owner[m.JobID] == m.Org {
			c.RequestWithCustomSender(pid, m.Msg, c.Sender())
			return
		}
		if c.Sender() != nil {
			c.Respond(&jobReply{Err: enricher.Errorf(enricher.KindNotFound, "job is not running")})
		}
	case *jobFinished:
		// The supervisor stops the job, so its Terminated never overtakes this report. An
		// ended job is poisoned (a user message): the requests queued before it (a subscribe,
		// a cancel forwarded by toJob) are answered rather than dropped, as Stop would.
		if pid, ok := s.jobs[m.JobID]; ok {
			s.cfg.Observer.JobFinished(s.types[m.JobID], string(m.Status))
			s.forget(m.JobID)
			if m.Ended {
				c.Poison(pid)
			} else {
				c.Stop(pid)
			}
		}
	case *actor.Terminated:
		for id, pid := range s.jobs {
			if pid.Equal(m.Who) {
				s.log.Warn("job actor stopped before its terminal event; it resumes at the next start", "job_id", id)
				s.cfg.Observer.JobFinished(s.types[id], "")
				s.forget(id)
			}
		}
	case *stopAdmitting:
		s.stopping = true
		c.Respond(true)
	}
}

// admitted counts an admitted job and takes its calls when it holds them.
func (s *supervisorActor) admitted(m *reserve) {
	s.total++
	s.active.Store(int64(s.total))
	s.perOrg[m.Org]++
	if m.Hold {
		s.gates.take(m.Need)
	}
}

func (s *supervisorActor) forget(id string) {
	if need, ok := s.held[id]; ok {
		s.gates.give(need)
		delete(s.held, id)
	}
	if org, ok := s.owner[id]; ok {
		delete(s.jobs, id)
		delete(s.owner, id)
		delete(s.types, id)
		s.free(org)
		if s.released != nil {
			s.released(id)
		}
	}
}

func (s *supervisorActor) free(org string) {
	s.total--
	s.active.Store(int64(s.total))
	if s.perOrg[org]--; s.perOrg[org] <= 0 {
		delete(s.perOrg, org)
	}
}

// stopStrategy stops a failing child and never restarts it: a restart would re-run paid LLM
// calls and lose collected results.
var stopStrategy = actor.NewOneForOneStrategy(0, 0, func(reason any) actor.Directive { return actor.StopDirective })
