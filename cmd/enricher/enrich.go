package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/entity-enricher/enricher"
	restclient "github.com/entity-enricher/enricher/transport/client"
)

const enrichUsage = `usage: enricher enrich -schema FILE|ID -models KEYS -in FILE [flags]

Enriches every entity of a JSON, NDJSON or CSV file (or stdin) with one batch job on a server
(its entities streamed to the server as NDJSON), follows its events, and writes one NDJSON line
per entity. With -out, an interrupted run resumes with -resume without enriching finished
entities again: interrupting the command leaves its batch job running on the server, and
-resume re-attaches to it.

flags:
`

// enrichFlags are the settings of one `enricher enrich` run.
type enrichFlags struct {
	server, key, schema, models, strategy, languages string
	verifyFields, execution                          string
	in, format, out                                  string
	resume                                           bool
}

func parseEnrichFlags(args []string, getenv func(string) string, stderr io.Writer) (*enrichFlags, error) {
	f := &enrichFlags{}
	fs := flag.NewFlagSet("enrich", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, enrichUsage); fs.PrintDefaults() }
	server := getenv("ENRICHER_SERVER")
	if server == "" {
		server = "http://localhost:8080"
	}
	fs.StringVar(&f.server, "server", server, "server base URL (env ENRICHER_SERVER)")
	fs.StringVar(&f.key, "key", getenv("ENRICHER_API_KEY"), "API key (env ENRICHER_API_KEY)")
	fs.StringVar(&f.schema, "schema", "", "schema: a JSON file, or the id of a saved schema")
	fs.StringVar(&f.models, "models", "", "comma-separated model keys, e.g. sim::fast,sim::realistic")
	fs.StringVar(&f.strategy, "strategy", "", "single_pass, expert_domains, multi_expertise or waterfall (server default)")
	fs.StringVar(&f.languages, "languages", "", "comma-separated language codes (server default: en)")
	fs.StringVar(&f.verifyFields, "verify-fields", "", "comma-separated fields two models must agree on (strategy waterfall)")
	fs.StringVar(&f.execution, "execution", "", "realtime or provider_batch: the vendors' batch APIs at their batch price (server default: realtime)")
	fs.StringVar(&f.in, "in", "", "input file, or - for stdin")
	fs.StringVar(&f.format, "format", "", "input format json, ndjson or csv (default: by extension or content)")
	fs.StringVar(&f.out, "out", "", "NDJSON output file (default stdout; needed for -resume)")
	fs.BoolVar(&f.resume, "resume", false, "resume the interrupted run that wrote -out")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case f.schema == "" || f.models == "" || f.in == "":
		return nil, errors.New("-schema, -models and -in are required")
	case f.resume && f.out == "":
		return nil, errors.New("-resume needs -out")
	}
	return f, nil
}

// runEnrich is `enricher enrich`: 0 when every entity has its output line, 1 on an error or
// an interruption (rerun with -resume), 2 on a usage error.
func runEnrich(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	f, err := parseEnrichFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "enricher enrich: %v\n", err)
		return 2
	}
	if err := enrich(ctx, f, stdin, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "enricher enrich: %v\n", err)
		if f.out != "" {
			fmt.Fprintf(stderr, "enricher enrich: rerun with -resume to continue\n")
		}
		return 1
	}
	return 0
}

// enrichRun is one run: the client, the input, the batch settings, the output and its state.
type enrichRun struct {
	c         *restclient.Client
	entities  []map[string]any
	base      restclient.BatchRequest // the options line: every field but Entities and SelectedIndices
	out       io.Writer
	state     *runState
	statePath string // empty when writing to stdout
	done      map[int]bool
	prog      *progress
}

func enrich(ctx context.Context, f *enrichFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	entities, err := readEntities(f.in, f.format, stdin)
	if err != nil {
		return err
	}
	var opts []restclient.Option
	if f.key != "" {
		opts = append(opts, restclient.WithAPIKey(f.key))
	}
	r := &enrichRun{c: restclient.New(f.server, opts...), entities: entities, out: stdout}
	r.base = restclient.BatchRequest{Models: splitList(f.models), Languages: splitList(f.languages), Strategy: f.strategy,
		VerifyFields: splitList(f.verifyFields), Execution: f.execution}
	if raw, err := os.ReadFile(f.schema); err == nil {
		if !json.Valid(raw) {
			return fmt.Errorf("-schema %s is not JSON", f.schema)
		}
		r.base.TargetSchema = raw
	} else {
		r.base.SchemaID = f.schema
	}
	priorFailed, priorCost := 0, 0.0
	r.done = map[int]bool{}
	if f.out != "" {
		if priorFailed, priorCost, err = r.openOutput(f, len(entities)); err != nil {
			return err
		}
		defer r.out.(*os.File).Close()
	}
	r.prog = newProgress(stderr, isTerminal(stderr), len(entities), len(r.done), priorFailed, priorCost)
	if err := r.runAll(ctx); err != nil {
		return err
	}
	r.prog.finish()
	if missing := len(entities) - len(r.done); missing > 0 {
		return fmt.Errorf("%d entities have no result (their batch job was cancelled or failed)", missing)
	}
	return nil
}

// openOutput opens the output file and its state: fresh (truncating both), or resumed.
func (r *enrichRun) openOutput(f *enrichFlags, entities int) (failed int, cost float64, err error) {
	r.statePath = f.out + ".state"
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if f.resume {
		if r.state, err = loadState(r.statePath); err != nil {
			return 0, 0, err
		}
	}
	fp, err := fingerprintOf(r.entities, r.base)
	if err != nil {
		return 0, 0, err
	}
	if r.state == nil {
		r.state = newRunState(entities, fp)
		flags |= os.O_TRUNC
	} else {
		if r.state.Entities != entities || r.state.Fingerprint != fp {
			return 0, 0, errors.New("the input or the -schema, -models, -strategy or -languages settings differ from the interrupted run's")
		}
		if r.done, failed, cost, err = priorOutput(f.out, entities); err != nil {
			return 0, 0, err
		}
	}
	if err := r.state.save(r.statePath); err != nil {
		return 0, 0, err
	}
	out, err := os.OpenFile(f.out, flags, 0o644)
	if err != nil {
		return 0, 0, err
	}
	r.out = out
	return failed, cost, nil
}

// missing lists the indices without an output line.
func (r *enrichRun) missing() []int {
	var out []int
	for i := range r.entities {
		if !r.done[i] {
			out = append(out, i)
		}
	}
	return out
}

// runAll gives every entity its output line: it first follows the jobs started by an earlier
// run (they may still be running, or have finished entities whose lines were lost), then
// starts one NDJSON batch of the whole input for the entities still missing (selected by
// selected_indices), unless none is.
func (r *enrichRun) runAll(ctx context.Context) error {
	if r.state != nil {
		for _, id := range r.state.Jobs {
			if len(r.missing()) == 0 {
				return nil
			}
			if err := r.follow(ctx, id); err != nil && restclient.StatusOf(err) != 404 {
				return err // a 404 is a job past its retention: its entities are started again
			}
		}
	}
	missing := r.missing()
	if len(missing) == 0 {
		return nil
	}
	opts := r.base
	if len(missing) < len(r.entities) {
		opts.SelectedIndices = missing
	}
	var start []restclient.StartOption
	if r.state != nil {
		start = append(start, restclient.IdempotencyKey(r.state.idempotencyKey()))
	}
	entities := func(yield func(any) bool) {
		for _, e := range r.entities {
			if !yield(e) {
				return
			}
		}
	}
	started, err := r.c.StartBatchEntities(ctx, opts, entities, start...)
	if err != nil {
		return fmt.Errorf("start the batch of %d entities: %w", len(r.entities), err)
	}
	if r.state != nil {
		r.state.Jobs = append(r.state.Jobs, started.JobID)
		if err := r.state.save(r.statePath); err != nil {
			return err
		}
	}
	return r.follow(ctx, started.JobID)
}

// resultLine is one output line: an entity's final result, its records, cost and error.
type resultLine struct {
	Index     int             `json:"index"`
	Entity    string          `json:"entity"`
	Success   bool            `json:"success"`
	Skipped   bool            `json:"skipped"`
	Result    json.RawMessage `json:"result"`
	RecordID  *string         `json:"record_id"`
	RecordIDs []string        `json:"record_ids"`
	Models    []string        `json:"models"`
	CostUSD   float64         `json:"cost_usd"`
	JobID     string          `json:"job_id"`
	Error     *string         `json:"error"`
}

// follow streams job id from its first event and writes the line of every completed entity
// that has none yet.
func (r *enrichRun) follow(ctx context.Context, id string) error {
	for ev, err := range r.c.Stream(ctx, id, 0) {
		if err != nil {
			return fmt.Errorf("follow job %s: %w", id, err)
		}
		if ev.Type != enricher.EventEntityCompleted {
			continue
		}
		var p enricher.EntityCompletedEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("job %s event %d: %w", id, ev.ID, err)
		}
		idx := p.EntityIndex
		if idx < 0 || idx >= len(r.entities) || r.done[idx] {
			continue
		}
		line, err := r.lineOf(ctx, id, idx, &p)
		if err != nil {
			return err
		}
		if _, err := r.out.Write(line); err != nil {
			return err
		}
		r.done[idx] = true
		r.prog.add(p.Success, p.CostUSD)
	}
	return nil
}

// lineOf builds the output line of entity idx from its entity_completed payload; a payload
// truncated for size has its final result read from the final record.
func (r *enrichRun) lineOf(ctx context.Context, jobID string, idx int, p *enricher.EntityCompletedEvent) ([]byte, error) {
	l := resultLine{Index: idx, Entity: p.EntityLabel, Success: p.Success, Skipped: p.Skipped, Result: p.FinalResult,
		RecordID: p.FinalRecordID, RecordIDs: []string{}, Models: []string{}, CostUSD: p.CostUSD, JobID: jobID, Error: p.ErrorMessage}
	var problems []string
	for _, m := range p.Results {
		l.Models = append(l.Models, m.Model)
		if m.RecordID != nil {
			l.RecordIDs = append(l.RecordIDs, *m.RecordID)
		}
		if !m.Success && m.ErrorMessage != nil {
			problems = append(problems, m.Model+": "+*m.ErrorMessage)
		}
	}
	if p.Fusion != nil && p.Fusion.RecordID != nil {
		l.RecordIDs = append(l.RecordIDs, *p.Fusion.RecordID)
	}
	if l.Error == nil && !p.Success && len(problems) > 0 {
		msg := strings.Join(problems, "; ")
		l.Error = &msg
	}
	if p.IsTruncated && p.FinalRecordID != nil {
		rec, err := r.c.GetRecord(ctx, *p.FinalRecordID)
		if err != nil {
			return nil, fmt.Errorf("read record %s: %w", *p.FinalRecordID, err)
		}
		l.Result = rec.StructuredOutput
	}
	if len(l.Result) == 0 {
		l.Result = json.RawMessage("null")
	}
	b, err := json.Marshal(l)
	return append(b, '\n'), err
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
