package loadstat

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RSS is the resident set size (VmRSS) of process pid in bytes; pid 0 is
// this process. ok is false where there is no /proc (not Linux) or no
// such process.
func RSS(pid int) (bytes int64, ok bool) {
	proc := "self"
	if pid != 0 {
		proc = strconv.Itoa(pid)
	}
	f, err := os.Open("/proc/" + proc + "/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "VmRSS:"); found {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kib << 10, err == nil
		}
	}
	return 0, false
}

// RSSSampler records a process's resident set size while it runs.
type RSSSampler struct {
	stop, done     chan struct{}
	mu             sync.Mutex
	peak, sum, cnt int64
}

// SampleRSS samples RSS(pid) now and then every interval until Stop.
func SampleRSS(pid int, interval time.Duration) *RSSSampler {
	s := &RSSSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if b, ok := RSS(pid); ok {
				s.mu.Lock()
				s.peak, s.sum, s.cnt = max(s.peak, b), s.sum+b, s.cnt+1
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak and mean RSS in bytes.
func (s *RSSSampler) Stop() (peak, mean int64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cnt == 0 {
		return 0, 0
	}
	return s.peak, s.sum / s.cnt
}
