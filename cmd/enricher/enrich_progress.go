package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports an enrich run on stderr: a progress bar (count, throughput, ETA, cost and
// failures) when stderr is a terminal, else a plain line at most every interval and one at
// the end. It is used by one goroutine.
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
	interval time.Duration
}

// newProgress starts reporting a run of total entities of which done (failed of them, costing
// cost) were finished by earlier runs.
func newProgress(w io.Writer, total, done, failed int, cost float64) *progress {
	p := &progress{w: w, total: total, done: done, failed: failed, cost: cost, prior: done,
		start: time.Now(), interval: time.Second}
	if f, ok := w.(*os.File); ok && total > done && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total-done,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(p.describe()),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("entities"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

func (p *progress) describe() string {
	return fmt.Sprintf("enrich: cost $%.6f, %d failed", p.cost, p.failed)
}

// add counts one entity written to the output.
func (p *progress) add(success bool, cost float64) {
	p.done++
	p.cost += cost
	if !success {
		p.failed++
	}
	if p.bar != nil {
		p.bar.Describe(p.describe())
		_ = p.bar.Add(1)
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.interval {
		p.last = now
		p.line()
	}
}

// line prints the plain progress line.
func (p *progress) line() {
	elapsed := time.Since(p.start)
	rate := float64(p.done-p.prior) / elapsed.Seconds()
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "enrich: %d/%d entities, %d failed, %.1f entities/s, ETA %s, cost $%.6f\n",
		p.done, p.total, p.failed, rate, eta, p.cost)
}

// finish prints the final state.
func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	p.line()
}
