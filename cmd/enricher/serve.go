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
	"github.com/entity-enricher/enricher/actors/cluster"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/storage/postgres"
	"github.com/entity-enricher/enricher/transport/api"
	"github.com/entity-enricher/enricher/transport/fetch"
	"github.com/entity-enricher/enricher/transport/llm"
)

// Main is one running server: storage, model catalog and HTTP front end, wired from a Config.
// Open builds it and opens the listener; Run serves until its context ends, then shuts down.
type Main struct {
	cfg       *Config
	log       *slog.Logger
	db        store // badger, or PostgreSQL with database_url
	engine    *actors.Engine
	api       *api.Server
	ln        net.Listener
	metrics   *metrics
	metricsLn net.Listener      // set when metrics_listen is
	metricsSv *fasthttp.Server  // serves /metrics on metricsLn, without auth
	pprof     *pprofServer      // set when pprof_listen is
	node      *cluster.Node     // set when cluster_provider is
	locks     *postgres.Locks   // this node's job claims, with node
	permits   *postgres.Permits // this node's provider permits, with cluster_provider_concurrency
	purger    *storage.Purger   // deletes finished jobs past job_retention; Run owns it
	now       func() time.Time
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
	if cfg.Server.MemoryLimitMB > 0 { // process-wide, like GOMEMLIMIT
		debug.SetMemoryLimit(int64(cfg.Server.MemoryLimitMB) << 20)
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
	log := newLogger(&cfg.Server, env.Log)
	storeCfg := cfg.Storage
	storeCfg.Logger, storeCfg.FreeSpace, storeCfg.SpaceInterval = log, env.FreeSpace, env.SpaceInterval
	// built, not m: every failing return sets m to nil, and what was opened must still close.
	built := &Main{cfg: cfg, log: log, now: env.Now}
	m = built
	defer func() {
		if err != nil {
			built.close()
		}
	}()
	if m.db, err = openStore(cfg.Postgres, storeCfg, log); err != nil {
		return nil, err
	}
	secret := []byte(cfg.Server.TokenSecret)
	if len(secret) == 0 {
		if secret, err = m.db.Secret("token_secret", randomSecret); err != nil {
			return nil, fmt.Errorf("token secret: %w", err)
		}
	}
	if cfg.Server.BootstrapKey != "" {
		if err = m.db.EnsureBootstrap(storage.Bootstrap{
			Hash: sha256Hex(cfg.Server.BootstrapKey), Prefix: cfg.Server.BootstrapKey[:12],
			NewOrgID: uuid.NewString(), NewKeyID: uuid.NewString(), Now: env.Now(),
		}); err != nil {
			return nil, fmt.Errorf("bootstrap key: %w", err)
		}
	}
	catalog, err := newCatalog(cfg.Server.ModelsFile, env.Getenv)
	if err != nil {
		return nil, err
	}
	m.metrics = newMetrics()
	m.metrics.watchStorage(m.db.FreeBytes, m.db.LowSpace)
	// Webhook deliveries go through the batch-fetch guard: same address rules, same dialer.
	webhooks := fetch.New(fetch.Config{Timeout: webhookTimeout, AllowPrivate: cfg.Fetch.AllowPrivate})
	providers, err := newProviders(catalog, int64(cfg.Server.SimSeed), cfg.Engine.LLMTimeout)
	if err != nil {
		return nil, err
	}
	engineCfg := cfg.Engine
	engineCfg.Observer, engineCfg.Logger, engineCfg.Now = m.metrics, log, env.Now
	engineCfg.Webhooks.SealKey = enricher.WebhookSealKey(secret)
	deps := actors.Deps{Store: m.db, Catalog: catalog, Providers: providers, Schemas: m.db, Webhooks: m.db, WebhookSender: webhooks}
	if pg, ok := m.db.(*postgres.DB); ok { // streams follow jobs that other nodes run
		deps.Follower = pg
	}
	if cfg.Cluster.Enabled() {
		if err = m.openCluster(&deps, log); err != nil {
			return nil, err
		}
	}
	m.engine, err = actors.New(engineCfg, deps)
	if err != nil {
		return nil, err
	}
	if m.node != nil {
		m.node.Start(m.engine)
	}
	var metricsOnMain fasthttp.RequestHandler
	if cfg.Server.MetricsListen == "" {
		metricsOnMain = m.metrics.handler()
	} else {
		if m.metricsLn, err = net.Listen("tcp", cfg.Server.MetricsListen); err != nil {
			return nil, fmt.Errorf("metrics_listen: %w", listenError(cfg.Server.MetricsListen, err))
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
	apiCfg := cfg.API
	apiCfg.TokenSecret, apiCfg.Version, apiCfg.Logger, apiCfg.NowFunc = secret, version, log, env.Now
	m.api, err = api.New(apiCfg, api.Deps{Accounts: m.db, Keys: m.db, Schemas: m.db, Records: recordsAPI{m.db}, Jobs: m.db, Models: catalog, Health: m.db,
		Engine: engineAPI{m.engine}, Idempotency: m.db, Results: resultsAPI{m.db}, JobRecords: m.db, Webhooks: m.db, URLGuard: webhooks,
		Entities: m.db, Providers: engineAPI{m.engine},
		Metrics: m.metrics, MetricsHandler: metricsOnMain,
		Fetcher: fetcherAPI{fetch.New(cfg.Fetch)}})
	if err != nil {
		return nil, err
	}
	if cfg.Server.PprofListen != "" {
		if m.pprof, err = listenPprof(cfg.Server.PprofListen); err != nil {
			return nil, fmt.Errorf("pprof_listen: %w", listenError(cfg.Server.PprofListen, err))
		}
	}
	if m.ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
		return nil, listenError(cfg.Server.Listen, err)
	}
	return m, nil
}

// Addr returns the address the server listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Run serves until ctx is done, then stops accepting, lets in-flight requests finish within
// shutdown_grace and closes the store.
func (m *Main) Run(ctx context.Context) error {
	where := []any{"data_dir", m.cfg.Storage.Dir}
	if m.cfg.Postgres.URL != "" { // never the URL itself: it may hold a password
		where = []any{"storage", "postgresql"}
	}
	m.log.Info("listening", append([]any{"addr", m.Addr(), "version", version}, where...)...)
	if m.cfg.Server.PurgeInterval > 0 {
		// On PostgreSQL every node purges: the deletes are idempotent (postgres.DB.PurgeJobs).
		m.purger = storage.StartPurger(m.db, storage.PurgerConfig{Interval: m.cfg.Server.PurgeInterval,
			Retention: m.cfg.API.JobRetention, Now: m.now, Logger: m.log})
	}
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
	var serveErr, err error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	m.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), m.cfg.Server.ShutdownGrace)
	defer cancel()
	m.api.Drain() // new job starts are refused with 503 from here on
	if m.node != nil {
		m.node.Stop() // leaves the cluster: the jobs here move to other nodes once they stop
	}
	m.engine.Stop() // jobs stop (they resume at the next start, or on another node) and streams end
	if m.purger != nil {
		m.purger.Stop() // before the store closes
	}
	if m.locks != nil {
		err = errors.Join(err, m.locks.Close())
	}
	if m.permits != nil {
		err = errors.Join(err, m.permits.Close())
	}
	err = errors.Join(err, m.api.Shutdown(sctx))
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

// openStore opens PostgreSQL when pg.URL (database_url) is set, else badger. On error the store
// is a nil interface (never an interface holding a nil pointer), so close skips it.
func openStore(pg postgres.Config, storeCfg storage.Config, log *slog.Logger) (store, error) {
	if pg.URL != "" {
		pg.Logger = log
		db, err := postgres.Open(pg)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	db, err := storage.Open(storeCfg)
	if err != nil {
		return nil, err
	}
	// A batch's entities are stored before its job: an upload cut short by a crash left
	// entities without a job. Nothing uploads yet, so every such batch id is a leftover.
	// (Not on PostgreSQL: another server may be uploading into it right now.)
	if orphans, serr := db.DeleteOrphanEntities(); serr != nil {
		log.Warn("entities of unfinished uploads could not be deleted", "deleted", len(orphans), "err", serr)
	} else if len(orphans) > 0 {
		log.Info("deleted the entities of uploads that never became a job", "uploads", len(orphans))
	}
	return db, nil
}

// close releases what Open acquired, for failed starts.
func (m *Main) close() {
	if m.api != nil {
		_ = m.api.Shutdown(context.Background())
	}
	if m.node != nil {
		m.node.Stop()
	}
	if m.engine != nil {
		m.engine.Stop()
	}
	if m.locks != nil {
		_ = m.locks.Close()
	}
	if m.permits != nil {
		_ = m.permits.Close()
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

func newCatalog(modelsFile string, getenv func(string) string) (*llm.Catalog, error) {
	var file []byte
	if modelsFile != "" {
		var err error
		if file, err = os.ReadFile(modelsFile); err != nil {
			return nil, fmt.Errorf("models file: %w", err)
		}
	}
	c, err := llm.NewCatalog(llm.CatalogConfig{Env: getenv, ModelsFile: file})
	if err != nil { // the catalog's errors start with the line of the models file
		return nil, fmt.Errorf("models file %s: %w", modelsFile, err)
	}
	return c, nil
}

func newLogger(cfg *ServerConfig, w io.Writer) *slog.Logger {
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

func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// openCluster builds this node's member of the cluster and its job claims, and sets them as
// the engine's placement and fence. The node joins once the engine exists (Open).
func (m *Main) openCluster(deps *actors.Deps, log *slog.Logger) error {
	db, ok := m.db.(*postgres.DB)
	if !ok { // validate requires database_url with a cluster provider
		return errors.New("cluster_provider needs database_url")
	}
	var err error
	if m.locks, err = db.OpenLocks(); err != nil {
		return err
	}
	ccfg := m.cfg.Cluster
	ccfg.Logger = log
	if m.node, err = cluster.New(ccfg, db); err != nil {
		return err
	}
	deps.Placement, deps.Fence = m.node, m.locks
	deps.Webhooks = cluster.OneDeliverer(db, m.locks)
	if m.cfg.Engine.ClusterProviderConcurrency > 0 {
		if m.permits, err = db.OpenPermits(); err != nil {
			return err
		}
		deps.Permits = m.permits
	}
	return nil
}
