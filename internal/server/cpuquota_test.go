package server

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCpuQuota_ReadsCgroupV1AndV2(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		cores float64
		ok    bool
	}{
		{"v1Quota", map[string]string{
			"proc/self/cgroup": "4:memory:/x\n2:cpu,cpuacct:/projectsvc\n",
			"sys/fs/cgroup/cpu/projectsvc/cpu.cfs_quota_us":  "50000\n",
			"sys/fs/cgroup/cpu/projectsvc/cpu.cfs_period_us": "100000\n",
		}, 0.5, true},
		{"v1DockerWithoutCgroupNamespace", map[string]string{
			"proc/self/cgroup":                    "12:cpu,cpuacct:/docker/0123abcd\n",
			"sys/fs/cgroup/cpu/cpu.cfs_quota_us":  "50000\n",
			"sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
		}, 0.5, true},
		{"v2ContainerNamespaceRoot", map[string]string{
			"proc/self/cgroup":                 "0::/../system.slice/docker-1.scope\n",
			"sys/fs/cgroup/cgroup.controllers": "cpu\n",
			"sys/fs/cgroup/cpu.max":            "25000 100000\n",
		}, 0.25, true},
		{"v1NoQuota", map[string]string{
			"proc/self/cgroup":                    "1:cpu:/\n",
			"sys/fs/cgroup/cpu/cpu.cfs_quota_us":  "-1\n",
			"sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
		}, 0, false},
		{"v2Quota", map[string]string{
			"proc/self/cgroup":                    "0::/kubepods/pod1\n",
			"sys/fs/cgroup/cgroup.controllers":    "cpu memory\n",
			"sys/fs/cgroup/kubepods/pod1/cpu.max": "150000 100000\n",
		}, 1.5, true},
		{"v2Max", map[string]string{
			"proc/self/cgroup":                 "0::/\n",
			"sys/fs/cgroup/cgroup.controllers": "cpu\n",
			"sys/fs/cgroup/cpu.max":            "max 100000\n",
		}, 0, false},
		{"noCgroups", map[string]string{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, content := range tc.files {
				full := filepath.Join(root, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cores, ok := cpuQuota(root)
			if ok != tc.ok || cores != tc.cores {
				t.Fatalf("cpuQuota = %v, %v; want %v, %v", cores, ok, tc.cores, tc.ok)
			}
		})
	}
}
