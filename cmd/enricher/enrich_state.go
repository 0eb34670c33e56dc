package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
)

// runState is what `enricher enrich` keeps next to its output (<out>.state) so that an
// interrupted run can resume: the run's id (the root of its idempotency keys), the input size,
// a fingerprint of the input and batch settings, and the batch jobs started for the input,
// oldest first (one, unless a job was cancelled, failed or expired and a resume started
// another for the entities it left).
type runState struct {
	RunID       string   `json:"run_id"`
	Entities    int      `json:"entities"`
	Fingerprint string   `json:"fingerprint"`
	Jobs        []string `json:"jobs"`
}

func newRunState(entities int, fingerprint string) *runState {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &runState{RunID: hex.EncodeToString(b), Entities: entities, Fingerprint: fingerprint}
}

// fingerprintOf is the hex SHA-256 of the JSON of the entities and the batch settings (maps
// encode with sorted keys, so equal inputs give equal fingerprints).
func fingerprintOf(entities []map[string]any, settings any) (string, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	if err := enc.Encode(entities); err != nil {
		return "", err
	}
	if err := enc.Encode(settings); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// idempotencyKey is the key of the next job start. A start that reached the server but not
// the state file (killed in between) is repeated with the same key and the same bytes (the
// output is unchanged, so the body is too), so the server hands back the job it already
// started instead of a second one.
func (s *runState) idempotencyKey() string {
	return fmt.Sprintf("enrich-%s-%d", s.RunID, len(s.Jobs))
}

// loadState reads path; a missing file is (nil, nil).
func loadState(path string) (*runState, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s runState
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: the state of another version of enricher, or damaged: %w", path, err)
	}
	return &s, nil
}

// save writes s to path atomically: a temporary file, synced, renamed over path.
func (s *runState) save(path string) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// priorLine is what a resumed run needs from a line already in the output.
type priorLine struct {
	Index   *int    `json:"index"`
	Success bool    `json:"success"`
	CostUSD float64 `json:"cost_usd"`
}

// priorOutput reads the complete lines of an output file, cuts off a trailing partial line
// (written when the process was killed mid-write) and returns the lines' indices, failures
// and cost. A missing file is empty.
func priorOutput(path string, entities int) (done map[int]bool, failed int, cost float64, err error) {
	done = map[int]bool{}
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return done, 0, 0, nil
	}
	if err != nil {
		return nil, 0, 0, err
	}
	complete := raw[:bytes.LastIndexByte(raw, '\n')+1]
	if len(complete) < len(raw) {
		if err := os.Truncate(path, int64(len(complete))); err != nil {
			return nil, 0, 0, err
		}
	}
	for n, line := range bytes.Split(complete, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l priorLine
		if err := json.Unmarshal(line, &l); err != nil || l.Index == nil || *l.Index < 0 || *l.Index >= entities {
			return nil, 0, 0, fmt.Errorf("%s line %d is not a result line of this input", path, n+1)
		}
		if done[*l.Index] {
			continue
		}
		done[*l.Index] = true
		cost += l.CostUSD
		if !l.Success {
			failed++
		}
	}
	return done, failed, cost, nil
}
