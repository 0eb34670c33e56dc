package api

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// endedStream is a stream whose stored log is exhausted at once, ending with end: io.EOF (a
// job that is not running here), or the engine's shutdown error (it stops).
type endedStream struct{ end error }

func (e endedStream) Next(context.Context, time.Duration) (enricher.StreamEvent, bool, error) {
	return enricher.StreamEvent{}, false, e.end
}
func (endedStream) Close() {}

// stoppedEngine is an Engine whose job job1 is stored with status and does not run here; while
// stopping, its streams end as the engine's do at shutdown.
type stoppedEngine struct {
	Engine
	status   enricher.JobStatus
	stopping bool
}

func (e stoppedEngine) Subscribe(string, string, int64) (enricher.EventStream, error) {
	if e.stopping && !e.status.Terminal() {
		return endedStream{end: enricher.Errorf(enricher.KindUnavailable, "server is shutting down")}, nil
	}
	return endedStream{end: io.EOF}, nil
}

func (e stoppedEngine) Job(org, id string) (*enricher.Job, error) {
	return &enricher.Job{ID: id, OrganizationID: org, Status: e.status}, nil
}

// TestWaitTerminalAtShutdown: a blocking wait whose job's stream ends without the job ending
// answers "shutting down" (503) while the server stops, "still running" (no job, no error:
// 504) otherwise, and the job once it is terminal. A sync start cut by a shutdown before its
// wait followed the job was once answered 504: the engine's stream ended as if the job's log
// were complete (actors.TestSubscribeWhileStopping covers the engine's side).
func TestWaitTerminalAtShutdown(t *testing.T) {
	tests := []struct {
		name     string
		status   enricher.JobStatus
		stopping bool
		wantJob  bool
		wantErr  bool // a KindUnavailable error
	}{
		{"stopping", enricher.JobRunning, true, false, true},
		{"running elsewhere", enricher.JobRunning, false, false, false},
		{"ended", enricher.JobCompleted, true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{closing: context.Background()}
			s.deps.Engine = stoppedEngine{status: tt.status, stopping: tt.stopping}
			s.stopping.Store(tt.stopping)
			j, err := s.waitTerminal("org1", "job1", time.Now().Add(time.Minute))
			if tt.wantErr {
				require.True(t, enricher.IsKind(err, enricher.KindUnavailable), "error %v", err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantJob, j != nil)
		})
	}
}
