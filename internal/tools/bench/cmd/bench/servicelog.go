package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
)

// dropAccessLines keeps the first lines of the service log's warnings,
// errors, slow and stat lines and drops its info lines (one access line per
// request: hundreds of MiB per bench run).
func dropAccessLines(path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	const keep = 20000 // other lines kept; the shedding run logs three per refused request
	var dropped, over, kept int64
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.Contains(line, []byte(`"level":"info"`)):
			dropped++
		case kept >= keep:
			over++
		default:
			kept++
			w.Write(line)
			w.WriteByte('\n')
		}
	}
	fmt.Fprintf(w, "bench: after the run, %d info lines (access log) and %d lines beyond the first %d others were dropped from this file\n", dropped, over, keep)
	if err := errors.Join(sc.Err(), w.Flush(), out.Close()); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
