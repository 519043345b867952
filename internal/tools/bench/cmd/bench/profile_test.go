package main

import (
	"debug/elf"
	"debug/gosym"
	"os"
	"testing"
)

// The profile areas name functions of the service (and of go-zero, the
// standard library, the runtime) by the names pprof shows. A renamed or
// removed function silently drops out of an area, so every name must be
// one of this build's functions, unless it is retired (kept for older
// results).
func TestProfileAreasNameFunctions(t *testing.T) {
	funcs := builtFunctions(t)
	named := map[string]bool{}
	for _, a := range profileAreas {
		for _, fn := range a.Fns {
			named[fn] = true
		}
	}
	for _, fns := range [][]string{ownLogic, rowMapping, reflectiveMapping, ourSites, {ourLast}} {
		for _, fn := range fns {
			named[fn] = true
		}
	}
	for fn := range named {
		switch {
		case retired[fn] && funcs[fn]:
			t.Errorf("%s is marked retired but this build has it", fn)
		case !retired[fn] && !funcs[fn]:
			t.Errorf("profile areas name %s, which this build does not have (renamed? removed? then mark it retired and name its successor)", fn)
		}
	}
}

// builtFunctions are the functions of this test binary (which links the
// service, as the bench does), by their pprof names.
func builtFunctions(t *testing.T) map[string]bool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Skipf("not an ELF binary: %v", err)
	}
	defer f.Close()
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		t.Skip("no .gopclntab or .text section")
	}
	data, err := pcln.Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, fn := range tab.Funcs {
		out[fn.Name] = true
	}
	return out
}
