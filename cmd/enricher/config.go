package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/actors/cluster"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/storage/postgres"
	"github.com/entity-enricher/enricher/transport/api"
	"github.com/entity-enricher/enricher/transport/fetch"
)

// Config is every setting of the server, read from ENRICHER_* variables and flags (a flag wins
// over its variable) straight into the configs of the packages that use them: one struct per
// package, each field's default documented next to it there, and in the settings table below
// as the value a setting starts from (the README lists the same). parseConfig fills and
// validates it once; Open then hands each sub-config to its package, adding only what the
// process provides at run time (logger, clock, metrics, the token secret).
type Config struct {
	Server   ServerConfig    // the process itself: listeners, memory, logs, credentials, catalog
	Storage  storage.Config  // data_dir, sync_writes, trim_value_logs, min_free_disk_mb
	Postgres postgres.Config // database_url: when set, PostgreSQL replaces the data dir
	Engine   actors.Config   // jobs, provider calls, events and subscribers, webhook deliveries
	API      api.Config      // request limits, tokens, rate limit, streams, retention
	Fetch    fetch.Config    // batch fetch (webhook deliveries share its address rule)
	Cluster  cluster.Config  // cluster_*: several nodes as one (needs database_url)
}

// ServerConfig holds the settings cmd/enricher uses itself.
type ServerConfig struct {
	Listen        string        // main listener address; default ":8080"
	MetricsListen string        // separate /metrics listener; default "": served on Listen, admin only
	PprofListen   string        // /debug/pprof listener; default "": off
	MemoryLimitMB int           // soft Go heap limit in MiB; default 0: the runtime's (GOMEMLIMIT)
	ShutdownGrace time.Duration // time to finish in-flight requests at shutdown; default 30s
	BootstrapKey  string        // organization admin key installed at start; default "": none
	TokenSecret   string        // access-token secret; default "": generated once, kept in the data dir
	ModelsFile    string        // extra providers and models (JSON); default "": none
	SimSeed       int           // seed of the sim provider; default 0
	LogLevel      string        // debug, info, warn or error; default "info"
	LogFormat     string        // text or json; default "text"
	PurgeInterval time.Duration // how often finished jobs past job_retention are deleted; default 10m, 0: never
}

// webhookTimeout bounds one webhook delivery attempt (fixed by the contract).
const webhookTimeout = 10 * time.Second

// setting binds one named setting to a field of a sub-config.
type setting struct {
	name  string // snake_case name, as in the README; the flag is --name-with-dashes
	usage string
	def   string
	ptr   any // *string, *bool, *int, *int64, *float64, *time.Duration, *[]time.Duration (comma-separated) or a flag.Value
}

func (c *Config) settings() []setting {
	sv, st, pg, en, ap, fe, cl := &c.Server, &c.Storage, &c.Postgres, &c.Engine, &c.API, &c.Fetch, &c.Cluster
	return []setting{
		{"listen", "main listener address", ":8080", &sv.Listen},
		{"metrics_listen", "separate listener for /metrics (empty: served on the main listener, admin only)", "", &sv.MetricsListen},
		{"pprof_listen", "listener for Go's /debug/pprof profiles (empty: off; bind it to loopback, it has no auth)", "", &sv.PprofListen},
		{"memory_limit_mb", "soft limit of the Go heap in MiB (runtime/debug.SetMemoryLimit); 0: the runtime's default (GOMEMLIMIT)", "0", &sv.MemoryLimitMB},
		{"data_dir", "storage directory", "./data", &st.Dir},
		{"database_url", "PostgreSQL connection URL (postgres://user:password@host:port/db?sslmode=...); when set, everything is stored there instead of data_dir", "", &pg.URL},
		{"cluster_provider", "membership of a cluster of nodes: none (one node), etcd, k8s or automanaged; other than none needs database_url", "none", &cl.Provider},
		{"cluster_name", "name of the cluster: nodes of one name form one cluster", "enricher", &cl.Name},
		{"cluster_advertise", "host:port of this node's cluster endpoint (gRPC), bound and told to the other nodes; port 0 picks a free one", "127.0.0.1:0", &cl.Advertise},
		{"cluster_etcd", "etcd endpoints, comma-separated (cluster_provider etcd)", "127.0.0.1:2379", &cl.Etcd},
		{"cluster_peers", "host:port of every node's automanaged endpoint, comma-separated, this node's included (cluster_provider automanaged)", "", &cl.Peers},
		{"cluster_provider_concurrency", "cap of calls in flight per provider on all the nodes of the cluster together, shared through the database (0: none; each node has only provider_concurrency)", "0", &en.ClusterProviderConcurrency},
		{"cluster_automanaged_port", "port of this node's automanaged endpoint, bound on every interface (cluster_provider automanaged)", "6330", &cl.AutomanagedPort},
		{"sync_writes", "fsync every write (survives power loss)", "false", &st.SyncWrites},
		{"trim_value_logs", "hand the memory of value-log and table files no longer written back to the kernel (Linux); reading old values then costs a disk read", "true", trimSetting{&st.TrimInterval}},
		{"shutdown_grace", "time to finish in-flight requests at shutdown", "30s", &sv.ShutdownGrace},
		{"bootstrap_key", "organization access key (role admin) installed at start; ^ent_[A-Za-z0-9_-]{32,}$", "", &sv.BootstrapKey},
		{"allow_signup", "allow POST /api/auth/register once the instance has a user", "true", negated{&ap.DisableSignup}},
		{"token_secret", "access-token signing secret (default: generated once, kept in storage)", "", &sv.TokenSecret},
		{"access_token_ttl", "access token lifetime", "15m", &ap.AccessTokenTTL},
		{"refresh_token_ttl", "refresh token lifetime", "168h", &ap.RefreshTokenTTL},
		{"key_usage_flush", "how often API key usage counters are written", "30s", &ap.KeyUsageFlush},
		{"rate_limit", "requests per second per credential, burst twice that (0: off)", "0", &ap.RateLimit},
		{"max_body_bytes", "largest request body (413 beyond)", "8388608", &ap.MaxBodyBytes},
		{"max_entity_bytes", "largest entity, as compact JSON", "65536", &ap.Limits.MaxEntityBytes},
		{"max_models", "models per request and fusion inputs", "10", &ap.Limits.MaxModels},
		{"max_languages", "languages per request", "10", &ap.Limits.MaxLanguages},
		{"max_batch_entities", "entities per batch (JSON form)", "10000", &ap.Limits.MaxBatchEntities},
		{"max_batch_entities_stream", "entities per NDJSON batch", "1000000", &ap.Limits.MaxBatchEntitiesStream},
		{"max_stream_body_bytes", "largest NDJSON batch body, read as it streams (413 beyond)", "4294967296", &ap.MaxStreamBodyBytes},
		{"batch_concurrency", "entities in flight per batch", "8", &en.BatchConcurrency},
		{"max_jobs_per_org", "non-terminal jobs per organization", "20", &en.MaxJobsPerOrg},
		{"max_jobs", "non-terminal jobs on the server", "200", &en.MaxJobs},
		{"max_schemas_per_org", "live saved schemas per organization", "1000", &en.MaxSchemasPerOrg},
		{"max_validation_retries", "self-correction turns after an invalid answer", "5", plusOne{&en.MaxAttempts}},
		{"llm_retries", "transport retries of one provider call", "3", retriesSetting{&en.Retry.Retries}},
		{"retry_max_wait", "cap on the total backoff wait of one provider call's retries (0: no cap)", "2m", &en.Retry.MaxTotalWait},
		{"llm_timeout", "timeout of one provider call", "120s", &en.LLMTimeout},
		{"llm_max_output_tokens", "answer token cap of one provider call", "8192", &en.MaxOutputTokens},
		{"provider_concurrency", "ceiling of calls in flight per provider (the limit adapts below it)", "8", &en.ProviderConcurrency},
		{"provider_adaptive", "adapt each provider's limit of calls in flight (AIMD: grow on successes, halve on 429, overload and timeouts); false keeps it at provider_concurrency", "true", negated{&en.ProviderFixed}},
		{"provider_queue", "calls per provider that running work may hold (waiting or in flight); batches wait for room within it and new jobs get 429 past it", "1000", &en.ProviderQueue},
		{"provider_batch_poll", "interval between two looks at an open vendor batch (execution provider_batch)", "30s", &en.ProviderBatch.Poll},
		{"provider_batch_window", "how long a vendor batch may stay open; past it, it is cancelled and its open calls are made realtime", "24h", &en.ProviderBatch.Window},
		{"provider_batch_linger", "how long a model's calls gather after the last one came before they are submitted as a vendor batch", "2s", &en.ProviderBatch.Linger},
		{"provider_batch_max", "most requests of one vendor batch, and entities in flight of a provider_batch job", "1000", &en.ProviderBatch.Max},
		{"min_free_disk_mb", "free MiB the data dir's filesystem must keep: the server refuses to start below it; running, it refuses writes with 507 and holds job writes until space is back above it plus 10 % (0: off; else at least 256)", "1024", mebibytes{&st.MinFreeBytes}},
		{"pause_timeout", "how long a paused job waits for continue or cancel", "300s", &en.PauseTimeout},
		{"sync_max_timeout", "upper bound of timeout_seconds on blocking endpoints", "600s", &ap.SyncMaxTimeout},
		{"classify_max_chars", "entity characters shown to the classifier", "3000", &en.ClassifyMaxChars},
		{"job_retention", "how long finished jobs are kept: past it their status, events, spec and stored entities are deleted (records stay)", "24h", &ap.JobRetention},
		{"purge_interval", "how often finished jobs past job_retention are deleted (0: never)", "10m", &sv.PurgeInterval},
		{"sse_heartbeat", "interval of ': ping' comments on idle streams", "15s", &ap.SSEHeartbeat},
		{"sse_buffer", "events buffered per subscriber", "256", &en.SSEBuffer},
		{"sse_max_subscribers", "concurrent subscribers per job", "32", &en.SSEMaxSubscribers},
		{"event_max_bytes", "payload size above which an event's objects are truncated", "1048576", &en.EventMaxBytes},
		{"job_events_max_bytes", "event bytes per job above which payloads are truncated", "268435456", &en.JobEventsMaxBytes},
		{"idempotency_ttl", "how long Idempotency-Key values are remembered (at most job_retention)", "24h", &ap.IdempotencyTTL},
		{"fetch_timeout", "timeout of a batch fetch", "10s", &fe.Timeout},
		{"fetch_max_bytes", "largest batch fetch body", "20971520", &fe.MaxBytes},
		{"fetch_allow_private", "allow batch fetch and webhook URLs on private and loopback addresses", "false", &fe.AllowPrivate},
		{"webhook_concurrency", "webhook delivery attempts in flight", "4", &en.Webhooks.Concurrency},
		{"webhook_retry_schedule", "waits after failed webhook attempts, comma-separated; the last repeats until 24h after the first attempt", "5s,30s,2m,10m,1h", &en.Webhooks.Schedule},
		{"models_file", "JSON file with extra providers and models", "", &sv.ModelsFile},
		{"sim_seed", "seed of the sim provider", "0", &sv.SimSeed},
		{"log_level", "debug, info, warn or error", "info", &sv.LogLevel},
		{"log_format", "text or json", "text", &sv.LogFormat},
	}
}

// derive fills the fields that one setting sets in two packages, and the fixed ones.
func (c *Config) derive() {
	c.Fetch.MaxEntities = c.API.Limits.MaxBatchEntities // a fetched batch is a JSON-form batch
	c.API.MaxSchemasPerOrg = c.Engine.MaxSchemasPerOrg  // checked on save by both
	c.Engine.Webhooks.AttemptTimeout = webhookTimeout
	// A key never outlives its job: past job_retention (counted from the job's end) a replay
	// would find no job, so a key is remembered at most that long.
	c.API.IdempotencyTTL = min(c.API.IdempotencyTTL, c.API.JobRetention)
	if c.Cluster.Enabled() { // the caps hold for the whole cluster: counted in the shared database
		c.Postgres.MaxJobs, c.Postgres.MaxJobsPerOrg = c.Engine.MaxJobs, c.Engine.MaxJobsPerOrg
		// One node delivers every node's webhooks (cluster.OneDeliverer) and is not woken by
		// the others' writes: it looks every second.
		c.Engine.Webhooks.MaxIdle = time.Second
	}
}

// envName returns the variable of a setting: ENRICHER_ + upper-case name.
func envName(name string) string { return "ENRICHER_" + strings.ToUpper(name) }

// flagName returns the flag of a setting: the name with '_' as '-'.
func flagName(name string) string { return strings.ReplaceAll(name, "_", "-") }

// parseConfig reads defaults, then the environment (getenv), then the flags in args. With -h or
// --help it lists every setting on help and returns flag.ErrHelp; other errors are returned
// without printing anything (the caller prints them on one line).
func parseConfig(args []string, getenv func(string) string, help io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("enricher serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, s := range c.settings() {
		val := s.def
		if v := getenv(envName(s.name)); v != "" {
			val = v
		}
		if err := setValue(s.ptr, val); err != nil {
			return nil, fmt.Errorf("%s=%q: %w", envName(s.name), val, err)
		}
		fs.Var(flagValue{s.ptr}, flagName(s.name), fmt.Sprintf("%s (env %s, default %q)", s.usage, envName(s.name), s.def))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(help, "usage: enricher serve [flags]\n\nEvery setting is a flag and an ENRICHER_* environment variable; a flag wins.\n\n")
			fs.SetOutput(help)
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.derive()
	return c, c.validate()
}

func (c *Config) validate() error {
	positive := map[string]int64{
		"max_body_bytes": int64(c.API.MaxBodyBytes), "max_entity_bytes": int64(c.API.Limits.MaxEntityBytes),
		"max_models": int64(c.API.Limits.MaxModels), "max_languages": int64(c.API.Limits.MaxLanguages),
		"max_batch_entities": int64(c.API.Limits.MaxBatchEntities), "max_batch_entities_stream": int64(c.API.Limits.MaxBatchEntitiesStream),
		"max_stream_body_bytes": c.API.MaxStreamBodyBytes, "batch_concurrency": int64(c.Engine.BatchConcurrency),
		"max_jobs_per_org": int64(c.Engine.MaxJobsPerOrg), "max_jobs": int64(c.Engine.MaxJobs), "max_schemas_per_org": int64(c.Engine.MaxSchemasPerOrg),
		"provider_concurrency": int64(c.Engine.ProviderConcurrency), "provider_queue": int64(c.Engine.ProviderQueue), "sse_buffer": int64(c.Engine.SSEBuffer),
		"sse_max_subscribers": int64(c.Engine.SSEMaxSubscribers), "llm_max_output_tokens": int64(c.Engine.MaxOutputTokens),
		"webhook_concurrency": int64(c.Engine.Webhooks.Concurrency), "provider_batch_max": int64(c.Engine.ProviderBatch.Max),
	}
	for _, name := range slices.Sorted(maps.Keys(positive)) {
		if v := positive[name]; v <= 0 {
			return fmt.Errorf("%s (%s, --%s) must be positive, got %d", name, envName(name), flagName(name), v)
		}
	}
	if c.Engine.MaxAttempts < 1 || c.Engine.Retry.Retries < -1 || c.API.RateLimit < 0 || c.Engine.Retry.MaxTotalWait < 0 || c.Storage.MinFreeBytes < 0 {
		return fmt.Errorf("max_validation_retries, llm_retries, retry_max_wait, rate_limit and min_free_disk_mb must not be negative")
	}
	if pb := c.Engine.ProviderBatch; pb.Poll <= 0 || pb.Window <= 0 || pb.Linger <= 0 {
		return fmt.Errorf("provider_batch_poll, provider_batch_window and provider_batch_linger must be positive")
	}
	if c.Server.BootstrapKey != "" && !validBootstrapKey(c.Server.BootstrapKey) {
		return fmt.Errorf("bootstrap_key must match ^ent_[A-Za-z0-9_-]{32,}$")
	}
	if err := c.Cluster.Validate(); err != nil {
		return err
	}
	if c.Engine.ClusterProviderConcurrency < 0 {
		return fmt.Errorf("cluster_provider_concurrency must not be negative")
	}
	if c.Engine.ClusterProviderConcurrency > 0 && !c.Cluster.Enabled() {
		return fmt.Errorf("cluster_provider_concurrency needs a cluster (cluster_provider); one node has provider_concurrency")
	}
	if c.Cluster.Enabled() && c.Postgres.URL == "" {
		return fmt.Errorf("cluster_provider %s needs database_url (ENRICHER_DATABASE_URL): the nodes of a cluster share one PostgreSQL database", c.Cluster.Provider)
	}
	switch c.Server.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log_format must be text or json")
	}
	return nil
}

func validBootstrapKey(k string) bool {
	if !strings.HasPrefix(k, "ent_") || len(k) < 4+32 {
		return false
	}
	for _, r := range k[4:] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// flagValue adapts a typed setting pointer to flag.Value.
type flagValue struct{ ptr any }

func (f flagValue) String() string {
	switch p := f.ptr.(type) {
	case *string:
		return *p
	case *bool:
		return strconv.FormatBool(*p)
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *time.Duration:
		return p.String()
	case *[]time.Duration:
		parts := make([]string, len(*p))
		for i, d := range *p {
			parts[i] = d.String()
		}
		return strings.Join(parts, ",")
	case *[]string:
		return strings.Join(*p, ",")
	case flag.Value:
		return p.String()
	}
	return ""
}

func (f flagValue) Set(s string) error { return setValue(f.ptr, s) }

// IsBoolFlag lets boolean settings be given as a bare --flag.
func (f flagValue) IsBoolFlag() bool {
	switch p := f.ptr.(type) {
	case *bool:
		return true
	case interface{ IsBoolFlag() bool }:
		return p.IsBoolFlag()
	}
	return false
}

func setValue(ptr any, s string) error {
	switch p := ptr.(type) {
	case *string:
		*p = s
	case *bool:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean")
		}
		*p = v
	case *int:
		v, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		*p = v
	case *int64:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		*p = v
	case *float64:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		*p = v
	case *time.Duration:
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			return fmt.Errorf("not a duration such as 90s or 15m")
		}
		*p = v
	case *[]time.Duration:
		var out []time.Duration
		for _, part := range strings.Split(s, ",") {
			v, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || v <= 0 {
				return fmt.Errorf("not a comma-separated list of positive durations such as 5s,30s,2m")
			}
			out = append(out, v)
		}
		*p = out
	case *[]string: // comma-separated, blanks dropped
		*p = splitList(s)
	case flag.Value:
		return p.Set(s)
	}
	return nil
}

// Settings whose package field says the same in other terms. Each is a flag.Value over the
// field; String shows the setting's own value.
type (
	// negated is a boolean setting stored as its opposite (allow_signup as DisableSignup).
	negated struct{ p *bool }
	// plusOne is a count of retries stored as a count of attempts (max_validation_retries).
	plusOne struct{ p *int }
	// retriesSetting is llm_retries stored as llm.RetryPolicy.Retries, whose zero means the
	// default: 0 retries is stored as -1.
	retriesSetting struct{ p *int }
	// mebibytes is a size in MiB stored in bytes (min_free_disk_mb).
	mebibytes struct{ p *int64 }
	// trimSetting is trim_value_logs stored as storage.Config.TrimInterval: true keeps the
	// default interval (0), false turns trimming off (-1).
	trimSetting struct{ p *time.Duration }
)

func (v negated) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatBool(!*v.p)
}

func (v negated) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("not a boolean")
	}
	*v.p = !b
	return nil
}

func (negated) IsBoolFlag() bool { return true }

func (v plusOne) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p - 1)
}

func (v plusOne) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	*v.p = n + 1
	return nil
}

func (v retriesSetting) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(max(*v.p, 0))
}

func (v retriesSetting) Set(s string) error {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return fmt.Errorf("not an integer")
	case n < 0:
		return fmt.Errorf("must not be negative")
	case n == 0:
		n = -1 // no retry
	}
	*v.p = n
	return nil
}

func (v mebibytes) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatInt(*v.p>>20, 10)
}

func (v mebibytes) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	*v.p = n << 20
	return nil
}

func (v trimSetting) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatBool(*v.p >= 0)
}

func (v trimSetting) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("not a boolean")
	}
	*v.p = 0 // storage's default interval
	if !b {
		*v.p = -1
	}
	return nil
}

func (trimSetting) IsBoolFlag() bool { return true }
