package storage

import (
	"context"
	"log/slog"
	"time"
)

// JobPurger deletes the jobs that finished before a time, up to a limit per call, and says
// how many it deleted (DB.PurgeJobs; postgres.DB has the same method and contract). Purger
// is its caller.
type JobPurger interface {
	PurgeJobs(finishedBefore time.Time, limit int) (int, error)
}

// PurgerConfig holds the purge loop's settings. The zero value is usable.
type PurgerConfig struct {
	// Interval is how often the loop purges (purge_interval); the first round runs at start.
	// Default 10m.
	Interval time.Duration
	// Retention is how long a finished job is kept (job_retention). Default 24h.
	Retention time.Duration
	// Batch is how many jobs one PurgeJobs call deletes; a round calls it until a call
	// deletes fewer. Default 500.
	Batch int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives the count of each round that deleted something (info) and errors
	// (warn). Default: discard.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c PurgerConfig) WithDefaults() PurgerConfig {
	if c.Interval <= 0 {
		c.Interval = 10 * time.Minute
	}
	if c.Retention <= 0 {
		c.Retention = 24 * time.Hour
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Purger owns the goroutine that deletes finished jobs past their retention: a round at
// start, then one every Interval. Stop ends it (waiting for the PurgeJobs call in progress);
// stop it before closing the store. A failed round is logged and retried at the next tick.
type Purger struct {
	store  JobPurger
	cfg    PurgerConfig
	cancel context.CancelFunc
	done   chan struct{}
}

// StartPurger starts the purge loop of store.
func StartPurger(store JobPurger, cfg PurgerConfig) *Purger {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Purger{store: store, cfg: cfg.WithDefaults(), cancel: cancel, done: make(chan struct{})}
	go p.loop(ctx)
	return p
}

// Stop ends the loop and waits for it. It is idempotent.
func (p *Purger) Stop() {
	p.cancel()
	<-p.done
}

func (p *Purger) loop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		p.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round purges, a batch at a time, every job that finished more than Retention ago.
func (p *Purger) round(ctx context.Context) {
	cutoff := p.cfg.Now().Add(-p.cfg.Retention)
	total := 0
	for ctx.Err() == nil {
		n, err := p.store.PurgeJobs(cutoff, p.cfg.Batch)
		total += n
		if err != nil {
			p.cfg.Logger.Warn("purge of finished jobs failed", "purged", total, "err", err)
			return
		}
		if n < p.cfg.Batch {
			break
		}
	}
	if total > 0 {
		p.cfg.Logger.Info("purged finished jobs", "jobs", total, "finished_before", cutoff.UTC().Format(time.RFC3339))
	}
}
