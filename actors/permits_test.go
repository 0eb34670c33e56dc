package actors

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

// permitPool is an in-memory store of permits shared by the nodes of a test: what PostgreSQL
// is to storage/postgres.Permits (one holder per permit, a lost node's permits come back).
type permitPool struct {
	mu   sync.Mutex
	held map[int]int // permits held, by node
	want map[int]bool
	dead map[int]bool // nodes whose session ended: their calls fail
}

var errSessionGone = errors.New("session gone")

// node is node id's view of the pool (Permits).
type poolNode struct {
	pool *permitPool
	id   int
}

func (n poolNode) Take(_ string, limit, k int) (int, error) {
	p := n.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead[n.id] {
		return 0, errSessionGone
	}
	total := 0
	for _, h := range p.held {
		total += h
	}
	got := max(0, min(k, limit-total))
	p.held[n.id] += got
	return got, nil
}

func (n poolNode) Give(_ string, k int) error {
	p := n.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held[n.id] = max(0, p.held[n.id]-k)
	return nil
}

func (n poolNode) Held(string) int {
	n.pool.mu.Lock()
	defer n.pool.mu.Unlock()
	return n.pool.held[n.id]
}

func (n poolNode) Want(_ string, on bool) error {
	n.pool.mu.Lock()
	defer n.pool.mu.Unlock()
	if n.pool.dead[n.id] {
		return errSessionGone
	}
	n.pool.want[n.id] = on
	return nil
}

func (n poolNode) Others(string) (int, bool, error) {
	p := n.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	nodes, wanting := 0, false
	ids := map[int]bool{}
	for id := range p.held {
		ids[id] = true
	}
	for id := range p.want {
		ids[id] = true
	}
	for id := range ids {
		if id != n.id && (p.held[id] > 0 || p.want[id]) {
			nodes++
			wanting = wanting || p.want[id]
		}
	}
	return nodes, wanting, nil
}

// drop frees node id's permits, as PostgreSQL does when a node's session ends.
func (p *permitPool) drop(id int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.held, id)
	delete(p.want, id)
	p.dead[id] = true
}

// countingProvider is the one vendor account every node calls: it counts calls in flight,
// in all and per node (the request's model names the node), and holds each call until gate
// lets it go (nil gate: a short sleep).
type countingProvider struct {
	mu       sync.Mutex
	inflight int
	max      int
	perNode  map[string]int
	gate     chan struct{}
}

func (f *countingProvider) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	f.mu.Lock()
	f.inflight++
	f.max = max(f.max, f.inflight)
	f.perNode[req.Model]++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.perNode[req.Model]--
		f.mu.Unlock()
	}()
	gate := f.gateNow()
	if gate == nil {
		time.Sleep(2 * time.Millisecond)
		return &llm.Response{Text: "{}"}, nil
	}
	select {
	case <-gate:
		return &llm.Response{Text: "{}"}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *countingProvider) gateNow() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gate
}

func (f *countingProvider) setGate(g chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = g
}

func (f *countingProvider) maxSeen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.max
}

func (f *countingProvider) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.max = 0
}

func (f *countingProvider) of(node string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.perNode[node]
}

// permitNodes is n provider actors (the nodes), each with its own ceiling and a keeper over
// one pool with a cluster-wide cap, all calling one countingProvider.
type permitNodes struct {
	sys     *actor.ActorSystem
	pool    *permitPool
	shown   []permitsShown // what each node's keeper told its observer
	vendor  *countingProvider
	pids    []*actor.PID
	keepers []*permitKeeper
	ctxs    []context.Context
	cancels []context.CancelFunc
	reply   *actor.PID
	results chan *providerResult
	next    atomic.Uint64
}

func setupPermitNodes(t *testing.T, n, ceiling, clusterCap int, gated bool) *permitNodes {
	t.Helper()
	s := &permitNodes{sys: actor.NewActorSystem(), pool: &permitPool{held: map[int]int{}, want: map[int]bool{}, dead: map[int]bool{}},
		vendor: &countingProvider{perNode: map[string]int{}}, results: make(chan *providerResult, 1000)}
	if gated {
		s.vendor.gate = make(chan struct{})
	}
	s.shown = make([]permitsShown, n)
	for i := range n {
		k := newPermitKeeper("fake", clusterCap, poolNode{s.pool, i}, slog.New(slog.DiscardHandler), &s.shown[i])
		cfg := ProviderConfig{Name: "fake", Concurrency: ceiling, Fixed: true, Retry: llm.RetryPolicy{Retries: -1}}
		pid := s.sys.Root.Spawn(actor.PropsFromProducer(newProviderActor(cfg, s.vendor, time.Now, &ProviderStats{}, k)))
		k.start(s.sys.Root, pid)
		s.pids, s.keepers = append(s.pids, pid), append(s.keepers, k)
		ctx, cancel := context.WithCancel(context.Background())
		s.ctxs, s.cancels = append(s.ctxs, ctx), append(s.cancels, cancel)
	}
	s.reply = s.sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*providerResult); ok {
			s.results <- r
		}
	}))
	t.Cleanup(func() {
		if g := s.vendor.gateNow(); g != nil {
			close(g)
		}
		for i := range s.pids {
			s.stop(i)
		}
		s.sys.Shutdown()
	})
	return s
}

// send queues k calls on node i (their model names the node).
func (s *permitNodes) send(i, k int) {
	for range k {
		s.sys.Root.Send(s.pids[i], &providerCall{ID: s.next.Add(1), Ctx: s.ctxs[i],
			Req: &llm.Request{Model: nodeName(i)}, ReplyTo: s.reply})
	}
}

func nodeName(i int) string { return string(rune('a' + i)) }

// wait collects k results; it returns how many failed.
func (s *permitNodes) wait(t *testing.T, k int) int {
	t.Helper()
	failed := 0
	for range k {
		select {
		case r := <-s.results:
			if r.Err != nil {
				failed++
			}
		case <-time.After(10 * time.Second):
			t.Fatal("calls did not complete")
		}
	}
	return failed
}

// stop ends node i's actor and keeper (idempotent).
func (s *permitNodes) stop(i int) {
	if s.keepers[i] == nil {
		return
	}
	s.cancels[i]()
	_ = s.sys.Root.PoisonFuture(s.pids[i]).Wait()
	s.keepers[i].stop()
	s.keepers[i] = nil
}

// TestClusterCapHoldsAcrossNodes: three nodes whose own ceilings (8 each) add up to 24 share a
// cluster-wide cap of 6: the vendor never sees more than 6 calls at once, every call
// completes, and a lone node reaches the whole cap.
func TestClusterCapHoldsAcrossNodes(t *testing.T) {
	s := setupPermitNodes(t, 3, 8, 6, false)
	for i := range 3 {
		s.send(i, 40)
	}
	require.Zero(t, s.wait(t, 120))
	require.LessOrEqual(t, s.vendor.maxSeen(), 6, "calls in flight on all nodes together")
	require.Eventually(t, func() bool { return s.pool.total() == 0 }, 5*time.Second, 10*time.Millisecond,
		"idle nodes give their permits back")

	s.vendor.reset()
	gate := make(chan struct{})
	s.vendor.setGate(gate)
	s.send(1, 10)
	require.Eventually(t, func() bool { return s.vendor.of("b") == 6 }, 5*time.Second, 5*time.Millisecond,
		"a node alone uses the whole cap")
	s.vendor.setGate(nil)
	close(gate)
	require.Zero(t, s.wait(t, 10))
	require.Equal(t, 6, s.vendor.maxSeen())
}

// TestClusterCapPermitsOfALostNodeComeBack: node a holds every permit in calls that do not
// end; node b's calls wait. a dies (its store session ends and frees its permits): b takes
// them and its calls run.
func TestClusterCapPermitsOfALostNodeComeBack(t *testing.T) {
	s := setupPermitNodes(t, 2, 8, 4, true)
	s.send(0, 4)
	require.Eventually(t, func() bool { return s.vendor.of("a") == 4 }, 5*time.Second, 5*time.Millisecond)
	s.send(1, 4)
	time.Sleep(3 * permitTick)
	require.Zero(t, s.vendor.of("b"), "no permit is free while a holds them all")

	s.pool.drop(0) // a dies: its session ends, so do its calls
	s.cancels[0]()
	require.Eventually(t, func() bool { return s.vendor.of("b") == 4 }, 5*time.Second, 5*time.Millisecond,
		"b takes the permits a held")
	require.Equal(t, 4, s.pool.total())
}

// TestClusterCapSharesFairly: node a holds the whole cap with a long queue behind it; node b
// starts wanting calls: as a's calls end, a keeps its fair share (half) and b gets the rest,
// while a still has work queued.
func TestClusterCapSharesFairly(t *testing.T) {
	s := setupPermitNodes(t, 2, 8, 6, true)
	s.send(0, 40)
	require.Eventually(t, func() bool { return s.vendor.of("a") == 6 }, 5*time.Second, 5*time.Millisecond)
	s.send(1, 40)
	gate := s.vendor.gate
	require.Eventually(t, func() bool {
		if s.vendor.of("b") == 3 && s.vendor.of("a") == 3 {
			return true
		}
		select { // end one call, of whichever node
		case gate <- struct{}{}:
		default:
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "each node gets half the cap")
	require.LessOrEqual(t, s.vendor.maxSeen(), 6)
}

// TestClusterCapPermitsObserved: the observer is told the permits a node holds and its share
// as they change, and zero once the node stops.
func TestClusterCapPermitsObserved(t *testing.T) {
	s := setupPermitNodes(t, 1, 8, 4, true)
	s.send(0, 6)
	require.Eventually(t, func() bool { return s.vendor.of("a") == 4 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return s.shown[0].last() == [2]int{4, 4} }, 5*time.Second, 5*time.Millisecond,
		"4 permits held, the whole cap as share")
	gate := s.vendor.gate
	for range 6 {
		gate <- struct{}{}
	}
	require.Zero(t, s.wait(t, 6))
	require.Eventually(t, func() bool { return s.shown[0].last() == [2]int{0, 4} }, 5*time.Second, 5*time.Millisecond,
		"idle permits given back")
	s.stop(0)
	require.Equal(t, [2]int{0, 0}, s.shown[0].last(), "a stopped node holds none")
}

// permitsShown is an Observer keeping the last ProviderPermits it was told.
type permitsShown struct {
	nopObserver
	mu   sync.Mutex
	seen [2]int
}

func (p *permitsShown) ProviderPermits(_ string, held, share int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = [2]int{held, share}
}

func (p *permitsShown) last() [2]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen
}

// total is the number of permits held by all nodes.
func (p *permitPool) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, h := range p.held {
		n += h
	}
	return n
}
