package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeromicro/go-zero/core/logx"

	"github.com/clinicaldata/projectsvc/model"
)

// How replicas are watched (exported for the tests that time ejections).
const (
	// HeartbeatEvery: the primary's heartbeat row is written this often,
	// each write bounded by as long.
	HeartbeatEvery = time.Second
	// CheckEvery: each replica is pinged and its lag read this often; a
	// replica that stops answering is out of rotation within about two
	// checks (a ping waits at most CheckTimeout).
	CheckEvery   = 500 * time.Millisecond
	CheckTimeout = 500 * time.Millisecond
)

// replicaSet routes reads to healthy replicas. A replica is healthy while
// it answers a ping and its data is at most Mysql.MaxReplicaLag behind the
// primary's, measured with a heartbeat: this process writes its own clock
// into its row of replication_heartbeat on the primary every second and
// reads the row back from each replica — the same on MySQL and MariaDB,
// with no replication privilege and no clock agreement between servers.
//
// The lag is how long ago, on this process's monotonic clock, the first
// beat the replica does not hold was written: a replica that stops
// applying ages from that moment, whatever happens next. If the beats stop
// being written (the primary refuses them, or is too slow), a replica
// holding the newest one ages from one interval after it: its lag can no
// longer be shown to be small, so it leaves rotation after MaxReplicaLag
// and reads go to the primary. A clock step changes nothing: beats are
// matched by the value written, and aged by the monotonic clock.
type replicaSet struct {
	servers []*server
	next    atomic.Uint64
	maxLag  time.Duration

	instance uint64
	primary  model.ReplicationHeartbeatModel
	beats    beatLog

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// replicaState is a replica server's place in rotation.
type replicaState struct {
	healthy atomic.Bool
}

func newReplicaSet(primary model.ReplicationHeartbeatModel, replicas []*server, maxLag time.Duration) *replicaSet {
	var b [8]byte
	_, _ = rand.Read(b[:])
	set := &replicaSet{
		servers:  replicas,
		maxLag:   maxLag,
		instance: binary.BigEndian.Uint64(b[:]) >> 1, // fits a signed BIGINT too
		primary:  primary,
		beats:    beatLog{keep: int(maxLag/HeartbeatEvery) + 8},
	}
	for _, r := range replicas {
		metricReplicaHealthy.Set(0, r.name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	set.stop = cancel
	set.wg.Add(1 + len(replicas))
	go set.beat(ctx)
	for _, r := range replicas {
		go set.watch(ctx, r)
	}
	return set
}

// pick is a healthy replica (round robin), or nil if none is healthy.
func (s *replicaSet) pick(except *server) *server {
	n := uint64(len(s.servers))
	start := s.next.Add(1)
	for i := range n {
		r := s.servers[(start+i)%n]
		if r != except && r.replica.healthy.Load() {
			return r
		}
	}
	return nil
}

// eject takes r out of rotation until a check finds it healthy again.
func (s *replicaSet) eject(r *server, reason string) {
	if r.replica.healthy.Swap(false) {
		metricReplicaEjections.Inc(r.name, reason)
		metricReplicaHealthy.Set(0, r.name)
		logx.Errorf("replica %s out of rotation: %s", r.name, reason)
	}
}

func (s *replicaSet) anyHealthy() bool {
	for _, r := range s.servers {
		if r.replica.healthy.Load() {
			return true
		}
	}
	return false
}

func (s *replicaSet) beat(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(HeartbeatEvery)
	defer tick.Stop()
	for {
		at := s.beats.attempt(time.Now())
		bctx, cancel := context.WithTimeout(ctx, HeartbeatEvery)
		err := s.primary.Beat(bctx, s.instance, at)
		cancel()
		if err == nil {
			s.beats.committed(at)
		} else if ctx.Err() == nil {
			logx.Errorf("replication heartbeat on the primary failed (replicas leave rotation once it has failed for Mysql.MaxReplicaLag): %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *replicaSet) watch(ctx context.Context, r *server) {
	defer s.wg.Done()
	tick := time.NewTicker(CheckEvery)
	defer tick.Stop()
	for {
		s.check(ctx, r)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check pings r and measures its lag, and moves it in or out of rotation.
func (s *replicaSet) check(ctx context.Context, r *server) {
	cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	if err := r.db.PingContext(cctx); err != nil {
		if ctx.Err() == nil {
			s.eject(r, "down")
		}
		return
	}
	seen, err := r.models.ReplicationHeartbeat.LastBeat(cctx, s.instance)
	switch {
	case ctx.Err() != nil:
		return
	case errors.Is(err, model.ErrNotFound):
		s.eject(r, "lag") // no beat of this process there yet: its lag is unknown
		return
	case err != nil:
		s.eject(r, "down")
		return
	}
	lag, known := s.beats.lag(seen, time.Now())
	if known {
		metricReplicaLag.Set(lag.Seconds(), r.name)
	}
	if !known || lag > s.maxLag {
		s.eject(r, "lag")
		return
	}
	if !r.replica.healthy.Swap(true) {
		metricReplicaHealthy.Set(1, r.name)
		logx.Infof("replica %s in rotation (lag %s)", r.name, lag.Round(time.Millisecond))
	}
}

// close stops the heartbeat and the watchers.
func (s *replicaSet) close() {
	s.stop()
	s.wg.Wait()
}

// beatLog remembers the beats sent to the primary lately: the value
// written, when the write began (monotonic clock), and whether it committed.
// A write that failed may still have committed (a timeout): a replica may
// hold any beat tried.
type beatLog struct {
	mu    sync.Mutex
	keep  int
	beats []beat // oldest first
}

type beat struct {
	value     time.Time // what the row holds (UTC, microseconds)
	sent      time.Time // when its write began (monotonic)
	committed bool
}

// attempt records a beat about to be written at now and returns its value:
// the wall clock, made distinct from every beat remembered (a clock stepped
// back must not repeat one).
func (b *beatLog) attempt(now time.Time) time.Time {
	v := now.UTC().Truncate(time.Microsecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.holds(v) {
		v = v.Add(time.Microsecond)
	}
	b.beats = append(b.beats, beat{value: v, sent: now})
	if len(b.beats) > b.keep {
		b.beats = append(b.beats[:0], b.beats[len(b.beats)-b.keep:]...)
	}
	return v
}

// holds reports whether a beat of value v is remembered (b.mu held).
func (b *beatLog) holds(v time.Time) bool {
	for _, x := range b.beats {
		if v.Equal(x.value) {
			return true
		}
	}
	return false
}

// committed marks the beat of value as written on the primary.
func (b *beatLog) committed(value time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.beats {
		if b.beats[i].value.Equal(value) {
			b.beats[i].committed = true
		}
	}
}

// lag is how far behind a replica holding beat value seen is at now. When
// a later beat committed on the primary, the replica lacks it: the lag is
// the time since that beat was sent. Otherwise (seen is the newest beat, or
// the later ones failed) it is the time since seen was sent, less the one
// interval before the next beat was due: so the lag grows when the beats
// stop, whatever the reason. known is false when seen is no beat
// remembered (older than every one kept, or none sent yet).
func (b *beatLog) lag(seen, now time.Time) (lag time.Duration, known bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.beats {
		if !x.value.Equal(seen) {
			continue
		}
		for _, later := range b.beats[i+1:] {
			if later.committed {
				return max(now.Sub(later.sent), 0), true
			}
		}
		return max(now.Sub(x.sent)-HeartbeatEvery, 0), true
	}
	return 0, false
}

// replicaName is the name of replica i (from 0) in metrics and logs.
func replicaName(i int) string { return "replica-" + strconv.Itoa(i+1) }
