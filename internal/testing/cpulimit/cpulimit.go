// Package cpulimit holds processes to a share of the machine's CPU in a
// cgroup of their own, as `docker run --cpus` does, and shows them that
// cgroup as a container would. It needs root: cgroup v1's cpu controller
// (CFS quota) where it is mounted, else cgroup v2's cpu.max. The cgroup's
// weight is raised (8 × the default), so that on a busy machine its
// processes get their quota: the quota, not the neighbours, limits them.
package cpulimit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	root        = "/sys/fs/cgroup"
	cfsPeriodUs = 100_000
)

// Limit is one cgroup.
type Limit struct {
	CPUs    float64
	Version int // cgroup version, 1 or 2
	// mounts maps each controller mount point a process in the cgroup must
	// see as its own to the cgroup's directory under it.
	mounts map[string]string
	usage  string // the file with the cgroup's CPU time
}

// New creates cgroup name limited to cpus CPUs (an empty leftover of an
// earlier run is replaced).
func New(name string, cpus float64) (*Limit, error) {
	quota := strconv.Itoa(int(cpus * cfsPeriodUs))
	l := &Limit{CPUs: cpus, mounts: map[string]string{}}
	limits := map[string]string{} // file → content
	if _, err := os.Stat(filepath.Join(root, "cpu", "cpu.cfs_quota_us")); err == nil {
		l.Version = 1
		dirs := map[string]string{}
		for _, ctrl := range []string{"cpu", "cpuacct"} {
			mount, err := filepath.EvalSymlinks(filepath.Join(root, ctrl)) // they may be one hierarchy, "cpu,cpuacct"
			if err != nil {
				return nil, fmt.Errorf("cpulimit: %w", err)
			}
			dirs[ctrl], l.mounts[mount] = filepath.Join(mount, name), filepath.Join(mount, name)
		}
		l.usage = filepath.Join(dirs["cpuacct"], "cpuacct.usage")
		limits[filepath.Join(dirs["cpu"], "cpu.cfs_period_us")] = strconv.Itoa(cfsPeriodUs)
		limits[filepath.Join(dirs["cpu"], "cpu.cfs_quota_us")] = quota
		limits[filepath.Join(dirs["cpu"], "cpu.shares")] = "8192"
	} else if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		l.Version = 2
		dir := filepath.Join(root, name)
		l.mounts[root], l.usage = dir, filepath.Join(dir, "cpu.stat")
		_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+cpu +cpuset"), 0o644)
		limits[filepath.Join(dir, "cpu.max")] = quota + " " + strconv.Itoa(cfsPeriodUs)
		limits[filepath.Join(dir, "cpu.weight")] = "800"
	} else {
		return nil, errors.New("cpulimit: no cgroup cpu controller under " + root)
	}
	for _, dir := range l.mounts {
		_ = os.Remove(dir)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cpulimit: %w (a cgroup needs root)", err)
		}
	}
	for file, v := range limits {
		if err := os.WriteFile(file, []byte(v), 0o644); err != nil {
			return nil, errors.Join(fmt.Errorf("cpulimit: %w", err), l.Remove())
		}
	}
	return l, nil
}

// Command wraps argv so that the process starts inside the cgroup and, in
// a mount namespace of its own, sees the cgroup at the controllers' mount
// points, as a container does. go-zero's CPU load shedding, for one, reads
// the quota and usage at the mount point itself whatever cgroup the
// process is in (core/stat/internal/cgroup_linux.go); without this view it
// would read the whole machine's.
func (l *Limit) Command(argv []string) []string {
	var join, bind []string
	for mount, dir := range l.mounts {
		join = append(join, "echo $$ > "+dir+"/cgroup.procs")
		bind = append(bind, "mount --bind "+dir+" "+mount)
	}
	script := strings.Join(append(join, bind...), " && ") + ` && exec "$0" "$@"`
	return append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script}, argv...)
}

// Usage is the CPU time the cgroup's processes have used so far.
func (l *Limit) Usage() time.Duration {
	b, err := os.ReadFile(l.usage)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if l.Version == 2 && len(f) >= 2 { // cpu.stat begins "usage_usec N"
		us, _ := strconv.ParseInt(f[1], 10, 64)
		return time.Duration(us) * time.Microsecond
	}
	if len(f) == 0 {
		return 0
	}
	ns, _ := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns)
}

// Remove deletes the cgroup once its processes have exited.
func (l *Limit) Remove() error {
	var errs []error
	for _, dir := range l.mounts {
		err := os.Remove(dir)
		for i := 0; i < 50 && err != nil && !os.IsNotExist(err); i++ { // the kernel lets go of an exited process shortly after
			time.Sleep(100 * time.Millisecond)
			err = os.Remove(dir)
		}
		if err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
