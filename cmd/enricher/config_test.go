package main

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// durationCase is one parse of a duration setting: its env and args, and the value or the
// error (naming the setting) expected.
type durationCase struct {
	name    string
	env     map[string]string
	args    []string
	want    time.Duration
	wantErr string
}

// testDurationSetting parses each case and checks the setting get reads.
func testDurationSetting(t *testing.T, tests []durationCase, get func(*Config) time.Duration) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, get(cfg))
		})
	}
}

func TestParseConfigRetryMaxWait(t *testing.T) {
	t.Parallel()
	testDurationSetting(t, []durationCase{
		{name: "default", want: 2 * time.Minute},
		{name: "env", env: map[string]string{"ENRICHER_RETRY_MAX_WAIT": "45s"}, want: 45 * time.Second},
		{name: "flag wins over env", env: map[string]string{"ENRICHER_RETRY_MAX_WAIT": "45s"}, args: []string{"-retry-max-wait", "5m"},
			want: 5 * time.Minute},
		{name: "zero means no cap", args: []string{"-retry-max-wait", "0s"}, want: 0},
		{name: "negative", env: map[string]string{"ENRICHER_RETRY_MAX_WAIT": "-1s"}, wantErr: "ENRICHER_RETRY_MAX_WAIT"},
		{name: "negative flag", args: []string{"-retry-max-wait", "-3s"}, wantErr: "retry-max-wait"},
		{name: "not a duration", env: map[string]string{"ENRICHER_RETRY_MAX_WAIT": "soon"}, wantErr: "ENRICHER_RETRY_MAX_WAIT"},
	}, func(c *Config) time.Duration { return c.Engine.Retry.MaxTotalWait })
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
			require.Equal(t, tt.trim, cfg.Storage.TrimInterval >= 0, "trim_value_logs")
			require.Equal(t, tt.memLimit, cfg.Server.MemoryLimitMB)
			require.Equal(t, tt.pprof, cfg.Server.PprofListen)
		})
	}
}

// TestParseConfigFillsPackageConfigs: each setting lands in the config of the package that
// uses it, in that package's terms, and a setting two packages share reaches both.
func TestParseConfigFillsPackageConfigs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, c *Config)
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			require.False(t, c.API.DisableSignup, "allow_signup defaults to true")
			require.False(t, c.Engine.ProviderFixed, "provider_adaptive defaults to true")
			require.Equal(t, 6, c.Engine.MaxAttempts, "5 validation retries: 6 attempts")
			require.Equal(t, 3, c.Engine.Retry.Retries)
			require.EqualValues(t, 1024<<20, c.Storage.MinFreeBytes)
			require.Equal(t, "./data", c.Storage.Dir)
			require.Equal(t, 10000, c.Fetch.MaxEntities, "fetch takes max_batch_entities")
			require.Equal(t, 1000, c.API.MaxSchemasPerOrg, "the API takes max_schemas_per_org")
			require.EqualValues(t, 20<<20, c.Fetch.MaxBytes)
			require.Equal(t, webhookTimeout, c.Engine.Webhooks.AttemptTimeout)
		}},
		{name: "env", env: map[string]string{"ENRICHER_ALLOW_SIGNUP": "false", "ENRICHER_PROVIDER_ADAPTIVE": "false",
			"ENRICHER_MAX_VALIDATION_RETRIES": "0", "ENRICHER_LLM_RETRIES": "0", "ENRICHER_MIN_FREE_DISK_MB": "500",
			"ENRICHER_MAX_BATCH_ENTITIES": "7", "ENRICHER_MAX_SCHEMAS_PER_ORG": "9"}, check: func(t *testing.T, c *Config) {
			require.True(t, c.API.DisableSignup)
			require.True(t, c.Engine.ProviderFixed)
			require.Equal(t, 1, c.Engine.MaxAttempts, "no validation retry: one attempt")
			require.Equal(t, -1, c.Engine.Retry.Retries, "no transport retry (the policy's zero is its default)")
			require.EqualValues(t, 500<<20, c.Storage.MinFreeBytes)
			require.Equal(t, 7, c.API.Limits.MaxBatchEntities)
			require.Equal(t, 7, c.Fetch.MaxEntities)
			require.Equal(t, 9, c.Engine.MaxSchemasPerOrg)
			require.Equal(t, 9, c.API.MaxSchemasPerOrg)
		}},
		{name: "bare boolean flags", env: map[string]string{"ENRICHER_ALLOW_SIGNUP": "false", "ENRICHER_TRIM_VALUE_LOGS": "false"},
			args: []string{"--allow-signup", "--trim-value-logs", "--provider-adaptive=false"}, check: func(t *testing.T, c *Config) {
				require.False(t, c.API.DisableSignup, "a bare flag means true and wins over its variable")
				require.Zero(t, c.Storage.TrimInterval, "trimming on: storage's default interval")
				require.True(t, c.Engine.ProviderFixed)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
	for _, bad := range []map[string]string{{"ENRICHER_LLM_RETRIES": "-1"}, {"ENRICHER_MAX_VALIDATION_RETRIES": "-1"},
		{"ENRICHER_MIN_FREE_DISK_MB": "-1"}, {"ENRICHER_MAX_BATCH_ENTITIES": "0"}} {
		_, err := parseConfig(nil, func(k string) string { return bad[k] }, io.Discard)
		require.Error(t, err, "%v", bad)
	}
}

func TestParseConfigPurgeInterval(t *testing.T) {
	t.Parallel()
	testDurationSetting(t, []durationCase{
		{name: "default", want: 10 * time.Minute},
		{name: "env", env: map[string]string{"ENRICHER_PURGE_INTERVAL": "1h"}, want: time.Hour},
		{name: "flag wins over env", env: map[string]string{"ENRICHER_PURGE_INTERVAL": "1h"}, args: []string{"--purge-interval", "30s"},
			want: 30 * time.Second},
		{name: "zero turns it off", args: []string{"--purge-interval", "0"}, want: 0},
		{name: "negative", env: map[string]string{"ENRICHER_PURGE_INTERVAL": "-1m"}, wantErr: "ENRICHER_PURGE_INTERVAL"},
		{name: "negative retention", args: []string{"--job-retention", "-1h"}, wantErr: "job-retention"},
	}, func(c *Config) time.Duration { return c.Server.PurgeInterval })
}

// An Idempotency-Key outliving its job would replay onto a deleted job: a key is remembered
// at most job_retention (counted from the job's end, so the key never outlives it).
func TestParseConfigIdempotencyWithinRetention(t *testing.T) {
	t.Parallel()
	testDurationSetting(t, []durationCase{
		{name: "defaults", want: 24 * time.Hour},
		{name: "shorter key", env: map[string]string{"ENRICHER_IDEMPOTENCY_TTL": "1h"}, want: time.Hour},
		{name: "longer key", env: map[string]string{"ENRICHER_IDEMPOTENCY_TTL": "48h"}, want: 24 * time.Hour},
		{name: "longer both", env: map[string]string{"ENRICHER_IDEMPOTENCY_TTL": "48h", "ENRICHER_JOB_RETENTION": "72h"}, want: 48 * time.Hour},
		{name: "shorter retention", args: []string{"--job-retention", "1h"}, want: time.Hour},
	}, func(c *Config) time.Duration { return c.API.IdempotencyTTL })
}

// A cluster needs the shared database; its caps are then counted there. One node counts them
// in memory, so the store does not.
func TestParseConfigCluster(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		wantErr  string
		provider string
		dbCaps   [2]int
		capAll   int // cluster_provider_concurrency
	}{
		{name: "default: one node", provider: "none"},
		{name: "without database_url", env: map[string]string{"ENRICHER_CLUSTER_PROVIDER": "etcd"}, wantErr: "cluster_provider etcd needs database_url"},
		{name: "unknown provider", env: map[string]string{"ENRICHER_CLUSTER_PROVIDER": "zk", "ENRICHER_DATABASE_URL": "postgres://x"},
			wantErr: "cluster_provider must be none, etcd, k8s or automanaged"},
		{name: "bad advertise", env: map[string]string{"ENRICHER_CLUSTER_PROVIDER": "etcd", "ENRICHER_DATABASE_URL": "postgres://x",
			"ENRICHER_CLUSTER_ADVERTISE": "node1"}, wantErr: "cluster_advertise"},
		{name: "etcd", env: map[string]string{"ENRICHER_CLUSTER_PROVIDER": "etcd", "ENRICHER_DATABASE_URL": "postgres://x",
			"ENRICHER_MAX_JOBS": "30", "ENRICHER_MAX_JOBS_PER_ORG": "3"}, provider: "etcd", dbCaps: [2]int{30, 3}},
		{name: "cluster-wide provider cap", env: map[string]string{"ENRICHER_CLUSTER_PROVIDER": "etcd", "ENRICHER_DATABASE_URL": "postgres://x",
			"ENRICHER_CLUSTER_PROVIDER_CONCURRENCY": "50"}, provider: "etcd", dbCaps: [2]int{200, 20}, capAll: 50},
		{name: "cluster-wide provider cap without a cluster", env: map[string]string{"ENRICHER_CLUSTER_PROVIDER_CONCURRENCY": "50"},
			wantErr: "cluster_provider_concurrency needs a cluster"},
		{name: "negative cluster-wide provider cap", env: map[string]string{"ENRICHER_CLUSTER_PROVIDER": "etcd", "ENRICHER_DATABASE_URL": "postgres://x",
			"ENRICHER_CLUSTER_PROVIDER_CONCURRENCY": "-1"}, wantErr: "cluster_provider_concurrency must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseConfig(nil, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.provider, cfg.Cluster.Provider)
			require.Equal(t, tt.dbCaps, [2]int{cfg.Postgres.MaxJobs, cfg.Postgres.MaxJobsPerOrg})
			require.Equal(t, tt.capAll, cfg.Engine.ClusterProviderConcurrency)
		})
	}
}

// The cluster's address lists are comma-separated settings: blanks are dropped, and the flag
// wins over the environment.
func TestParseConfigClusterLists(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ENRICHER_CLUSTER_PROVIDER": "etcd", "ENRICHER_DATABASE_URL": "postgres://x",
		"ENRICHER_CLUSTER_ETCD": " 10.0.0.1:2379, 10.0.0.2:2379,,", "ENRICHER_CLUSTER_PEERS": "a:6330,b:6330"}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"10.0.0.1:2379", "10.0.0.2:2379"}, cfg.Cluster.Etcd)
	require.Equal(t, []string{"a:6330", "b:6330"}, cfg.Cluster.Peers)

	cfg, err = parseConfig([]string{"--cluster-peers", "c:1"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"c:1"}, cfg.Cluster.Peers)

	cfg, err = parseConfig(nil, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.1:2379"}, cfg.Cluster.Etcd, "the default")
}
