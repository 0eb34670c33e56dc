package postgres

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
)

// Following a job's events written by another process. Commit sends, inside its transaction,
// one pg_notify(channel, job_id || ':' || last_seq) per job whose events it writes, so the
// notification is delivered when the transaction commits, after the events are readable. One
// listener per DB (a dedicated connection doing LISTEN, started by the first FollowEvents and
// stopped by Close) fans notifications out to the followers registered by job id.
//
// A notification only says "read the table after your last seq": each follower's signal
// channel holds one value and a send to a full one is dropped, which loses nothing. After each
// (re)connection of the listener every follower is signalled, since notifications sent while
// it was not listening are lost.

// listenBackoff bounds the pause between reconnections of the listener.
const (
	listenBackoffMin = 50 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// listenAppName names the listener's connection in pg_stat_activity.
const listenAppName = "enricher-listen"

// listener is the DB's LISTEN connection and its followers. Its goroutine is started once by
// the first follow and stopped by stop (DB.Close); its fields are guarded by mu.
type listener struct {
	cfg     *pgx.ConnConfig
	channel string
	log     *slog.Logger

	mu        sync.Mutex
	started   bool
	stopped   bool
	followers map[string]map[*follower]struct{}
	pid       uint32 // backend pid of the current connection, 0 when none (tests)
	cancel    context.CancelFunc
	done      chan struct{}
}

// follower is one registration: c receives a value whenever events of its job may have been
// committed since it last read.
type follower struct {
	job string
	c   chan struct{}
}

func newListener(cfg *pgx.ConnConfig, channel string, log *slog.Logger) *listener {
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = listenAppName
	return &listener{cfg: cfg, channel: channel, log: log, followers: map[string]map[*follower]struct{}{}}
}

// FollowEvents registers interest in the events of job committed by any process on this
// database and schema (this one included): the returned channel receives a value (coalesced: it holds one)
// after each commit that wrote some, and after the listener reconnected; stop unregisters and
// may be called more than once. The caller registers first, then reads the events table, then
// waits on the channel and reads again after its last seq. KindUnavailable once the DB is
// closed.
func (db *DB) FollowEvents(job string) (<-chan struct{}, func(), error) {
	return db.listen.follow(job)
}

func (l *listener) follow(job string) (<-chan struct{}, func(), error) {
	f := &follower{job: job, c: make(chan struct{}, 1)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return nil, nil, enricher.Errorf(enricher.KindUnavailable, "storage unavailable")
	}
	if !l.started {
		l.started = true
		ctx, cancel := context.WithCancel(context.Background())
		l.cancel, l.done = cancel, make(chan struct{})
		go l.run(ctx)
	}
	set := l.followers[job]
	if set == nil {
		set = map[*follower]struct{}{}
		l.followers[job] = set
	}
	set[f] = struct{}{}
	var once sync.Once
	return f.c, func() { once.Do(func() { l.unfollow(f) }) }, nil
}

func (l *listener) unfollow(f *follower) {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.followers[f.job]
	delete(set, f)
	if len(set) == 0 {
		delete(l.followers, f.job)
	}
}

// stop ends the listener's goroutine and waits for it. Later follows fail.
func (l *listener) stop() {
	l.mu.Lock()
	l.stopped = true
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// run connects, listens and dispatches until ctx ends, reconnecting with backoff.
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := listenBackoffMin
	for ctx.Err() == nil {
		err := l.session(ctx, func() { backoff = listenBackoffMin })
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("event listener lost its connection; reconnecting", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// session is one connection: LISTEN, signal every follower (what was sent before is lost),
// then dispatch notifications until the connection fails or ctx ends.
func (l *listener) session(ctx context.Context, listening func()) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, l.cfg)
	if err == nil {
		_, err = conn.Exec(cctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize())
	}
	cancel()
	if conn != nil {
		defer func() {
			l.setPID(0)
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = conn.Close(closeCtx)
		}()
	}
	if err != nil {
		return err
	}
	l.setPID(conn.PgConn().PID())
	listening()
	l.signalAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if i := strings.LastIndexByte(n.Payload, ':'); i > 0 {
			l.signal(n.Payload[:i])
		}
	}
}

// currentPID is the backend pid of the listener's connection, 0 while it has none.
func (l *listener) currentPID() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pid
}

func (l *listener) setPID(pid uint32) {
	l.mu.Lock()
	l.pid = pid
	l.mu.Unlock()
}

// signal wakes the followers of job, without blocking.
func (l *listener) signal(job string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for f := range l.followers[job] {
		wake(f.c)
	}
}

// signalAll wakes every follower.
func (l *listener) signalAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, set := range l.followers {
		for f := range set {
			wake(f.c)
		}
	}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default: // a signal is pending: the follower will read everything anyway
	}
}
