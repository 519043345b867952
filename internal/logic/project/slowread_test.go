package project_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/logx/logtest"

	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/model"
)

// TestSlowRead_OnlyAReadSlowerThanTheThresholdIsLoggedByNameAndDuration:
// a read slower than Mysql.SlowThreshold leaves one line naming the read
// and its duration, nothing of its arguments; the fast ones leave none.
func TestSlowRead_OnlyAReadSlowerThanTheThresholdIsLoggedByNameAndDuration(t *testing.T) {
	s := newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) {
			time.Sleep(500 * time.Millisecond)
			return someProject(id), nil
		}),
		fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) { return nil, nil }),
		fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) { return nil, nil }),
		"Mysql: {SlowThreshold: 250ms}", // far above a fast read's scheduling delays
	)
	buf := logtest.NewCollector(t)
	logx.SetLevel(logx.InfoLevel)
	t.Cleanup(func() { logx.SetLevel(logx.SevereLevel) })
	if _, err := load(context.Background(), s, 424242, 10); err != nil {
		t.Fatal(err)
	}
	var slow []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if line == "" || json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if c, _ := m["content"].(string); strings.HasPrefix(c, "slow read") {
			slow = append(slow, m)
		}
	}
	if len(slow) != 1 || slow[0]["content"] != "slow read: project" || slow[0]["duration"] == nil {
		t.Fatalf("slow-read lines %v, want one for the project read, with its duration", slow)
	}
	if strings.Contains(buf.String(), "424242") {
		t.Fatalf("the log quotes the read's argument: %s", buf)
	}
}
