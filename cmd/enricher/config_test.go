package main

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseConfigRetryMaxWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    time.Duration
		wantErr string
	}{
		{name: "default", want: 2 * time.Minute},
		{name: "env", env: map[string]string{"ENRICHER_RETRY_MAX_WAIT": "45s"}, want: 45 * time.Second},
		{name: "flag wins over env", env: map[string]string{"ENRICHER_RETRY_MAX_WAIT": "45s"}, args: []string{"-retry-max-wait", "5m"},
			want: 5 * time.Minute},
		{name: "zero means no cap", args: []string{"-retry-max-wait", "0s"}, want: 0},
		{name: "negative", env: map[string]string{"ENRICHER_RETRY_MAX_WAIT": "-1s"}, wantErr: "ENRICHER_RETRY_MAX_WAIT"},
		{name: "negative flag", args: []string{"-retry-max-wait", "-3s"}, wantErr: "retry-max-wait"},
		{name: "not a duration", env: map[string]string{"ENRICHER_RETRY_MAX_WAIT": "soon"}, wantErr: "ENRICHER_RETRY_MAX_WAIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.RetryMaxWait)
		})
	}
}

func TestParseConfigResourceSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		trim     bool
		memLimit int
		pprof    string
	}{
		{name: "defaults", trim: true},
		{name: "env", env: map[string]string{"ENRICHER_TRIM_VALUE_LOGS": "false", "ENRICHER_MEMORY_LIMIT_MB": "700",
			"ENRICHER_PPROF_LISTEN": "127.0.0.1:6060"}, memLimit: 700, pprof: "127.0.0.1:6060"},
		{name: "flags", args: []string{"-trim-value-logs=false", "-memory-limit-mb", "512"}, memLimit: 512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			require.NoError(t, err)
			require.Equal(t, tt.trim, cfg.TrimValueLogs)
			require.Equal(t, tt.memLimit, cfg.MemoryLimitMB)
			require.Equal(t, tt.pprof, cfg.PprofListen)
		})
	}
}
