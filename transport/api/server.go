package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// Config holds the front end's settings. Zero values mean the documented default.
type Config struct {
	// MaxBodyBytes is the largest request body accepted; larger is 413, decided before
	// authentication. Default 8 MiB. An NDJSON batch start is bounded by MaxStreamBodyBytes
	// instead, and each of its lines by MaxBodyBytes.
	MaxBodyBytes int
	// MaxStreamBodyBytes is the largest NDJSON batch body (read as it streams, never held
	// whole); larger is 413. Default 4 GiB.
	MaxStreamBodyBytes int64
	// DisableSignup refuses registration once the instance has a user or a bootstrap key
	// (setting allow_signup=false). Default false: signup open.
	DisableSignup bool
	// TokenSecret signs access tokens. Required (cmd loads or generates it).
	TokenSecret []byte
	// AccessTokenTTL is the lifetime of access tokens. Default 15m.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of refresh tokens. Default 168h.
	RefreshTokenTTL time.Duration
	// KeyUsageFlush is how often API key usage counters are written. Default 30s.
	KeyUsageFlush time.Duration
	// RateLimit is requests per second per credential (burst twice that); 0 disables it.
	RateLimit float64
	// MaxSchemasPerOrg caps live saved schemas per organization. Default 1000.
	MaxSchemasPerOrg int
	// Limits are reported by GET /api/enrichment/options.
	Limits Limits
	// SSEHeartbeat is the interval of ": ping" comments on idle streams. Default 15s.
	SSEHeartbeat time.Duration
	// SyncMaxTimeout bounds timeout_seconds of blocking endpoints. Default 600s.
	SyncMaxTimeout time.Duration
	// JobRetention is how long finished jobs stay readable. Default 24h.
	JobRetention time.Duration
	// IdempotencyTTL is how long Idempotency-Key values are remembered. Default 24h.
	IdempotencyTTL time.Duration
	// Version is reported by GET /health.
	Version string
	// Logger receives request errors. Default: discard.
	Logger *slog.Logger
	// NowFunc returns the current time. Default time.Now.
	NowFunc func() time.Time
}

// Limits are the request limits clients can read from the options endpoint.
type Limits struct {
	MaxModels        int `json:"max_models"`         // default 10
	MaxLanguages     int `json:"max_languages"`      // default 10
	MaxBatchEntities int `json:"max_batch_entities"` // default 10000
	MaxEntityBytes   int `json:"max_entity_bytes"`   // default 65536
	// MaxBatchEntitiesStream caps the entities of an NDJSON batch start; default 1000000.
	MaxBatchEntitiesStream int `json:"max_batch_entities_stream"`
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxBodyBytes, 8<<20)
	def(&c.MaxSchemasPerOrg, 1000)
	def(&c.Limits.MaxModels, 10)
	def(&c.Limits.MaxLanguages, 10)
	def(&c.Limits.MaxBatchEntities, 10000)
	def(&c.Limits.MaxEntityBytes, 65536)
	def(&c.Limits.MaxBatchEntitiesStream, 1_000_000)
	if c.MaxStreamBodyBytes == 0 {
		c.MaxStreamBodyBytes = 4 << 30
	}
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = 15 * time.Minute
	}
	if c.RefreshTokenTTL == 0 {
		c.RefreshTokenTTL = 168 * time.Hour
	}
	if c.SSEHeartbeat == 0 {
		c.SSEHeartbeat = 15 * time.Second
	}
	if c.SyncMaxTimeout == 0 {
		c.SyncMaxTimeout = 600 * time.Second
	}
	if c.IdempotencyTTL == 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	if c.JobRetention == 0 {
		c.JobRetention = 24 * time.Hour
	}
	if c.KeyUsageFlush == 0 {
		c.KeyUsageFlush = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return c
}

// Deps are the services the front end calls. All are required.
type Deps struct {
	Accounts    AccountStore
	Keys        KeyStore
	Schemas     SchemaStore
	Records     RecordStore
	Jobs        JobLister
	Models      ModelCatalog
	Health      Pinger
	Engine      Engine
	Idempotency IdempotencyStore
	Fetcher     EntityFetcher
	Results     ResultStore
	JobRecords  JobRecordStore // a job's records, streamed (model report)
	Webhooks    WebhookStore   // signing secrets and deliveries
	URLGuard    URLGuard       // checks webhook_url like batch fetch checks its URL
	Entities    EntityStager
	// Providers reports the providers' adaptive limits (optional: without it the options
	// list no providers).
	Providers ProviderLimits
	// Metrics observes requests and streams (optional). MetricsHandler serves GET /metrics to
	// admins on this listener (optional: nil when metrics have their own listener, then the
	// route is 404 here).
	Metrics        Metrics
	MetricsHandler fasthttp.RequestHandler
}

// Server is the HTTP front end. Build it with New, run it with Serve, stop it with Shutdown.
type Server struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	signer signer
	// webhookSealKey seals organizations' webhook secrets at rest (derived from TokenSecret).
	webhookSealKey []byte
	http           *fasthttp.Server
	router         *router.Router
	routes         []route
	usage          *keyUsage
	lockout        *lockout
	limiter        *rateLimiter
	started        time.Time
	loaded         time.Time // when the model catalog was loaded (server build)

	idemLocks keyLocks
	relief    *memoryRelief
	// schemas keeps the schema documents of recent enrichment requests parsed (inline, or
	// saved and named by id): batch clients send the same schema with every request.
	schemas enricher.Memo[schemaDoc]

	stopping atomic.Bool
	stopOnce sync.Once
	streams  sync.WaitGroup  // SSE writers on hijacked connections
	closing  context.Context // done at Shutdown: SSE writers end
	endSSE   context.CancelFunc
	bgCancel context.CancelFunc
	bgWG     sync.WaitGroup
}

// New builds a server. It starts the background key-usage flusher, which Shutdown stops.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.WithDefaults()
	if len(cfg.TokenSecret) < 16 {
		return nil, errors.New("api: TokenSecret must hold at least 16 bytes")
	}
	if deps.Accounts == nil || deps.Keys == nil || deps.Schemas == nil || deps.Records == nil || deps.Jobs == nil ||
		deps.Models == nil || deps.Health == nil || deps.Engine == nil || deps.Idempotency == nil || deps.Fetcher == nil ||
		deps.Results == nil || deps.JobRecords == nil || deps.Webhooks == nil || deps.URLGuard == nil || deps.Entities == nil {
		return nil, errors.New("api: every dependency is required")
	}
	now := cfg.NowFunc()
	s := &Server{
		cfg: cfg, deps: deps, log: cfg.Logger,
		signer:         signer{secret: cfg.TokenSecret},
		webhookSealKey: enricher.WebhookSealKey(cfg.TokenSecret),
		usage:          newKeyUsage(),
		lockout:        newLockout(10, 15*time.Minute),
		limiter:        newRateLimiter(cfg.RateLimit),
		started:        now, loaded: now,
		relief: newMemoryRelief(),
	}
	s.closing, s.endSSE = context.WithCancel(context.Background())
	s.router = router.New()
	s.router.RedirectTrailingSlash = false
	s.router.RedirectFixedPath = false
	s.router.HandleOPTIONS = false
	s.router.NotFound = func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, s.log, enricher.Errorf(enricher.KindNotFound, "not found"))
	}
	s.router.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		writeJSON(ctx, fasthttp.StatusMethodNotAllowed, errorBody{Detail: "method not allowed"})
	}
	if s.deps.Metrics == nil {
		s.deps.Metrics = nopMetrics{}
	}
	s.routes = s.routeTable()
	if deps.MetricsHandler != nil {
		h := deps.MetricsHandler
		s.routes = append(s.routes, route{method: "GET", path: "/metrics", minRole: enricher.RoleAdmin,
			handle: func(c *call) error { h(c.ctx); return nil }})
	}
	for _, r := range s.routes {
		s.router.Handle(r.method, r.path, s.handler(r))
	}
	s.http = &fasthttp.Server{
		Handler:            s.serveHTTP,
		ErrorHandler:       s.transportError,
		MaxRequestBodySize: cfg.MaxBodyBytes,
		// Bodies reach serveHTTP as streams: it reads JSON bodies whole up to MaxBodyBytes
		// and leaves NDJSON batch bodies to their handler (body.go).
		StreamRequestBody:     true,
		Name:                  "entity-enricher",
		NoDefaultServerHeader: true,
		NoDefaultDate:         false,
		ReadBufferSize:        readBufferSize,
		ReadTimeout:           readTimeout,
		IdleTimeout:           120 * time.Second,
		CloseOnShutdown:       true,
		Logger:                fasthttpLogger{s.log},
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.bgCancel = cancel
	s.bgWG.Add(1)
	go s.flushLoop(ctx)
	s.bgWG.Add(1)
	go s.relief.loop(ctx, s.bgWG.Done)
	return s, nil
}

// Serve accepts connections on ln until Shutdown. It returns nil after a clean shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.http.Serve(ln)
}

// Shutdown stops accepting connections, lets in-flight requests finish until ctx is done,
// writes pending key usage, and stops the background work. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		s.endSSE()
		err = s.http.ShutdownWithContext(ctx)
		streamsDone := make(chan struct{})
		go func() { s.streams.Wait(); close(streamsDone) }()
		select { // every stream ends at its next event, ping or write deadline
		case <-streamsDone:
		case <-ctx.Done():
			err = errors.Join(err, ctx.Err())
		}
		s.bgCancel()
		s.bgWG.Wait()
		s.flushUsage()
	})
	return err
}

// ctxRequestID is the user-value key holding the request id.
const ctxRequestID = "enricher.request_id"

// serveHTTP is the outermost handler: request id, then routing.
func (s *Server) serveHTTP(ctx *fasthttp.RequestCtx) {
	rid := newRequestID(ctx.Request.Header.Peek("X-Request-ID"))
	ctx.SetUserValue(ctxRequestID, rid)
	ctx.Response.Header.Set("X-Request-ID", rid)
	if err := s.readBody(ctx); err != nil {
		s.bodyError(ctx, err)
		return
	}
	s.router.Handler(ctx)
	s.relief.note(ctx.Request.Header.ContentLength())
}

// transportError answers requests fasthttp could not read (too large, malformed).
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	rid := newRequestID(nil)
	ctx.SetUserValue(ctxRequestID, rid)
	ctx.Response.Header.Set("X-Request-ID", rid)
	var netErr net.Error
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		drainRequest(ctx.Conn(), s.cfg.MaxBodyBytes)
		writeJSON(ctx, fasthttp.StatusRequestURITooLong, errorBody{Detail: fmt.Sprintf(
			"request line and headers are longer than %d bytes: shorten the URL", readBufferSize)})
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, s.log, enricher.Errorf(enricher.KindTooLarge, "request body is larger than %d bytes", s.cfg.MaxBodyBytes))
	case errors.As(err, &netErr) && netErr.Timeout():
		writeJSON(ctx, fasthttp.StatusRequestTimeout, errorBody{Detail: "request timeout"})
	default:
		writeError(ctx, s.log, enricher.Errorf(enricher.KindInvalid, "malformed HTTP request"))
	}
}

// readBufferSize bounds a request's line and headers (fasthttp's per-connection read buffer,
// kept at its default so idle connections and SSE streams stay small).
const readBufferSize = 4096

// drainRequest reads and discards what the client is still sending of a request the server
// refuses before reading it (up to limit bytes, while data keeps coming within 250 ms, for at
// most 2 s), so closing the connection after the answer does not reset it and the client
// reads the answer instead of a connection reset.
func drainRequest(conn net.Conn, limit int) {
	if conn == nil {
		return
	}
	buf := make([]byte, 32<<10)
	end := time.Now().Add(2 * time.Second)
	for total := 0; total <= limit && time.Now().Before(end); {
		deadline := time.Now().Add(250 * time.Millisecond)
		if deadline.After(end) {
			deadline = end
		}
		if conn.SetReadDeadline(deadline) != nil {
			return
		}
		n, err := conn.Read(buf)
		total += n
		if err != nil {
			break
		}
	}
	_ = conn.SetReadDeadline(time.Time{}) // best effort: the connection closes after the answer
}

func (s *Server) now() time.Time { return s.cfg.NowFunc().UTC() }

// fasthttpLogger routes fasthttp's own messages to slog at debug level.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	if f.l.Enabled(context.Background(), slog.LevelDebug) {
		f.l.Debug("fasthttp", "msg", format, "args", args)
	}
}

// Drain marks the server as shutting down: /health reports it and handlers that start jobs
// answer 503, while other requests are still served until Shutdown.
func (s *Server) Drain() { s.stopping.Store(true) }
