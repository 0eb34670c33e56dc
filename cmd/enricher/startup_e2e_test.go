package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every failed start of `enricher serve` prints one line naming the cause and exits non-zero;
// none panics (a failed Open used to close a nil *Main). Each case runs the real command line in
// process; the data directory case holds the directory with a separate server process, as a
// second start on the same machine would meet it.
func TestServeStartupFailures(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = busy.Close() })
	busyAddr := busy.Addr().String()

	lockedDir := t.TempDir()
	holder, _ := startChild(t, lockedDir)

	badModels := filepath.Join(t.TempDir(), "models.json")
	require.NoError(t, os.WriteFile(badModels, []byte("{\"models\": [\n  {\"key\": \"openai::gpt-4o\", \"input_price\": 2},\n  {\"key\": \"nowhere::model\"}\n]}\n"), 0o600))

	tests := []struct {
		name string
		args []string
		env  map[string]string
		dir  string // data dir; default a fresh one
		code int
		line string
	}{
		{name: "port in use", args: []string{"--listen", busyAddr}, code: 1,
			line: "enricher serve: listen " + busyAddr + ": address already in use"},
		{name: "metrics port in use", args: []string{"--metrics-listen", busyAddr}, code: 1,
			line: "enricher serve: metrics_listen: listen " + busyAddr + ": address already in use"},
		{name: "pprof port in use", args: []string{"--pprof-listen", busyAddr}, code: 1,
			line: "enricher serve: pprof_listen: listen " + busyAddr + ": address already in use"},
		{name: "data dir held by another server", dir: lockedDir, code: 1,
			line: fmt.Sprintf("enricher serve: data dir %s is locked by another enricher (pid %d)", lockedDir, holder.Process.Pid)},
		{name: "models file entry", args: []string{"--models-file", badModels}, code: 1,
			line: "enricher serve: models file " + badModels + `: line 3: models[1] ("nowhere::model"): unknown provider "nowhere"`},
		{name: "models file missing", args: []string{"--models-file", "/nonexistent/models.json"}, code: 1,
			line: "enricher serve: models file: open /nonexistent/models.json: no such file or directory"},
		{name: "bad flag value", args: []string{"--max-jobs", "many"}, code: 2,
			line: `enricher serve: invalid value "many" for flag -max-jobs: not an integer (enricher serve -h lists every setting)`},
		{name: "bad env value", env: map[string]string{"ENRICHER_SHUTDOWN_GRACE": "soon"}, code: 2,
			line: `enricher serve: ENRICHER_SHUTDOWN_GRACE="soon": not a duration such as 90s or 15m (enricher serve -h lists every setting)`},
		{name: "out of range value", env: map[string]string{"ENRICHER_SSE_BUFFER": "0"}, code: 2,
			line: "enricher serve: sse_buffer (ENRICHER_SSE_BUFFER, --sse-buffer) must be positive, got 0 (enricher serve -h lists every setting)"},
		{name: "bad bootstrap key", env: map[string]string{"ENRICHER_BOOTSTRAP_KEY": "secret"}, code: 2,
			line: "enricher serve: bootstrap_key must match ^ent_[A-Za-z0-9_-]{32,}$ (enricher serve -h lists every setting)"},
		{name: "unknown flag", args: []string{"--colour"}, code: 2,
			line: "enricher serve: flag provided but not defined: -colour (enricher serve -h lists every setting)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = t.TempDir()
			}
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"}, tt.args...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			require.Equal(t, tt.code, code, stderr.String())
			require.Equal(t, tt.line+"\n", stderr.String(), "exactly one line on stderr")
			require.Empty(t, stdout.String())
		})
	}
}

// Help is not an error: `serve -h` lists every setting on stdout and exits 0.
func TestServeHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"serve", arg}, func(string) string { return "" }, &stdout, &stderr)
		require.Equal(t, 0, code)
		require.Empty(t, stderr.String())
		for _, s := range (&Config{}).settings() {
			require.Regexp(t, "(?m)^  -"+flagName(s.name)+"( value)?$", stdout.String(), "setting %s listed", s.name)
			require.Contains(t, stdout.String(), envName(s.name))
		}
		require.True(t, strings.HasPrefix(stdout.String(), "usage: enricher serve [flags]\n"))
	}
}

// One error per line from errors.Join (e.g. several checks failing in Open) is still one line.
func TestOneLine(t *testing.T) {
	t.Parallel()
	require.Equal(t, "disk: 1 MiB free; models file: line 2: x", oneLine(fmt.Errorf("%w", joinErrs("disk: 1 MiB free", "models file: line 2: x"))))
}

func joinErrs(msgs ...string) error {
	var errs []error
	for _, m := range msgs {
		errs = append(errs, errors.New(m))
	}
	return errors.Join(errs...)
}
