package bench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcessCPU is the CPU time (user + system, every thread) this process
// has used so far: the in-process service's, when the load comes from
// another process (wrk).
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ContainerCPU reads the CPU time a local Docker container's processes
// have used so far, from its cgroup (v1 cpuacct.usage, v2 cpu.stat).
type ContainerCPU struct {
	ID   string
	file string
	v2   bool
}

// NewContainerCPU finds container id's cgroup through its main process
// (docker inspect), as this machine's /proc and /sys/fs/cgroup show it.
func NewContainerCPU(id string) (*ContainerCPU, error) {
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}", id).Output()
	if err != nil {
		return nil, fmt.Errorf("docker inspect %.12s: %w", id, err)
	}
	cg, err := os.ReadFile("/proc/" + strings.TrimSpace(string(out)) + "/cgroup")
	if err != nil {
		return nil, fmt.Errorf("container %.12s's cgroup (is the Docker daemon on this machine?): %w", id, err)
	}
	for _, line := range strings.Split(string(cg), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var c *ContainerCPU
		if f[0] == "0" && f[1] == "" {
			c = &ContainerCPU{ID: id, file: filepath.Join("/sys/fs/cgroup", f[2], "cpu.stat"), v2: true}
		} else if ctrls := strings.Split(f[1], ","); slices.Contains(ctrls, "cpuacct") {
			c = &ContainerCPU{ID: id, file: filepath.Join("/sys/fs/cgroup", f[1], f[2], "cpuacct.usage")}
			if _, err := os.Stat(c.file); err != nil { // mounted as cpuacct alone, or as cpu,cpuacct
				c.file = filepath.Join("/sys/fs/cgroup/cpuacct", f[2], "cpuacct.usage")
			}
		}
		if c != nil {
			if _, err := c.read(); err == nil {
				return c, nil
			}
		}
	}
	return nil, fmt.Errorf("container %.12s: no readable CPU accounting in its cgroups:\n%s", id, cg)
}

// Used is the container's CPU time so far (0 if it cannot be read).
func (c *ContainerCPU) Used() time.Duration {
	d, _ := c.read()
	return d
}

func (c *ContainerCPU) read() (time.Duration, error) {
	b, err := os.ReadFile(c.file)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if c.v2 { // "usage_usec N ..."
		if len(f) < 2 || f[0] != "usage_usec" {
			return 0, errors.New(c.file + ": no usage_usec")
		}
		us, err := strconv.ParseInt(f[1], 10, 64)
		return time.Duration(us) * time.Microsecond, err
	}
	if len(f) == 0 {
		return 0, errors.New(c.file + ": empty")
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns), err
}

// ContainerPublishing is the id of the running container that publishes
// host port port (docker ps).
func ContainerPublishing(port int) (string, error) {
	out, err := exec.Command("docker", "ps", "--no-trunc", "--format", "{{.ID}}\t{{.Ports}}").Output()
	if err != nil {
		return "", fmt.Errorf("docker ps: %w", err)
	}
	needle := ":" + strconv.Itoa(port) + "->"
	for _, line := range strings.Split(string(out), "\n") {
		if id, ports, ok := strings.Cut(line, "\t"); ok && strings.Contains(ports, needle) {
			return id, nil
		}
	}
	return "", fmt.Errorf("no running container publishes port %d", port)
}

// ProxyCPU is the CPU time used so far by the docker-proxy processes
// publishing host port port: with Docker's userland proxy, every byte to
// a container's port on 127.0.0.1 is relayed by such a process, outside
// the container's cgroup (0 when there is none, e.g. with the iptables
// path alone).
func ProxyCPU(port int) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	want := "\x00-host-port\x00" + strconv.Itoa(port) + "\x00"
	var ticks int64
	for _, dir := range dirs {
		cmd, err := os.ReadFile(dir + "/cmdline")
		if err != nil || !strings.Contains(string(cmd), "docker-proxy\x00") || !strings.Contains(string(cmd), want) {
			continue
		}
		ticks += statTicks(dir)
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// PidCPU is the CPU time (user + system, every thread) process pid has
// used so far (0 if it cannot be read): a service process's, whatever
// cgroup it is in.
func PidCPU(pid int) time.Duration {
	return time.Duration(statTicks("/proc/"+strconv.Itoa(pid))) * time.Second / userHZ
}

// statTicks is the utime + stime of the process whose /proc directory dir
// is, in clock ticks.
func statTicks(dir string) int64 {
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command's closing parenthesis: state is the
	// first (field 3 of proc(5)); utime and stime are fields 14, 15.
	_, rest, _ := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	if len(f) <= 12 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// userHZ is the clock tick of /proc/<pid>/stat (USER_HZ: 100 on Linux).
const userHZ = 100
