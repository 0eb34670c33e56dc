package actors

import (
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Cluster-wide caps of calls in flight per provider (cluster_provider_concurrency). The cap
// is a number of permits the nodes share through their common store (Permits: in
// storage/postgres, advisory locks, one per permit). Each provider actor runs a call only
// with a permit in hand; the node's permit keeper (a goroutine per provider) takes permits
// from the store in blocks as its actor's demand grows, lends them to the actor, takes back
// what the actor no longer needs and gives the store back what stayed idle for one tick, or
// at once when another node is waiting. The adaptive limit and provider_concurrency still
// apply: the actor runs at most the smaller of its limit and the permits it holds.

// Permits is the store of the cluster's provider permits, as one node sees it
// (storage/postgres.Permits). Safe for concurrent use; calls block on storage.
type Permits interface {
	// Take takes up to n more of provider's permits numbered below limit without waiting and
	// returns how many it took.
	Take(provider string, limit, n int) (int, error)
	// Give gives back n of the permits of provider this node holds.
	Give(provider string, n int) error
	// Held is the number of provider's permits this node holds (fewer than taken after a
	// lost database session whose permits other nodes took).
	Held(provider string) int
	// Want marks this node as wanting more of provider's permits than it holds, or not.
	Want(provider string, on bool) error
	// Others is the number of other nodes holding or wanting provider's permits, and whether
	// one of them wants more than it holds.
	Others(provider string) (nodes int, wanting bool, err error)
}

// permitTick is how often a keeper with permits or demand looks at the other nodes
// (fair shares) and gives back permits that stayed idle.
const permitTick = 100 * time.Millisecond

// permitKeeper holds one provider's permits on this node: the store's side is owned by its
// goroutine (loop); the actor's side is the state the actor posts (post), guarded by mu. Its
// goroutine is started by start and ended by stop, both called by the engine.
type permitKeeper struct {
	name  string
	limit int // the cluster-wide cap
	store Permits
	log   *slog.Logger
	obs   Observer

	mu       sync.Mutex
	want     int // calls the actor could run now (in flight and queued, within its own limit)
	returned int // permits the actor gave back since the loop last looked

	wake chan struct{} // coalesced: the actor posted
	quit chan struct{}
	done chan struct{}

	// Owned by the loop.
	lent     int // permits the actor holds
	keep     int // the keep last sent
	idle     int // spare permits at the last tick
	wanting  bool
	self     *actor.PID
	root     *actor.RootContext
	lastWarn time.Time
	shown    [2]int // the held permits and keep last told to obs
}

func newPermitKeeper(name string, limit int, store Permits, log *slog.Logger, obs Observer) *permitKeeper {
	return &permitKeeper{name: name, limit: max(limit, 1), store: store, log: log, obs: obs, keep: max(limit, 1),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), shown: [2]int{-1, -1}}
}

// start runs the keeper's loop for the actor self.
func (k *permitKeeper) start(root *actor.RootContext, self *actor.PID) {
	k.root, k.self = root, self
	go k.loop()
}

// stop ends the loop and gives every permit back; the actor is stopped first.
func (k *permitKeeper) stop() {
	close(k.quit)
	<-k.done
}

// post records the actor's demand and the permits it gives back; never blocks.
func (k *permitKeeper) post(want, give int) {
	k.mu.Lock()
	changed := k.want != want || give > 0
	k.want = want
	k.returned += give
	k.mu.Unlock()
	if changed {
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}
}

func (k *permitKeeper) loop() {
	defer close(k.done)
	t := time.NewTicker(permitTick)
	defer t.Stop()
	for {
		tick := false
		select {
		case <-k.quit:
			if err := k.store.Want(k.name, false); err != nil {
				k.warn(err)
			}
			if err := k.store.Give(k.name, k.store.Held(k.name)); err != nil {
				k.warn(err)
			}
			k.obs.ProviderPermits(k.name, 0, 0)
			return
		case <-k.wake:
		case <-t.C:
			tick = true
		}
		k.step(tick)
	}
}

// step lends permits to the actor up to its demand (taking more from the store when the
// spare ones do not cover it) and, on a tick, updates the fair share and gives back idle
// permits.
func (k *permitKeeper) step(tick bool) {
	defer k.show()
	k.mu.Lock()
	want, ret := min(k.want, k.limit), k.returned
	k.returned = 0
	k.mu.Unlock()
	k.lent -= ret
	held := k.store.Held(k.name)
	if held < k.lent { // lost with the store's session: the actor stops using them
		k.grant(held-k.lent, k.keep)
	}
	need := min(want, k.keep) - k.lent
	if spare := held - k.lent; need > spare {
		if _, err := k.store.Take(k.name, k.limit, need-spare); err != nil {
			k.warn(err)
		}
		held = k.store.Held(k.name)
	}
	if n := min(need, held-k.lent); n > 0 {
		k.grant(n, k.keep)
	}
	if !tick || (want == 0 && held == 0 && !k.wanting) {
		return
	}
	short := min(want, k.limit) > held
	if short != k.wanting {
		if err := k.store.Want(k.name, short); err != nil {
			k.warn(err)
		} else {
			k.wanting = short
		}
	}
	others, waiting, err := k.store.Others(k.name)
	if err != nil {
		k.warn(err)
		return
	}
	keep := k.limit
	if waiting {
		keep = (k.limit + others) / (others + 1) // the cap over the nodes that use it, rounded up
	}
	if keep != k.keep {
		k.keep = keep
		k.grant(0, keep)
	}
	spare := held - k.lent
	give := min(spare, k.idle) // spare for a whole tick
	if waiting {
		give = spare
	}
	if give > 0 {
		if err := k.store.Give(k.name, give); err != nil {
			k.warn(err)
		}
	}
	k.idle = k.store.Held(k.name) - k.lent
}

// show tells the observer the permits held and the keep when either changed.
func (k *permitKeeper) show() {
	if now := [2]int{k.store.Held(k.name), k.keep}; now != k.shown {
		k.shown = now
		k.obs.ProviderPermits(k.name, now[0], now[1])
	}
}

// grant sends the actor n more permits (negative: fewer) and the keep.
func (k *permitKeeper) grant(n, keep int) {
	k.lent += n
	k.root.Send(k.self, &permitsGranted{n: n, keep: keep})
}

// warn logs a store failure, at most once a second: the keeper retries at its next tick.
func (k *permitKeeper) warn(err error) {
	if now := time.Now(); now.Sub(k.lastWarn) >= time.Second {
		k.lastWarn = now
		k.log.Warn("provider permits: the store failed; retrying", "provider", k.name, "err", err)
	}
}

// providerShare is a provider actor's part of the provider's calls in flight: everything its
// limiter allows when it is alone (localShare), or within the permits its keeper lends under
// a cluster-wide cap (permitShare). Used by the provider actor's goroutine only; it never
// blocks.
type providerShare interface {
	// capacity bounds the calls in flight, given the limiter's limit.
	capacity(limit int) int
	// lend adds n permits lent by the keeper and, when keep > 0, sets the keep (the fair
	// share while other nodes wait for permits).
	lend(n, keep int)
	// settle posts want, the calls that could run now, and gives back the permits beyond it
	// and beyond the keep; the permits of the inflight calls are kept until they end.
	settle(want, inflight int)
}

// localShare is the share of a provider without a cluster-wide cap: its limiter decides.
type localShare struct{}

func (localShare) capacity(limit int) int { return limit }
func (localShare) lend(int, int)          {}
func (localShare) settle(int, int)        {}

// permitShare is the share under a cluster-wide cap: the permits lent by keeper, the most to
// keep while other nodes wait, and the demand last posted to the keeper.
type permitShare struct {
	keeper             *permitKeeper
	lent, keep, posted int
}

func (s *permitShare) capacity(limit int) int { return min(limit, s.lent, s.keep) }

func (s *permitShare) lend(n, keep int) {
	s.lent += n
	if keep > 0 {
		s.keep = keep
	}
}

func (s *permitShare) settle(want, inflight int) {
	give := max(s.lent-max(inflight, min(want, s.keep)), 0)
	if give == 0 && want == s.posted {
		return
	}
	s.lent -= give
	s.posted = want
	s.keeper.post(want, give)
}
