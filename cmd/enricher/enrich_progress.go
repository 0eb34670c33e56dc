package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports an enrich run on stderr: a progress bar when stderr is a terminal, else a
// plain line at most every interval and one at the end (never the same line twice). Both show
// the count, the failures, the cost and, once an entity of this run is done, the throughput and
// the ETA measured from this run's own entities. It is used by one goroutine.
type progress struct {
	w        io.Writer
	bar      *progressbar.ProgressBar // nil in plain mode
	total    int
	done     int // lines in the output, prior runs included
	failed   int
	cost     float64
	start    time.Time
	prior    int // done when this run started
	last     time.Time
	printed  int // done at the last plain line; -1 before the first
	interval time.Duration
	now      func() time.Time
}

// isTerminal reports whether w is a terminal (the bar needs one).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts reporting a run of total entities of which done (failed of them, costing
// cost) were finished by earlier runs; bar selects the progress bar over plain lines.
func newProgress(w io.Writer, bar bool, total, done, failed int, cost float64) *progress {
	p := &progress{w: w, total: total, done: done, failed: failed, cost: cost, prior: done,
		printed: -1, interval: time.Second, now: time.Now}
	p.start = p.now()
	if bar && total > done {
		// The bar's own rate and ETA are left out: it measures them from its first frame,
		// which shows nonsense (0 entities/hr, thousands per second) until a few entities are done.
		p.bar = progressbar.NewOptions(total-done,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(p.describe()),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

// rate returns this run's entities per second and the time left, or ok false before this run
// has finished an entity.
func (p *progress) rate() (perSec float64, eta time.Duration, ok bool) {
	elapsed := p.now().Sub(p.start).Seconds()
	n := p.done - p.prior
	if n <= 0 || elapsed <= 0 {
		return 0, 0, false
	}
	perSec = float64(n) / elapsed
	return perSec, time.Duration(float64(p.total-p.done) / perSec * float64(time.Second)).Round(time.Second), true
}

// describe is the bar's text: failures, cost and, once measurable, throughput and ETA.
func (p *progress) describe() string {
	s := fmt.Sprintf("enrich: %d failed, cost $%.6f", p.failed, p.cost)
	if perSec, eta, ok := p.rate(); ok {
		s += fmt.Sprintf(", %.1f entities/s, ETA %s", perSec, eta)
	}
	return s
}

// add counts one entity written to the output.
func (p *progress) add(success bool, cost float64) {
	p.done++
	p.cost += cost
	if !success {
		p.failed++
	}
	if p.bar != nil {
		_ = p.bar.Add(1)
		p.bar.Describe(p.describe())
		return
	}
	if now := p.now(); now.Sub(p.last) >= p.interval {
		p.last = now
		p.line()
	}
}

// line prints the plain progress line.
func (p *progress) line() {
	p.printed = p.done
	eta, speed := "?", "?"
	if perSec, left, ok := p.rate(); ok {
		eta, speed = left.String(), fmt.Sprintf("%.1f", perSec)
	}
	fmt.Fprintf(p.w, "enrich: %d/%d entities, %d failed, %s entities/s, ETA %s, cost $%.6f\n",
		p.done, p.total, p.failed, speed, eta, p.cost)
}

// finish prints the final state, unless the last plain line already shows it.
func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	if p.printed != p.done {
		p.line()
	}
}
