package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
)

// Providers of membership (the cluster_provider setting).
const (
	ProviderNone        = "none"        // one node: no cluster (the default)
	ProviderEtcd        = "etcd"        // members register in etcd (cluster_etcd)
	ProviderK8s         = "k8s"         // members are the pods of the deployment (in-cluster API access)
	ProviderAutomanaged = "automanaged" // members poll each other over HTTP (cluster_peers)
)

// Config holds the cluster settings. Zero values mean the documented default.
type Config struct {
	// Provider is none, etcd, k8s or automanaged. Default none: Enabled is false and nothing
	// else here is used.
	Provider string
	// Name is the cluster's name: nodes join the cluster of their name. Default "enricher".
	Name string
	// Advertise is host:port of this node's remote endpoint (gRPC), bound and told to the
	// other members; port 0 picks a free one. Default "127.0.0.1:0".
	Advertise string
	// Etcd is the etcd endpoints (provider etcd). Default ["127.0.0.1:2379"].
	Etcd []string
	// Peers is the host:port of every node's automanaged endpoint, this one included
	// (provider automanaged). Default: this node's alone.
	Peers []string
	// AutomanagedPort is the port of this node's automanaged endpoint, bound on every
	// interface (0.0.0.0): protoactor's provider offers no other binding. Default 6330.
	AutomanagedPort int
	// SweepInterval is how often the sweeper looks for jobs no node runs. Default 2s.
	SweepInterval time.Duration
	// RequestTimeout bounds a request to a grain (Ensure, cancel, continue). Default 15s.
	RequestTimeout time.Duration
	// Logger receives the node's and protoactor's warnings. Default: discard.
	Logger *slog.Logger

	provider pc.ClusterProvider // tests: an in-memory provider instead of Provider's
}

// Enabled reports whether a cluster provider is set.
func (c Config) Enabled() bool { return c.Provider != "" && c.Provider != ProviderNone }

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Provider == "" {
		c.Provider = ProviderNone
	}
	if c.Name == "" {
		c.Name = "enricher"
	}
	if c.Advertise == "" {
		c.Advertise = "127.0.0.1:0"
	}
	if len(c.Etcd) == 0 {
		c.Etcd = []string{"127.0.0.1:2379"}
	}
	if c.AutomanagedPort <= 0 {
		c.AutomanagedPort = 6330
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 2 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the provider name and the addresses.
func (c Config) Validate() error {
	switch c.Provider {
	case "", ProviderNone, ProviderEtcd, ProviderK8s, ProviderAutomanaged:
	default:
		return fmt.Errorf("cluster_provider must be none, etcd, k8s or automanaged, got %q", c.Provider)
	}
	if c.Advertise != "" {
		if _, _, err := splitHostPort(c.Advertise); err != nil {
			return fmt.Errorf("cluster_advertise: %w", err)
		}
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no valid port", addr)
	}
	return host, port, nil
}

// Runner is what a node needs of its engine (actors.Engine).
type Runner interface {
	Ensure(org, id string) error
	CommandHere(org, id string, cmd actors.Command) error
}

// Sweepable is what the sweeper needs of storage (storage/postgres.DB).
type Sweepable interface {
	UnclaimedJobs(fn func(org, id string)) error
}

// Node is this process's member of the cluster. New builds it; Start joins (once the engine
// exists); Stop leaves. Place and Command are safe for concurrent use after Start.
type Node struct {
	cfg     Config
	log     *slog.Logger
	store   Sweepable
	sys     *actor.ActorSystem
	c       *pc.Cluster
	runner  Runner // set by Start, before any grain activates
	stop    chan struct{}
	nudge   chan struct{} // membership changed: sweep now
	done    sync.WaitGroup
	stopped sync.Once
	started bool // Start ran (set before any other goroutine reads it)
}

// kind is the grain kind of jobs.
const kind = "job"

// New builds the node of cfg (cfg.Enabled() must hold) over store. It connects nothing yet
// but the etcd client, which dials lazily.
func New(cfg Config, store Sweepable) (*Node, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, port, err := splitHostPort(cfg.Advertise)
	if err != nil {
		return nil, err
	}
	provider := cfg.provider
	if provider == nil {
		if provider, err = newProvider(cfg); err != nil {
			return nil, fmt.Errorf("cluster_provider %s: %w", cfg.Provider, err)
		}
	}
	log := cfg.Logger.With("component", "cluster")
	quiet := slog.New(minLevel{log.Handler(), slog.LevelWarn}).With("subsystem", "protoactor")
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }),
		actor.WithDeadLetterRequestLogging(false))
	n := &Node{cfg: cfg, log: log, store: store, sys: sys, stop: make(chan struct{}), nudge: make(chan struct{}, 1)}
	props := actor.PropsFromProducer(func() actor.Actor { return &grain{node: n} })
	n.c = pc.New(sys, pc.Configure(cfg.Name, provider, disthash.New(), remote.Configure(host, port),
		pc.WithKinds(pc.NewKind(kind, props)), pc.WithRequestTimeout(cfg.RequestTimeout)))
	return n, nil
}

func newProvider(cfg Config) (pc.ClusterProvider, error) {
	switch cfg.Provider {
	case ProviderEtcd:
		return etcd.NewWithConfig("/enricher", clientv3.Config{Endpoints: cfg.Etcd, DialTimeout: 5 * time.Second})
	case ProviderK8s:
		return newK8sProvider() // provider_k8s.go: only in builds with -tags k8s
	case ProviderAutomanaged:
		peers := cfg.Peers
		if len(peers) == 0 {
			peers = []string{"127.0.0.1:" + strconv.Itoa(cfg.AutomanagedPort)}
		}
		return automanaged.NewWithConfig(2*time.Second, cfg.AutomanagedPort, peers...), nil
	}
	return nil, errors.New("no such provider")
}

// Start joins the cluster with runner as this node's engine, then starts the sweeper. It
// blocks about a second (protoactor's member start).
func (n *Node) Start(runner Runner) {
	n.runner = runner
	n.started = true
	n.c.StartMember()
	sub := n.sys.EventStream.Subscribe(func(ev any) {
		if _, ok := ev.(*pc.ClusterTopology); ok {
			select { // coalesced: one pending sweep is enough
			case n.nudge <- struct{}{}:
			default:
			}
		}
	})
	n.done.Add(1)
	go func() {
		defer n.done.Done()
		defer n.sys.EventStream.Unsubscribe(sub)
		n.sweepLoop()
	}()
	n.log.Info("cluster member started", "cluster", n.cfg.Name, "address", n.sys.Address(), "provider", n.cfg.Provider)
}

// Address returns this node's remote address (host:port).
func (n *Node) Address() string { return n.sys.Address() }

// Members returns the number of members this node sees.
func (n *Node) Members() int { return n.c.MemberList.Length() }

// Stop stops the sweeper and leaves the cluster (it blocks about two seconds: protoactor's
// graceful leave). Idempotent; a node never started has nothing to leave. The engine
// is stopped after, by its owner.
func (n *Node) Stop() {
	n.stopped.Do(func() {
		close(n.stop)
		n.done.Wait()
		if n.started {
			n.c.Shutdown(true)
		}
	})
}

// sweepLoop sweeps every SweepInterval and on every membership change until Stop.
func (n *Node) sweepLoop() {
	t := time.NewTicker(n.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		case <-n.nudge:
		}
		n.sweep()
	}
}

// sweep sends Ensure to the grain of every unfinished job that no node runs, sweepParallel
// at a time (a grain whose node just died holds its request up to RequestTimeout), and
// returns once all are answered or timed out.
func (n *Node) sweep() {
	var refs [][2]string
	if err := n.store.UnclaimedJobs(func(org, id string) { refs = append(refs, [2]string{org, id}) }); err != nil {
		n.log.Warn("sweep: unfinished jobs unreadable", "err", err)
		return
	}
	slots := make(chan struct{}, sweepParallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, r := range refs {
		select {
		case <-n.stop:
			return
		case slots <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			n.ensure(r[0], r[1], n.cfg.RequestTimeout)
		}()
	}
}

// sweepParallel bounds the Ensure requests of one sweep in flight.
const sweepParallel = 16

// placeTimeout bounds the Ensure a node sends for the job it just stored: the client waits for
// it, and the sweeper places the job anyway.
const placeTimeout = 3 * time.Second

// Place asks the grain of job id to run it (actors.Placement). A failure is logged: the job
// is stored, and the sweeper places it again.
func (n *Node) Place(org, id string) {
	n.ensure(org, id, min(placeTimeout, n.cfg.RequestTimeout))
}

func (n *Node) ensure(org, id string, timeout time.Duration) {
	if _, err := n.c.Request(id, kind, &Ensure{Org: org, JobId: id}, pc.WithTimeout(timeout)); err != nil {
		n.log.Warn("job grain did not take the job; the sweeper tries again", "job_id", id, "err", err)
	}
}

// Command delivers cmd to the grain of job id (actors.Placement), which runs it on its node.
func (n *Node) Command(org, id string, cmd actors.Command) error {
	k := Command_CANCEL
	if cmd == actors.CommandContinue {
		k = Command_CONTINUE
	}
	res, err := n.c.Request(id, kind, &Command{Org: org, JobId: id, Kind: k}, pc.WithTimeout(n.cfg.RequestTimeout))
	if err != nil {
		return enricher.Wrap(enricher.KindUnavailable, err, "the job's node did not answer")
	}
	r, ok := res.(*CommandReply)
	if !ok {
		return enricher.Errorf(enricher.KindUnavailable, "the job's node did not answer")
	}
	if r.Ok {
		return nil
	}
	return enricher.Errorf(enricher.Kind(r.ErrorKind), "%s", r.Detail)
}

// minLevel drops the records below a level (protoactor's cluster logs every gossip at Info).
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
