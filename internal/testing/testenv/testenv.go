// Package testenv answers what tests and tools ask of their surroundings:
// where the repository is, and a free loopback port.
package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
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

// FreePort is a TCP port free on 127.0.0.1 right now (0 if none could be
// found). Something else may take it before the caller binds it; callers
// that can listen on ":0" themselves should.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
