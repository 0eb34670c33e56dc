package cluster

import (
	"github.com/asynkron/protoactor-go/actor"
	pc "github.com/asynkron/protoactor-go/cluster"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
)

// grain is the virtual actor of one job (kind "job", identity: the job id). It holds no job
// state: it makes its node's engine run the job (Ensure) and carries commands to it. Engine
// calls block on storage, so each runs in a goroutine that reports back with done, one at a
// time: a command that comes while the job is being resumed waits for it, instead of finding
// the job claimed and not yet running. Ensures that come while one is queued coalesce. The
// queue is bounded by the callers' own timeouts and maxQueued; past it a request is refused.
// Once idle, the grain stops itself; the next message activates it again.
type grain struct {
	node    *Node
	id      string
	busy    bool
	queue   []work
	ensures int // Ensure works queued (0 or 1)
}

// work is one Ensure (cmd nil) or command to run.
type work struct {
	org    string
	cmd    *Command
	sender *actor.PID
}

// done reports the end of the work a goroutine of the grain ran.
type done struct{}

// maxQueued bounds the works waiting in one grain.
const maxQueued = 64

func (g *grain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *pc.ClusterInit:
		g.id = m.Identity.Identity
	case *Ensure:
		c.Respond(&Ack{})
		if g.ensures > 0 {
			return // the queued one will do
		}
		g.push(c, work{org: m.Org})
	case *Command:
		if len(g.queue) >= maxQueued {
			c.Respond(&CommandReply{ErrorKind: uint32(enricher.KindTooMany), Detail: "too many commands for this job at once; retry"})
			return
		}
		g.push(c, work{org: m.Org, cmd: m, sender: c.Sender()})
	case *done:
		g.busy = false
		g.next(c)
		if !g.busy {
			c.Poison(c.Self())
		}
	}
}

func (g *grain) push(c actor.Context, w work) {
	if w.cmd == nil {
		g.ensures++
	}
	g.queue = append(g.queue, w)
	g.next(c)
}

// next starts the first queued work when none runs.
func (g *grain) next(c actor.Context) {
	if g.busy || len(g.queue) == 0 {
		return
	}
	w := g.queue[0]
	g.queue = g.queue[1:]
	if w.cmd == nil {
		g.ensures--
	}
	g.busy = true
	self, root, run, id, log := c.Self(), c.ActorSystem().Root, g.node.runner, g.id, g.node.log
	if w.cmd == nil {
		go func() {
			if err := run.Ensure(w.org, id); err != nil {
				log.Warn("job not resumed on this node; the sweeper tries again", "job_id", id, "err", err)
			}
			root.Send(self, &done{})
		}()
		return
	}
	cmd := actors.CommandCancel
	if w.cmd.Kind == Command_CONTINUE {
		cmd = actors.CommandContinue
	}
	go func() {
		reply := &CommandReply{Ok: true}
		if err := run.CommandHere(w.org, id, cmd); err != nil {
			reply = &CommandReply{ErrorKind: uint32(enricher.ErrorKind(err)), Detail: enricher.PublicMessage(err)}
		}
		if w.sender != nil {
			root.Send(w.sender, reply)
		}
		root.Send(self, &done{})
	}()
}
