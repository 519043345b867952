// Replication: the two flavours' statements, waiting for replicas to catch
// up, and comparing GTID positions.

package replicatest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// flavour is how one kind of server is told to replicate.
type flavour struct {
	name string

	resetBinlogs      string   // forget binlogs and GTID history (primary)
	replicaReset      []string // the same on a replica, before changeSource
	changeSource      string   // format: host, port, user, password
	startReplication  string
	replicaAfterStart []string
	stopApplier       string
	startApplier      string
	replicaStatus     string

	// primaryPos is the primary's GTID variable, replicaPos the replica's;
	// covers reports whether a replica's value includes a primary's.
	primaryPos, replicaPos string
	covers                 func(replica, primary string) (bool, error)
}

// MariaDB 10.11: domain-server-sequence GTIDs, replicas positioned by
// gtid_slave_pos.
var mariaDB = &flavour{
	name:         "mariadb",
	resetBinlogs: "RESET MASTER",
	replicaReset: []string{"RESET MASTER", "SET GLOBAL gtid_slave_pos = ''"},
	changeSource: "CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s'," +
		" MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1",
	startReplication: "START SLAVE",
	stopApplier:      "STOP SLAVE SQL_THREAD",
	startApplier:     "START SLAVE SQL_THREAD",
	replicaStatus:    "SHOW SLAVE STATUS",
	primaryPos:       "gtid_binlog_pos",
	replicaPos:       "gtid_slave_pos",
	covers:           mariaDBCovers,
}

// MySQL 8.4 (written from its manual, not run here): UUID:interval GTID
// sets, auto-positioning. Its initialisation leaves GTIDs of its own on each
// server (time zone tables), hence the resets on every server. The
// replication account uses caching_sha2_password over a plain connection:
// GET_SOURCE_PUBLIC_KEY. SOURCE_RETRY_COUNT is raised from its default (10)
// so that a replica cut off for longer than 10 s keeps retrying.
// super_read_only is set (and persisted, for Kill/Start) once replication is
// set up, since the image's entrypoint cannot initialise a server started
// with it.
var mySQL = &flavour{
	name:         "mysql",
	resetBinlogs: "RESET BINARY LOGS AND GTIDS",
	replicaReset: []string{"RESET BINARY LOGS AND GTIDS"},
	changeSource: "CHANGE REPLICATION SOURCE TO SOURCE_HOST='%s', SOURCE_PORT=%d, SOURCE_USER='%s', SOURCE_PASSWORD='%s'," +
		" SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1, SOURCE_RETRY_COUNT=86400," +
		" SOURCE_HEARTBEAT_PERIOD=1",
	startReplication:  "START REPLICA",
	replicaAfterStart: []string{"SET PERSIST super_read_only = ON"},
	stopApplier:       "STOP REPLICA SQL_THREAD",
	startApplier:      "START REPLICA SQL_THREAD",
	replicaStatus:     "SHOW REPLICA STATUS",
	primaryPos:        "gtid_executed",
	replicaPos:        "gtid_executed",
	covers:            mySQLCovers,
}

// flavourOf tells the flavour from SELECT VERSION().
func flavourOf(version string) *flavour {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return mariaDB
	}
	return mySQL
}

// WaitReplicated waits until the given replicas — by default every replica
// that is replicating, i.e. not Kill-ed, Disconnect-ed or
// StopReplication-ed — have applied everything the primary had committed
// when it was called (comparing GTID positions). It fails t after a minute,
// or at once when a replica's applier has stopped on an error.
//
// It reads positions with SHOW statements only, which do not count in
// Com_select (see SelectCount).
func (c *Cluster) WaitReplicated(t testing.TB, replicas ...Node) {
	t.Helper()
	nodes := c.replicating()
	if len(replicas) > 0 {
		nodes = nil
		for _, r := range replicas {
			if r == Primary {
				t.Fatal("replicatest: WaitReplicated: the primary is no replica")
			}
			nodes = append(nodes, c.node(t, r))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := c.waitReplicated(ctx, nodes); err != nil {
		t.Fatal(err)
	}
}

// replicating are the replicas Kill, Disconnect or StopReplication have
// not stopped.
func (c *Cluster) replicating() []*node {
	var rs []*node
	for _, r := range c.replicaNodes() {
		r.mu.Lock()
		if !r.killed && !r.disconnected && !r.applierStopped {
			rs = append(rs, r)
		}
		r.mu.Unlock()
	}
	return rs
}

func (c *Cluster) waitReplicated(ctx context.Context, replicas []*node) error {
	if len(replicas) == 0 {
		return nil
	}
	want, err := c.primary().variable(ctx, c.flavour.primaryPos)
	if err != nil {
		return fmt.Errorf("replicatest: primary's %s: %w", c.flavour.primaryPos, err)
	}
	for _, r := range replicas {
		if err := c.waitReplica(ctx, r, want); err != nil {
			return fmt.Errorf("replicatest: %s did not catch up with the primary's %s %q: %w",
				r.id, c.flavour.primaryPos, want, err)
		}
	}
	return nil
}

func (c *Cluster) waitReplica(ctx context.Context, r *node, want string) error {
	f := c.flavour
	for i := 0; ; i++ {
		got, err := r.variable(ctx, f.replicaPos)
		if err == nil {
			var ok bool
			if ok, err = f.covers(got, want); ok {
				return nil
			} else if err == nil {
				err = fmt.Errorf("%s is %q", f.replicaPos, got)
			}
		}
		// Now and then, and before giving up: has the applier failed?
		if i%20 == 19 || ctx.Err() != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			st, serr := r.status(sctx, f)
			cancel()
			if serr == nil {
				if st.applierFailed() {
					return fmt.Errorf("replication stopped: %s", st)
				}
				err = fmt.Errorf("%w; %s", err, st)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(pollInterval):
		}
	}
}

// variable reads a global variable with SHOW GLOBAL VARIABLES.
func (n *node) variable(ctx context.Context, name string) (string, error) {
	n.mu.Lock()
	admin := n.admin
	n.mu.Unlock()
	var k, v string
	err := admin.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE '"+name+"'").Scan(&k, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("no variable %s", name)
	}
	return v, err
}

// replicaStatus is a row of SHOW SLAVE/REPLICA STATUS by column name.
type replicaStatus map[string]string

// get returns the first of names that is a column (MariaDB says Slave_,
// MySQL 8.4 Replica_).
func (s replicaStatus) get(names ...string) string {
	for _, n := range names {
		if v, ok := s[n]; ok {
			return v
		}
	}
	return ""
}

func (s replicaStatus) applierFailed() bool {
	return s.get("Slave_SQL_Running", "Replica_SQL_Running") == "No" && s.get("Last_SQL_Errno") != "0" && s.get("Last_SQL_Errno") != ""
}

func (s replicaStatus) String() string {
	if len(s) == 0 {
		return "not a replica"
	}
	return fmt.Sprintf("IO thread %s (%s), SQL thread %s (%s)",
		s.get("Slave_IO_Running", "Replica_IO_Running"), orNone(s.get("Last_IO_Error")),
		s.get("Slave_SQL_Running", "Replica_SQL_Running"), orNone(s.get("Last_SQL_Error")))
}

func orNone(s string) string {
	if s == "" {
		return "no error"
	}
	return s
}

// status reads SHOW SLAVE/REPLICA STATUS.
func (n *node) status(ctx context.Context, f *flavour) (replicaStatus, error) {
	n.mu.Lock()
	admin := n.admin
	n.mu.Unlock()
	rows, err := admin.QueryContext(ctx, f.replicaStatus)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	st := replicaStatus{}
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, col := range cols {
			st[col] = vals[i].String
		}
	}
	return st, rows.Err()
}

// mariaDBCovers: for every replication domain of primary's position
// (domain-server-seq, comma-separated), replica's has that domain at the
// same or a later sequence number.
func mariaDBCovers(replica, primary string) (bool, error) {
	got, err := parseMariaDBPos(replica)
	if err != nil {
		return false, err
	}
	want, err := parseMariaDBPos(primary)
	if err != nil {
		return false, err
	}
	for domain, seq := range want {
		if g, ok := got[domain]; !ok || g < seq {
			return false, nil
		}
	}
	return true, nil
}

// parseMariaDBPos maps each domain of a MariaDB GTID position to its
// sequence number.
func parseMariaDBPos(pos string) (map[uint32]uint64, error) {
	out := map[uint32]uint64{}
	for gtid := range strings.SplitSeq(pos, ",") {
		gtid = strings.TrimSpace(gtid)
		if gtid == "" {
			continue
		}
		parts := strings.Split(gtid, "-")
		if len(parts) != 3 {
			return nil, fmt.Errorf("bad MariaDB GTID %q", gtid)
		}
		domain, err1 := strconv.ParseUint(parts[0], 10, 32)
		_, err2 := strconv.ParseUint(parts[1], 10, 32)
		seq, err3 := strconv.ParseUint(parts[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("bad MariaDB GTID %q: %w", gtid, err)
		}
		out[uint32(domain)] = seq
	}
	return out, nil
}

// mySQLCovers: the GTID set replica contains the GTID set primary.
func mySQLCovers(replica, primary string) (bool, error) {
	got, err := parseGTIDSet(replica)
	if err != nil {
		return false, err
	}
	want, err := parseGTIDSet(primary)
	if err != nil {
		return false, err
	}
	for key, ivs := range want {
		for _, iv := range ivs {
			if !slices.ContainsFunc(got[key], func(g interval) bool { return g.lo <= iv.lo && iv.hi <= g.hi }) {
				return false, nil
			}
		}
	}
	return true, nil
}

type interval struct{ lo, hi uint64 }

// parseGTIDSet parses a MySQL GTID set: comma-separated
// uuid[:tag]:interval[:interval...] (MySQL 8.4 may interleave tags:
// uuid:1-5:tag:1-3), intervals n or n-m. Keys are "uuid" or "uuid:tag".
// MySQL prints sets normalised (intervals merged), so a contained interval
// lies within a single interval of the containing set.
func parseGTIDSet(set string) (map[string][]interval, error) {
	out := map[string][]interval{}
	for elem := range strings.SplitSeq(set, ",") {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue
		}
		parts := strings.Split(elem, ":")
		if len(parts) < 2 {
			return nil, fmt.Errorf("bad GTID set element %q", elem)
		}
		uuid := strings.ToLower(parts[0])
		key := uuid
		for _, p := range parts[1:] {
			if p == "" || p[0] < '0' || p[0] > '9' {
				key = uuid + ":" + strings.ToLower(p) // a tag
				continue
			}
			lo, hi, isRange := strings.Cut(p, "-")
			if !isRange {
				hi = lo
			}
			l, err1 := strconv.ParseUint(lo, 10, 64)
			h, err2 := strconv.ParseUint(hi, 10, 64)
			if err := errors.Join(err1, err2); err != nil || h < l {
				return nil, fmt.Errorf("bad GTID interval %q in %q", p, elem)
			}
			out[key] = append(out[key], interval{l, h})
		}
	}
	return out, nil
}
