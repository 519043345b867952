// Probes of the machine: hardware, software versions, load.

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the numbers come from.
type Machine struct {
	Cores      int
	CPU        string
	MemTotal   string
	Kernel     string
	GoVersion  string
	Docker     string
	DBImage    string
	DBVersion  string
	BufferPool int64
	DataBytes  int64
	LoadBefore string
	LoadAfter  string
	BusyBefore float64 // share of the machine's CPU busy before the bench started
	BusyAfter  float64
	Commit     string
}

// machine probes the hardware and software the bench runs on.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU()}
	m.CPU = firstField("/proc/cpuinfo", "model name")
	if kb := firstField("/proc/meminfo", "MemTotal"); kb != "" {
		if n, err := strconv.ParseInt(strings.Fields(kb)[0], 10, 64); err == nil {
			m.MemTotal = fmt.Sprintf("%.0f GiB", float64(n)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.GoVersion = cmdOut("go", "version")
	m.Docker = "server " + cmdOut("docker", "version", "--format", "{{.Server.Version}}")
	m.Commit = cmdOut("git", "describe", "--always", "--dirty")
	return m
}

func cmdOut(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cpuBusy is the share of the machine's CPU time not idle over d (/proc/stat).
func cpuBusy(d time.Duration) float64 {
	b0, t0 := cpuTimes()
	time.Sleep(d)
	b1, t1 := cpuTimes()
	if t1 == t0 {
		return 0
	}
	return (b1 - b0) / (t1 - t0)
}

// cpuTimes are the machine's busy and total CPU time so far, in clock
// ticks (/proc/stat; 0 where there is none).
func cpuTimes() (busy, total float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i >= 8 { // guest time is already in user
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " / ")
}
