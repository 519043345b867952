package store

import (
	"fmt"
	"testing"
	"time"
)

// The lag rule of beatLog, on explicit times (no sleeps, no clock): beats
// are sent every HeartbeatEvery from beat0, and a replica is described by the
// beat value it holds.

var beat0 = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// testMaxLag plays Mysql.MaxReplicaLag; the log keeps what newReplicaSet
// would give it for that bound.
const testMaxLag = 2 * time.Second

func newTestLog() *beatLog {
	return &beatLog{keep: int(testMaxLag/HeartbeatEvery) + 8}
}

// sendBeats sends one beat per outcome, the i-th at beat0 + i intervals
// (offset from first), committing those whose outcome is true, and returns
// the values written.
func sendBeats(b *beatLog, first int, outcomes ...bool) []time.Time {
	var values []time.Time
	for i, ok := range outcomes {
		v := b.attempt(beatTime(first + i))
		if ok {
			b.committed(v)
		}
		values = append(values, v)
	}
	return values
}

func beatTime(i int) time.Time { return beat0.Add(time.Duration(i) * HeartbeatEvery) }

func sameOutcome(ok bool, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = ok
	}
	return out
}

func mustLag(t *testing.T, b *beatLog, seen, now time.Time) time.Duration {
	t.Helper()
	lag, known := b.lag(seen, now)
	if !known {
		t.Fatalf("lag(%s, now %s): unknown, want known", seen.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
	return lag
}

func TestBeatLog_CurrentReplicaHasNoLag(t *testing.T) {
	b := newTestLog()
	v := sendBeats(b, 0, true, true, true) // sent at beat0, beat0+1s, beat0+2s
	newest := v[2]
	// Until the next beat is due (beat0+3s) a replica holding the newest beat
	// is as current as can be told: lag 0.
	for _, after := range []time.Duration{0, 10 * time.Millisecond, 500 * time.Millisecond, HeartbeatEvery} {
		if lag := mustLag(t, b, newest, beatTime(2).Add(after)); lag != 0 {
			t.Errorf("replica holding the newest committed beat, %s after it was sent: lag %s, want 0", after, lag)
		}
	}
	// The next beat is sent and commits; the replica has not applied it
	// yet: it lags by the time since that beat was sent, a few ms.
	sendBeats(b, 3, true)
	if lag := mustLag(t, b, newest, beatTime(3).Add(20*time.Millisecond)); lag != 20*time.Millisecond {
		t.Errorf("replica 20 ms behind the newest beat: lag %s, want 20ms", lag)
	}
}

func TestBeatLog_ReplicaMissingCommittedBeatsLagsSinceTheFirstItLacks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		outcomes []bool // beats 0.. ; the replica holds beat 0
		now      time.Duration
		want     time.Duration
	}{
		// Beats 1..4 committed: the replica lacks beat 1, sent at beat0+1s.
		{"allLaterCommitted", []bool{true, true, true, true, true}, 4*time.Second + 500*time.Millisecond, 3500 * time.Millisecond},
		// Beat 1 failed: the first committed beat it lacks is beat 2.
		{"firstLaterFailed", []bool{true, false, true, true}, 3*time.Second + 250*time.Millisecond, 1250 * time.Millisecond},
		// Beat 0 itself failed (a timeout may still have committed it, so
		// a replica may hold it): aged the same way.
		{"heldBeatFailed", []bool{false, true, true}, 2*time.Second + 100*time.Millisecond, 1100 * time.Millisecond},
		// Past the bound: ejected.
		{"pastMaxLag", []bool{true, true, true, true}, 1*time.Second + testMaxLag + time.Millisecond, testMaxLag + time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestLog()
			v := sendBeats(b, 0, tc.outcomes...)
			lag := mustLag(t, b, v[0], beat0.Add(tc.now))
			if lag != tc.want {
				t.Fatalf("replica holding beat 0 (beats %v), at beat0+%s: lag %s, want %s", tc.outcomes, tc.now, lag, tc.want)
			}
		})
	}
}

// The "frozen at zero" bug: with lag = (last successful write) − (beat
// held), a replica holding the newest committed beat shows lag 0 forever
// once the writes fail, whether it is current or stopped. The lag must
// grow from one interval after that beat was sent.
func TestBeatLog_WhenBeatsStopCommittingAReplicaHoldingTheNewestAges(t *testing.T) {
	b := newTestLog()
	v := sendBeats(b, 0, true, true, true) // beat 2, sent at beat0+2s, is the last to commit
	held := v[2]
	// From beat0+3s every write fails (privileges revoked, primary refusing,
	// writes timing out), and the beats keep being tried every second.
	checks := []struct {
		at   time.Duration // since beat0
		want time.Duration
	}{
		{2*time.Second + 900*time.Millisecond, 0},
		{3*time.Second + 500*time.Millisecond, 500 * time.Millisecond},
		{4*time.Second + 500*time.Millisecond, 1500 * time.Millisecond},
		{5 * time.Second, testMaxLag},                                     // at the bound: still in
		{5*time.Second + time.Millisecond, testMaxLag + time.Millisecond}, // past it: out
		{7*time.Second + 250*time.Millisecond, 4250 * time.Millisecond},
	}
	failed := 0
	for _, c := range checks {
		now := beat0.Add(c.at)
		for ; beatTime(3+failed).Compare(now) <= 0; failed++ {
			sendBeats(b, 3+failed, false)
		}
		lag := mustLag(t, b, held, now)
		if lag != c.want {
			t.Errorf("writer failing since beat0+3s (%d failed beats), replica holding the last committed beat, at beat0+%s: lag %s, want %s", failed, c.at, lag, c.want)
		}
		if out := lag > testMaxLag; out != (c.at > 3*time.Second+testMaxLag) {
			t.Errorf("at beat0+%s: out of rotation %v (lag %s, MaxReplicaLag %s)", c.at, out, lag, testMaxLag)
		}
	}
	// A replica that had stopped earlier (holds beat 0) ages from beat 1,
	// as before: the writer failing changes nothing for it.
	if lag := mustLag(t, b, v[0], beat0.Add(6*time.Second)); lag != 5*time.Second {
		t.Errorf("stopped replica (holds beat 0), writer failing: lag %s at beat0+6s, want 5s", lag)
	}
}

func TestBeatLog_UnknownBeatsHaveUnknownLag(t *testing.T) {
	b := newTestLog()
	if _, known := b.lag(beat0, beat0); known {
		t.Error("no beat sent yet: lag known, want unknown")
	}
	v := sendBeats(b, 0, true, true)
	for _, seen := range []time.Time{
		beat0.Add(500 * time.Millisecond), // never sent
		beat0.Add(-time.Second),           // never sent (before the first)
		v[0].Add(time.Microsecond),        // close to a beat is not a beat
		v[1].Add(time.Nanosecond),         // below the row's precision: not a value written
	} {
		if lag, known := b.lag(seen, beat0.Add(2*time.Second)); known {
			t.Errorf("beat %s was never sent: lag %s known, want unknown", seen.Format(time.RFC3339Nano), lag)
		}
	}
	// keep beats are remembered; the one before them is forgotten.
	all := append(v, sendBeats(b, 2, sameOutcome(true, b.keep-1)...)...)
	now := beatTime(len(all))
	if _, known := b.lag(all[len(all)-b.keep], now); !known {
		t.Errorf("the oldest of the last %d beats is forgotten, want it remembered", b.keep)
	}
	if lag, known := b.lag(all[len(all)-b.keep-1], now); known {
		t.Errorf("a beat older than the last %d (keep) has lag %s known, want unknown", b.keep, lag)
	}
	if len(b.beats) != b.keep {
		t.Errorf("the log holds %d beats, want keep = %d", len(b.beats), b.keep)
	}
}

// attempt's value is the wall clock, which may stand still or step back:
// the value must still never repeat one remembered, or a replica holding
// an old beat would be matched to a new one.
func TestBeatLog_AttemptNeverRepeatsAValue(t *testing.T) {
	us := time.Microsecond
	for _, tc := range []struct {
		name string
		nows []time.Duration // since beat0, in the order attempts are made
	}{
		{"clockStandsStill", []time.Duration{0, 0, 0, 0}},
		{"belowMicrosecond", []time.Duration{0, 200 * time.Nanosecond, 700 * time.Nanosecond, us + 300*time.Nanosecond}},
		{"stepBackOneInterval", []time.Duration{0, time.Second, 0, time.Second, 2 * time.Second, time.Second}},
		{"stepBackOneMicrosecond", []time.Duration{us, 0, 0}},
		{"stepsBackThenStill", []time.Duration{3 * us, 2 * us, us, 0, 0, 0, us, 2 * us}},
		{"stepBackAcrossTheLog", []time.Duration{5 * us, 4 * us, 3 * us, 2 * us, us, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestLog()
			var got []time.Time
			for _, d := range tc.nows {
				now := beat0.Add(d)
				v := b.attempt(now)
				if v.Location() != time.UTC || v.Nanosecond()%1000 != 0 {
					t.Errorf("attempt(%s) = %s: want UTC, microseconds", now.Format(time.RFC3339Nano), v.Format(time.RFC3339Nano))
				}
				got = append(got, v)
			}
			seen := map[int64]int{} // by value (UnixNano): the latest attempt
			for i, v := range got {
				// Attempt i must differ from the keep attempts before it
				// (those the log remembers when it is made).
				if j, dup := seen[v.UnixNano()]; dup && i-j <= b.keep {
					t.Errorf("attempt %d (clock beat0+%s) returned beat0+%s, the value of attempt %d (clock beat0+%s): values %s",
						i, tc.nows[i], v.Sub(beat0), j, tc.nows[j], beatOffsets(got))
				}
				seen[v.UnixNano()] = i
			}
		})
	}
}

func beatOffsets(values []time.Time) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = "beat0+" + v.Sub(beat0).String()
	}
	return fmt.Sprint(s)
}
