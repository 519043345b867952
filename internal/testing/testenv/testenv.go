// Package testenv answers what tests and tools ask of their surroundings:
// where the repository is, where a service it started listens, and a free
// loopback port.
package testenv

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Root is the repository's root: the nearest directory at or above the
// working directory holding go.mod.
var Root = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("testenv: no go.mod in %s or any parent", dir)
		}
		d = parent
	}
})

// Path makes a repository-relative path (slash-separated) absolute; an
// absolute path is returned as it is. Outside the repository it panics:
// tests and tools always run inside it.
func Path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	root, err := Root()
	if err != nil {
		panic(err)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// ListenAddr is the address in the "listening on <addr>" line of a
// service's JSON log (server.Start writes it once it listens: with Port: 0,
// the port the system chose), or "" while there is none. It is how a test
// or tool that starts the binary finds it without choosing its port.
func ListenAddr(logs string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		var entry struct{ Content string }
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue // not JSON, or a line still being written
		}
		if addr, ok := strings.CutPrefix(entry.Content, "listening on "); ok {
			return strings.TrimSpace(addr)
		}
	}
	return ""
}

// FreePort is a TCP port free on 127.0.0.1 right now (0 if none could be
// found): the port is found, closed and handed on, and something else may
// take it before the caller binds it. It is only for what cannot be handed
// an open listener nor started on port 0 and asked which port it got —
// go-zero's DevServer, a container's published port that must survive a
// restart — and its callers must survive a taken port (retry, or fall back
// to port 0). An in-process server listens on 127.0.0.1:0 itself and is
// handed the listener (httptest does); the service binary is started with
// Port: 0 and read back with ListenAddr.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
