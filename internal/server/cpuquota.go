package server

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zeromicro/go-zero/core/logx"

	"github.com/clinicaldata/projectsvc/internal/config"
)

// sheddingThreshold is the CpuThreshold the server runs with. go-zero's
// load shedding reads the CPU usage of the process's cgroup. Where the
// service has a CPU quota of its own (a container or pod CPU limit) that is
// the service's own CPU, and shedding keeps its latency bounded under
// overload. Without a quota it is the whole machine's — the database's and
// the clients' included — and shedding then refuses requests the service
// could serve (more than half of them at saturation in `make bench`). So
// with ShedOnlyWithCpuQuota (the default) shedding runs only under a quota.
func sheddingThreshold(c config.Config) int64 {
	if c.CpuThreshold <= 0 || !c.ShedOnlyWithCpuQuota {
		return c.CpuThreshold
	}
	if quota, ok := cpuQuota("/"); ok {
		logx.Infof("load shedding on: CPU quota %.2f cores, CpuThreshold %d", quota, c.CpuThreshold)
		return c.CpuThreshold
	}
	logx.Info("load shedding off: the service has no CPU quota of its own, so the CPU go-zero reads is the machine's (ShedOnlyWithCpuQuota)")
	return 0
}

// cpuQuota is the CPU quota (in cores) of the process's cgroup under root
// (the file system root; a test gives another): cgroup v2's cpu.max, or v1's
// cpu.cfs_quota_us / cpu.cfs_period_us. ok is false without a quota.
func cpuQuota(root string) (cores float64, ok bool) {
	cgroups, err := os.Open(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0, false
	}
	defer cgroups.Close()
	unified := fileExists(filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"))
	sc := bufio.NewScanner(cgroups)
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		// The path is the cgroup's as the host names it; inside a
		// container without a cgroup namespace (Docker on cgroup v1) it
		// does not exist there, and the container's own cgroup is mounted
		// at the hierarchy's root instead — where go-zero reads it too.
		switch {
		case unified && parts[0] == "0":
			for _, dir := range []string{filepath.Join(root, "sys/fs/cgroup", parts[2]), filepath.Join(root, "sys/fs/cgroup")} {
				if fileExists(filepath.Join(dir, "cpu.max")) {
					return quotaV2(filepath.Join(dir, "cpu.max"))
				}
			}
		case !unified && hasController(parts[1], "cpu"):
			for _, mount := range []string{"cpu", "cpu,cpuacct", "cpuacct,cpu"} {
				for _, dir := range []string{filepath.Join(root, "sys/fs/cgroup", mount, parts[2]), filepath.Join(root, "sys/fs/cgroup", mount)} {
					if fileExists(filepath.Join(dir, "cpu.cfs_quota_us")) {
						return quotaV1(dir)
					}
				}
			}
		}
	}
	return 0, false
}

func quotaV2(file string) (float64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] == "max" {
		return 0, false
	}
	quota, err1 := strconv.ParseFloat(f[0], 64)
	period, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return 0, false
	}
	return quota / period, true
}

func quotaV1(dir string) (float64, bool) {
	quota, err1 := readNumber(filepath.Join(dir, "cpu.cfs_quota_us"))
	period, err2 := readNumber(filepath.Join(dir, "cpu.cfs_period_us"))
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return 0, false
	}
	return quota / period, true
}

func readNumber(file string) (float64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
