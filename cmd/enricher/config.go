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
)

// Config is every setting of the server, read from ENRICHER_* variables and flags (a flag wins
// over its variable). Defaults are those of the spec and are listed in the README.
type Config struct {
	Listen            string
	MetricsListen     string
	PprofListen       string
	MemoryLimitMB     int
	DataDir           string
	DatabaseURL       string
	SyncWrites        bool
	TrimValueLogs     bool
	ShutdownGrace     time.Duration
	BootstrapKey      string
	AllowSignup       bool
	TokenSecret       string
	AccessTokenTTL    time.Duration
	RefreshTokenTTL   time.Duration
	KeyUsageFlush     time.Duration
	RateLimit         float64
	MaxBodyBytes      int
	MaxEntityBytes    int
	MaxModels         int
	MaxLanguages      int
	MaxBatchEntities  int
	MaxBatchStream    int
	MaxStreamBody     int
	BatchConcurrency  int
	MaxJobsPerOrg     int
	MaxJobs           int
	MaxSchemasPerOrg  int
	MaxValidationRetr int
	LLMRetries        int
	RetryMaxWait      time.Duration
	LLMTimeout        time.Duration
	LLMMaxOutputTok   int
	ProviderConc      int
	ProviderAdaptive  bool
	ProviderQueue     int
	MinFreeDiskMB     int
	PauseTimeout      time.Duration
	SyncMaxTimeout    time.Duration
	ClassifyMaxChars  int
	JobRetention      time.Duration
	SSEHeartbeat      time.Duration
	SSEBuffer         int
	SSEMaxSubscribers int
	EventMaxBytes     int
	JobEventsMaxBytes int
	IdempotencyTTL    time.Duration
	FetchTimeout      time.Duration
	FetchMaxBytes     int
	FetchAllowPrivate bool
	WebhookConc       int
	WebhookSchedule   []time.Duration
	ModelsFile        string
	SimSeed           int
	LogLevel          string
	LogFormat         string
}

// setting binds one named setting to a field of Config.
type setting struct {
	name  string // snake_case name, as in the README; the flag is --name-with-dashes
	usage string
	def   string
	ptr   any // *string, *bool, *int, *float64, *time.Duration or *[]time.Duration (comma-separated)
}

func (c *Config) settings() []setting {
	return []setting{
		{"listen", "main listener address", ":8080", &c.Listen},
		{"metrics_listen", "separate listener for /metrics (empty: served on the main listener, admin only)", "", &c.MetricsListen},
		{"pprof_listen", "listener for Go's /debug/pprof profiles (empty: off; bind it to loopback, it has no auth)", "", &c.PprofListen},
		{"memory_limit_mb", "soft limit of the Go heap in MiB (runtime/debug.SetMemoryLimit); 0: the runtime's default (GOMEMLIMIT)", "0", &c.MemoryLimitMB},
		{"data_dir", "storage directory", "./data", &c.DataDir},
		{"database_url", "PostgreSQL connection URL (postgres://user:password@host:port/db?sslmode=...); when set, everything is stored there instead of data_dir", "", &c.DatabaseURL},
		{"sync_writes", "fsync every write (survives power loss)", "false", &c.SyncWrites},
		{"trim_value_logs", "hand the memory of value-log files no longer written back to the kernel (Linux); reading old values then costs a disk read", "true", &c.TrimValueLogs},
		{"shutdown_grace", "time to finish in-flight requests at shutdown", "30s", &c.ShutdownGrace},
		{"bootstrap_key", "organization access key (role admin) installed at start; ^ent_[A-Za-z0-9_-]{32,}$", "", &c.BootstrapKey},
		{"allow_signup", "allow POST /api/auth/register once the instance has a user", "true", &c.AllowSignup},
		{"token_secret", "access-token signing secret (default: generated once, kept in storage)", "", &c.TokenSecret},
		{"access_token_ttl", "access token lifetime", "15m", &c.AccessTokenTTL},
		{"refresh_token_ttl", "refresh token lifetime", "168h", &c.RefreshTokenTTL},
		{"key_usage_flush", "how often API key usage counters are written", "30s", &c.KeyUsageFlush},
		{"rate_limit", "requests per second per credential, burst twice that (0: off)", "0", &c.RateLimit},
		{"max_body_bytes", "largest request body (413 beyond)", "8388608", &c.MaxBodyBytes},
		{"max_entity_bytes", "largest entity, as compact JSON", "65536", &c.MaxEntityBytes},
		{"max_models", "models per request and fusion inputs", "10", &c.MaxModels},
		{"max_languages", "languages per request", "10", &c.MaxLanguages},
		{"max_batch_entities", "entities per batch (JSON form)", "10000", &c.MaxBatchEntities},
		{"max_batch_entities_stream", "entities per NDJSON batch", "1000000", &c.MaxBatchStream},
		{"max_stream_body_bytes", "largest NDJSON batch body, read as it streams (413 beyond)", "4294967296", &c.MaxStreamBody},
		{"batch_concurrency", "entities in flight per batch", "8", &c.BatchConcurrency},
		{"max_jobs_per_org", "non-terminal jobs per organization", "20", &c.MaxJobsPerOrg},
		{"max_jobs", "non-terminal jobs on the server", "200", &c.MaxJobs},
		{"max_schemas_per_org", "live saved schemas per organization", "1000", &c.MaxSchemasPerOrg},
		{"max_validation_retries", "self-correction turns after an invalid answer", "5", &c.MaxValidationRetr},
		{"llm_retries", "transport retries of one provider call", "3", &c.LLMRetries},
		{"retry_max_wait", "cap on the total backoff wait of one provider call's retries (0: no cap)", "2m", &c.RetryMaxWait},
		{"llm_timeout", "timeout of one provider call", "120s", &c.LLMTimeout},
		{"llm_max_output_tokens", "answer token cap of one provider call", "8192", &c.LLMMaxOutputTok},
		{"provider_concurrency", "ceiling of calls in flight per provider (the limit adapts below it)", "8", &c.ProviderConc},
		{"provider_adaptive", "adapt each provider's limit of calls in flight (AIMD: grow on successes, halve on 429, overload and timeouts); false keeps it at provider_concurrency", "true", &c.ProviderAdaptive},
		{"provider_queue", "calls per provider that running work may hold (waiting or in flight); batches wait for room within it and new jobs get 429 past it", "1000", &c.ProviderQueue},
		{"min_free_disk_mb", "free MiB the data dir's filesystem must keep: the server refuses to start below it; running, it refuses writes with 507 and holds job writes until space is back above it plus 10 % (0: off; else at least 384)", "1024", &c.MinFreeDiskMB},
		{"pause_timeout", "how long a paused job waits for continue or cancel", "300s", &c.PauseTimeout},
		{"sync_max_timeout", "upper bound of timeout_seconds on blocking endpoints", "600s", &c.SyncMaxTimeout},
		{"classify_max_chars", "entity characters shown to the classifier", "3000", &c.ClassifyMaxChars},
		{"job_retention", "how long finished jobs' events and status are kept", "24h", &c.JobRetention},
		{"sse_heartbeat", "interval of ': ping' comments on idle streams", "15s", &c.SSEHeartbeat},
		{"sse_buffer", "events buffered per subscriber", "256", &c.SSEBuffer},
		{"sse_max_subscribers", "concurrent subscribers per job", "32", &c.SSEMaxSubscribers},
		{"event_max_bytes", "payload size above which an event's objects are truncated", "1048576", &c.EventMaxBytes},
		{"job_events_max_bytes", "event bytes per job above which payloads are truncated", "268435456", &c.JobEventsMaxBytes},
		{"idempotency_ttl", "how long Idempotency-Key values are remembered", "24h", &c.IdempotencyTTL},
		{"fetch_timeout", "timeout of a batch fetch", "10s", &c.FetchTimeout},
		{"fetch_max_bytes", "largest batch fetch body", "20971520", &c.FetchMaxBytes},
		{"fetch_allow_private", "allow batch fetch and webhook URLs on private and loopback addresses", "false", &c.FetchAllowPrivate},
		{"webhook_concurrency", "webhook delivery attempts in flight", "4", &c.WebhookConc},
		{"webhook_retry_schedule", "waits after failed webhook attempts, comma-separated; the last repeats until 24h after the first attempt", "5s,30s,2m,10m,1h", &c.WebhookSchedule},
		{"models_file", "JSON file with extra providers and models", "", &c.ModelsFile},
		{"sim_seed", "seed of the sim provider", "0", &c.SimSeed},
		{"log_level", "debug, info, warn or error", "info", &c.LogLevel},
		{"log_format", "text or json", "text", &c.LogFormat},
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
	return c, c.validate()
}

func (c *Config) validate() error {
	positive := map[string]int{
		"max_body_bytes": c.MaxBodyBytes, "max_entity_bytes": c.MaxEntityBytes, "max_models": c.MaxModels,
		"max_languages": c.MaxLanguages, "max_batch_entities": c.MaxBatchEntities,
		"max_batch_entities_stream": c.MaxBatchStream, "max_stream_body_bytes": c.MaxStreamBody, "batch_concurrency": c.BatchConcurrency,
		"max_jobs_per_org": c.MaxJobsPerOrg, "max_jobs": c.MaxJobs, "max_schemas_per_org": c.MaxSchemasPerOrg,
		"provider_concurrency": c.ProviderConc, "provider_queue": c.ProviderQueue, "sse_buffer": c.SSEBuffer,
		"sse_max_subscribers": c.SSEMaxSubscribers, "llm_max_output_tokens": c.LLMMaxOutputTok,
		"webhook_concurrency": c.WebhookConc,
	}
	for _, name := range slices.Sorted(maps.Keys(positive)) {
		if v := positive[name]; v <= 0 {
			return fmt.Errorf("%s (%s, --%s) must be positive, got %d", name, envName(name), flagName(name), v)
		}
	}
	if c.MaxValidationRetr < 0 || c.LLMRetries < 0 || c.RateLimit < 0 || c.RetryMaxWait < 0 || c.MinFreeDiskMB < 0 {
		return fmt.Errorf("max_validation_retries, llm_retries, retry_max_wait, rate_limit and min_free_disk_mb must not be negative")
	}
	if c.BootstrapKey != "" && !validBootstrapKey(c.BootstrapKey) {
		return fmt.Errorf("bootstrap_key must match ^ent_[A-Za-z0-9_-]{32,}$")
	}
	switch c.LogFormat {
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
	}
	return ""
}

func (f flagValue) Set(s string) error { return setValue(f.ptr, s) }

// IsBoolFlag lets boolean settings be given as a bare --flag.
func (f flagValue) IsBoolFlag() bool { _, ok := f.ptr.(*bool); return ok }

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
	}
	return nil
}
