// The host port a server is pinned to.

package redistest

import (
	"sync"

	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// pinned are the host ports of this process's servers: a killed server's
// port is free on the machine until Restart, and must not be handed to a
// server started meanwhile.
var pinned struct {
	mu    sync.Mutex
	ports map[int]bool
}

// pinPort returns a host port free on 127.0.0.1 right now that no server of
// this process holds (0 if none was found), and the func that gives it up.
// Something outside the process may still take it before Docker binds it:
// the caller retries with another one on a port conflict.
func pinPort() (int, func()) {
	pinned.mu.Lock()
	defer pinned.mu.Unlock()
	if pinned.ports == nil {
		pinned.ports = map[int]bool{}
	}
	for range 100 {
		p := testenv.FreePort()
		if p == 0 {
			return 0, func() {}
		}
		if pinned.ports[p] {
			continue
		}
		pinned.ports[p] = true
		var once sync.Once
		return p, func() {
			once.Do(func() {
				pinned.mu.Lock()
				defer pinned.mu.Unlock()
				delete(pinned.ports, p)
			})
		}
	}
	return 0, func() {}
}
