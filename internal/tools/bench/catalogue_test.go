package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// catalogue.lua walks a list: it starts at pages of its file and follows
// each answer's Link to the next page, back to the first after the last.
func TestCatalogueLuaFollowsLinks(t *testing.T) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not installed (tools.sh installs it)")
	}
	const pages = 8
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("cursor")) // the first page has none: 0
		mu.Lock()
		hits[r.URL.RequestURI()]++
		mu.Unlock()
		if r.URL.Path != "/projects" || n < 0 || n >= pages {
			http.Error(w, "no such page", http.StatusBadRequest)
			return
		}
		if n+1 < pages {
			w.Header().Set("Link", fmt.Sprintf(`</projects?cursor=%d&limit=2>; rel="next"`, n+1))
		}
		fmt.Fprint(w, `{"projects":[]}`)
	}))
	defer srv.Close()
	// The file names the first page and one other: every other page is
	// reached only by following Links.
	file := filepath.Join(t.TempDir(), "pages")
	if err := os.WriteFile(file, []byte("/projects?limit=2\n/projects?cursor=5&limit=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := Wrk{Bin: bin, Script: "project.lua", Timeout: 5 * time.Second}.WithScript("catalogue.lua")
	r, err := w.Run(context.Background(), srv.URL, 4, time.Second, Load{ScriptArgs: []string{"walk", file, "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors > 0 || r.Requests < 100 {
		t.Fatalf("%d requests, %d errors (%s)", r.Requests, r.Errors, r.ErrorDetail)
	}
	mu.Lock()
	defer mu.Unlock()
	for n := range pages {
		uri := fmt.Sprintf("/projects?cursor=%d&limit=2", n)
		if n == 0 {
			uri = "/projects?limit=2"
		}
		// Each page is read about as often as any other (the walks cycle
		// through the list): at least a third of the mean.
		if hits[uri] < int(r.Requests)/pages/3 {
			t.Errorf("page %d read %d times of %d requests: %v", n, hits[uri], r.Requests, hits)
		}
	}
	if len(hits) != pages {
		t.Errorf("requests for other paths than the list's pages: %v", hits)
	}
}
