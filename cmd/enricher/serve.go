package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/api"
	"github.com/entity-enricher/enricher/transport/fetch"
	"github.com/entity-enricher/enricher/transport/llm"
)

// webhookTimeout bounds one webhook delivery attempt (fixed by the contract).
const webhookTimeout = 10 * time.Second

// Main is one running server: storage, model catalog and HTTP front end, wired from a Config.
// Open builds it and opens the listener; Run serves until its context ends, then shuts down.
type Main struct {
	cfg       *Config
	log       *slog.Logger
	db        *storage.DB
	engine    *actors.Engine
	api       *api.Server
	ln        net.Listener
	metrics   *metrics
	metricsLn net.Listener     // set when metrics_listen is
	metricsSv *fasthttp.Server // serves /metrics on metricsLn, without auth
	pprof     *pprofServer     // set when pprof_listen is
}

// Env is what Main takes from its process: environment lookups (provider credentials), the log
// destination and the clock. Tests substitute each.
type Env struct {
	Getenv func(string) string // default os.Getenv
	Log    io.Writer           // default os.Stderr
	Now    func() time.Time    // default time.Now
	// FreeSpace measures the free bytes of the filesystem holding a directory (the
	// min_free_disk_mb checks). Default: statfs.
	FreeSpace storage.FreeSpaceFunc
	// SpaceInterval is how often the free-space watchdog measures. Default 1s.
	SpaceInterval time.Duration
}

// Open wires everything and opens the listener, so Addr is known before Run. On error every
// resource opened so far is closed.
func Open(cfg *Config, env Env) (m *Main, err error) {
	if cfg.MemoryLimitMB > 0 { // process-wide, like GOMEMLIMIT
		debug.SetMemoryLimit(int64(cfg.MemoryLimitMB) << 20)
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Log == nil {
		env.Log = os.Stderr
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	log := newLogger(cfg, env.Log)
	storeCfg := storage.Config{Dir: cfg.DataDir, SyncWrites: cfg.SyncWrites, Logger: log,
		MinFreeBytes: int64(cfg.MinFreeDiskMB) << 20, FreeSpace: env.FreeSpace, SpaceInterval: env.SpaceInterval}
	if !cfg.TrimValueLogs {
		storeCfg.TrimInterval = -1
	}
	// built, not m: every failing return sets m to nil, and what was opened must still close.
	built := &Main{cfg: cfg, log: log}
	m = built
	defer func() {
		if err != nil {
			built.close()
		}
	}()
	if m.db, err = storage.Open(storeCfg); err != nil {
		return nil, err
	}
	// A batch's entities are stored before its job: an upload cut short by a crash left
	// entities without a job. Nothing uploads yet, so every such batch id is a leftover.
	if orphans, serr := m.db.DeleteOrphanEntities(); serr != nil {
		log.Warn("entities of unfinished uploads could not be deleted", "deleted", len(orphans), "err", serr)
	} else if len(orphans) > 0 {
		log.Info("deleted the entities of uploads that never became a job", "uploads", len(orphans))
	}
	secret := []byte(cfg.TokenSecret)
	if len(secret) == 0 {
		if secret, err = m.db.Secret("token_secret", randomSecret); err != nil {
			return nil, fmt.Errorf("token secret: %w", err)
		}
	}
	if cfg.BootstrapKey != "" {
		if err = m.db.EnsureBootstrap(storage.Bootstrap{
			Hash: sha256Hex(cfg.BootstrapKey), Prefix: cfg.BootstrapKey[:12],
			NewOrgID: uuid.NewString(), NewKeyID: uuid.NewString(), Now: env.Now(),
		}); err != nil {
			return nil, fmt.Errorf("bootstrap key: %w", err)
		}
	}
	catalog, err := newCatalog(cfg, env.Getenv)
	if err != nil {
		return nil, err
	}
	m.metrics = newMetrics()
	m.metrics.watchStorage(m.db.FreeBytes, m.db.LowSpace)
	// Webhook deliveries go through the batch-fetch guard: same address rules, same dialer.
	webhooks := fetch.New(fetch.Config{Timeout: webhookTimeout, AllowPrivate: cfg.FetchAllowPrivate})
	providers, err := newProviders(catalog, int64(cfg.SimSeed), cfg.LLMTimeout)
	if err != nil {
		return nil, err
	}
	m.engine, err = actors.New(actors.Config{
		MaxJobs: cfg.MaxJobs, MaxJobsPerOrg: cfg.MaxJobsPerOrg, MaxAttempts: cfg.MaxValidationRetr + 1,
		MaxOutputTokens: cfg.LLMMaxOutputTok, LLMTimeout: cfg.LLMTimeout, ProviderConcurrency: cfg.ProviderConc, ProviderFixed: !cfg.ProviderAdaptive,
		ProviderQueue: cfg.ProviderQueue, Retry: llm.RetryPolicy{Retries: retriesSetting(cfg.LLMRetries), MaxTotalWait: cfg.RetryMaxWait},
		PauseTimeout: cfg.PauseTimeout, ClassifyMaxChars: cfg.ClassifyMaxChars, SSEBuffer: cfg.SSEBuffer,
		SSEMaxSubscribers: cfg.SSEMaxSubscribers, EventMaxBytes: cfg.EventMaxBytes, JobEventsMaxBytes: cfg.JobEventsMaxBytes,
		MaxSchemasPerOrg: cfg.MaxSchemasPerOrg, BatchConcurrency: cfg.BatchConcurrency, Observer: m.metrics, Logger: log, Now: env.Now,
		Webhooks: actors.WebhookConfig{Schedule: cfg.WebhookSchedule, Concurrency: cfg.WebhookConc, AttemptTimeout: webhookTimeout,
			SealKey: enricher.WebhookSealKey(secret)},
	}, actors.Deps{Store: m.db, Catalog: catalog, Providers: providers, Schemas: m.db, Webhooks: m.db, WebhookSender: webhooks})
	if err != nil {
		return nil, err
	}
	var metricsOnMain fasthttp.RequestHandler
	if cfg.MetricsListen == "" {
		metricsOnMain = m.metrics.handler()
	} else {
		if m.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("metrics_listen: %w", listenError(cfg.MetricsListen, err))
		}
		h := m.metrics.handler()
		m.metricsSv = &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) != "/metrics" {
				ctx.Error(`{"detail":"not found"}`, fasthttp.StatusNotFound)
				return
			}
			h(ctx)
		}, NoDefaultServerHeader: true}
	}
	m.api, err = api.New(api.Config{
		MaxBodyBytes: cfg.MaxBodyBytes, MaxStreamBodyBytes: int64(cfg.MaxStreamBody), DisableSignup: !cfg.AllowSignup, TokenSecret: secret,
		AccessTokenTTL: cfg.AccessTokenTTL, RefreshTokenTTL: cfg.RefreshTokenTTL, KeyUsageFlush: cfg.KeyUsageFlush,
		RateLimit: cfg.RateLimit, MaxSchemasPerOrg: cfg.MaxSchemasPerOrg,
		Limits: api.Limits{MaxModels: cfg.MaxModels, MaxLanguages: cfg.MaxLanguages,
			MaxBatchEntities: cfg.MaxBatchEntities, MaxEntityBytes: cfg.MaxEntityBytes, MaxBatchEntitiesStream: cfg.MaxBatchStream},
		SSEHeartbeat: cfg.SSEHeartbeat, SyncMaxTimeout: cfg.SyncMaxTimeout, JobRetention: cfg.JobRetention,
		IdempotencyTTL: cfg.IdempotencyTTL, Version: version, Logger: log, NowFunc: env.Now,
	}, api.Deps{Accounts: m.db, Keys: m.db, Schemas: m.db, Records: recordsAPI{m.db}, Jobs: m.db, Models: catalog, Health: m.db,
		Engine: engineAPI{m.engine}, Idempotency: m.db, Results: resultsAPI{m.db}, JobRecords: m.db, Webhooks: m.db, URLGuard: webhooks,
		Entities: m.db, Providers: engineAPI{m.engine},
		Metrics: m.metrics, MetricsHandler: metricsOnMain,
		Fetcher: fetcherAPI{fetch.New(fetch.Config{Timeout: cfg.FetchTimeout, MaxBytes: int64(cfg.FetchMaxBytes),
			MaxEntities: cfg.MaxBatchEntities, AllowPrivate: cfg.FetchAllowPrivate})}})
	if err != nil {
		return nil, err
	}
	if cfg.PprofListen != "" {
		if m.pprof, err = listenPprof(cfg.PprofListen); err != nil {
			return nil, fmt.Errorf("pprof_listen: %w", listenError(cfg.PprofListen, err))
		}
	}
	if m.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, listenError(cfg.Listen, err)
	}
	return m, nil
}

// Addr returns the address the server listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Run serves until ctx is done, then stops accepting, lets in-flight requests finish within
// shutdown_grace and closes the store.
func (m *Main) Run(ctx context.Context) error {
	m.log.Info("listening", "addr", m.Addr(), "data_dir", m.cfg.DataDir, "version", version)
	if m.pprof != nil {
		m.log.Info("pprof listening", "addr", m.pprof.ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- m.api.Serve(m.ln) }()
	metricsDone := make(chan error, 1)
	if m.metricsSv != nil {
		m.log.Info("metrics listening", "addr", m.metricsLn.Addr().String())
		go func() { metricsDone <- m.metricsSv.Serve(m.metricsLn) }()
	} else {
		metricsDone <- nil
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	m.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownGrace)
	defer cancel()
	m.api.Drain()   // new job starts are refused with 503 from here on
	m.engine.Stop() // jobs stop (they resume at the next start) and streams end
	err := m.api.Shutdown(sctx)
	if serveErr == nil {
		serveErr = <-errc
	}
	if m.metricsSv != nil {
		err = errors.Join(err, m.metricsSv.ShutdownWithContext(sctx))
	}
	err = errors.Join(err, <-metricsDone)
	if m.pprof != nil {
		err = errors.Join(err, m.pprof.close(sctx))
	}
	return errors.Join(serveErr, err, m.db.Close())
}

// close releases what Open acquired, for failed starts.
func (m *Main) close() {
	if m.api != nil {
		_ = m.api.Shutdown(context.Background())
	}
	if m.engine != nil {
		m.engine.Stop()
	}
	if m.ln != nil {
		_ = m.ln.Close()
	}
	if m.metricsLn != nil {
		_ = m.metricsLn.Close()
	}
	if m.pprof != nil {
		_ = m.pprof.close(context.Background())
	}
	if m.db != nil {
		_ = m.db.Close()
	}
}

// listenError says which address could not be listened on and why, without the net package's
// "tcp" and syscall names: "listen 127.0.0.1:8080: address already in use".
func listenError(addr string, err error) error {
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		err = sysErr.Err
	} else if opErr := (*net.OpError)(nil); errors.As(err, &opErr) {
		err = opErr.Err
	}
	return fmt.Errorf("listen %s: %w", addr, err)
}

func newCatalog(cfg *Config, getenv func(string) string) (*llm.Catalog, error) {
	var file []byte
	if cfg.ModelsFile != "" {
		var err error
		if file, err = os.ReadFile(cfg.ModelsFile); err != nil {
			return nil, fmt.Errorf("models file: %w", err)
		}
	}
	c, err := llm.NewCatalog(llm.CatalogConfig{Env: getenv, ModelsFile: file})
	if err != nil { // the catalog's errors start with the line of the models file
		return nil, fmt.Errorf("models file %s: %w", cfg.ModelsFile, err)
	}
	return c, nil
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// retriesSetting maps llm_retries to the policy: 0 means no retry (the policy's zero is its default).
func retriesSetting(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
