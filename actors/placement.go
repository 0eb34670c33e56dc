package actors

import (
	"log/slog"
	"sync"

	"github.com/entity-enricher/enricher"
)

// Running jobs on several nodes (cluster mode, package actors/cluster). Two collaborators in
// Deps switch it on: a Placement, which hands a job to the node that owns it, and a Fence,
// which keeps a job from running on two nodes at once. Without them (one node) nothing here
// is used and the engine starts, recovers and commands jobs itself.

// Placement hands jobs to the node that owns them. With one in Deps, a job the engine admits
// and stores is given to Place instead of started here (the admission slot taken here is
// given back: the owner's engine runs it as a recovered job), a cancel or continue for a job
// that does not run here goes to Command, and New resumes no stored job (the placement's
// sweeper hands every unfinished job to its owner). Implementations are safe for concurrent
// use and may block on the network; the engine calls them outside actors.
type Placement interface {
	// Place asks the owner of job id of org to run it. A job it fails to place is not lost:
	// it is stored, and found again by the sweeper.
	Place(org, id string)
	// Command delivers cmd to the owner of job id of org and returns its outcome, with the
	// errors of Engine.Cancel and Engine.Continue.
	Command(org, id string, cmd Command) error
}

// Command is a user command to a running job.
type Command int

// The commands a job takes from its users.
const (
	CommandCancel   Command = iota + 1 // Engine.Cancel
	CommandContinue                    // Engine.Continue
)

// Fence keeps a job from running on two nodes at once: a node runs a job only while it holds
// its claim, and a claim outlives no node (storage/postgres.Locks: advisory locks of the
// node's own session). Safe for concurrent use; calls block on storage.
type Fence interface {
	// Claim takes the claim of job id: true when this call took it; false when another node
	// holds it or this node already does.
	Claim(id string) (bool, error)
	// Release gives the claim back (no-op when not held here).
	Release(id string) error
}

// fenceReleases gives claims back off the actors: the supervisor calls release when a job
// stops, and a goroutine per claim (waited for by Engine.Stop) does the storage round trip.
type fenceReleases struct {
	fence Fence
	wg    sync.WaitGroup
	log   *slog.Logger
}

// release gives the claim of job id back in the background; never blocks the caller.
func (f *fenceReleases) release(id string) {
	if f == nil {
		return
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := f.fence.Release(id); err != nil {
			f.log.Warn("job claim not released; it lapses when this node's session ends", "job_id", id, "err", err)
		}
	}()
}

// wait returns once every release started has ended.
func (f *fenceReleases) wait() {
	if f != nil {
		f.wg.Wait()
	}
}

// Ensure runs job id of org on this node when it is unfinished and no node runs it: it takes
// the job's claim (Fence), reads the job and resumes it from its stored state and events, as
// recovery after a restart does. Nothing happens when another node holds the claim, this
// node already runs the job, or the job has finished (the claim is then given back). A job
// that cannot run any more (a model left the catalog) keeps its claim, logged, as it stays
// unfinished after a restart on one node. Blocks on storage: called by the cluster's grains
// from their own goroutines, never inside an actor. Errors: KindUnavailable (storage,
// shutdown, no Fence in Deps).
func (e *Engine) Ensure(org, id string) error {
	if e.stopped.Load() {
		return enricher.Errorf(enricher.KindUnavailable, "server is shutting down")
	}
	if e.deps.Fence == nil {
		return enricher.Errorf(enricher.KindUnavailable, "jobs are not placed on this server")
	}
	got, err := e.deps.Fence.Claim(id)
	if err != nil || !got {
		return err
	}
	j, err := e.deps.Store.JobWithSpec(org, id)
	if err == nil && j.Status.Terminal() {
		e.releases.release(id)
		return nil
	}
	if err == nil {
		err = e.resume(j)
	}
	if err != nil {
		e.releases.release(id)
	}
	return err
}

// CommandHere delivers cmd to job id of org on this node, the one that owns it: the job is
// resumed here first when no node runs it (Ensure). Errors as Engine.Cancel; KindUnavailable
// when another node still holds the job (its owner changed a moment ago: retry).
func (e *Engine) CommandHere(org, id string, cmd Command) error {
	if err := e.Ensure(org, id); err != nil {
		return err
	}
	err := e.commandLocal(org, id, cmd)
	if err != nil && enricher.IsKind(err, enricher.KindNotFound) { // not running here
		j, jerr := e.deps.Store.Job(org, id)
		switch {
		case jerr != nil:
			return jerr
		case j.Status.Terminal():
			return enricher.Errorf(enricher.KindConflict, "job already finished (status %s)", j.Status)
		}
		return enricher.Errorf(enricher.KindUnavailable, "the job is moving to another node; retry")
	}
	return err
}

// dispatch runs a job just admitted and stored: here (launch), or, with a Placement, on its
// owner, after giving back the admission slot and the held calls taken here.
func (e *Engine) dispatch(job *enricher.Job, held callNeed, launch func()) {
	if e.deps.Placement == nil {
		launch()
		return
	}
	e.sys.Root.Send(e.sup, &release{Org: job.OrganizationID, Held: held})
	e.deps.Placement.Place(job.OrganizationID, job.ID)
}
