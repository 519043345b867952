package store

import (
	"database/sql"
	"reflect"
	"sync"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

// Scanning rows into the models' structs without go-zero's per-row mapping.
// go-zero's sqlx builds a map of a struct's db tags for every row it reads
// (a third of the service's CPU per record); here the columns of a query are
// matched to the fields once per struct type and column list (a plan), and
// each row is scanned straight into the fields. It is generic — any struct
// whose fields carry db tags, as goctl generates them and as custom finders
// declare them — so a new model or finder needs no code here. What a plan
// does not cover (embedded structs, pointer fields, untagged structs,
// scalars) goes to go-zero's mapping; the tests pin both to the same values.

// plan maps a query's columns to a struct's fields: field[i] is the index
// of the field column i fills, -1 for a column no field is tagged with
// (read and dropped, as go-zero does).
type plan struct {
	columns []string
	field   []int
}

var (
	plansMu sync.RWMutex
	plans   = map[reflect.Type][]*plan{} // by struct type; usually one column list each
)

// fields are the db-tagged fields of struct type t by column name; ok is
// false when t is not a type plans cover.
func fields(t reflect.Type) (byTag map[string]int, ok bool) {
	byTag = map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := sqlxTag(f)
		switch {
		case f.Anonymous || f.Type.Kind() == reflect.Pointer:
			return nil, false
		case tag != "":
			byTag[tag] = i
		}
	}
	return byTag, len(byTag) > 0
}

// planOf is the plan of struct type t (one fields accepts) for columns.
// Fewer columns than tagged fields is go-zero's ErrNotMatchDestination.
func planOf(t reflect.Type, columns []string) (*plan, error) {
	plansMu.RLock()
	for _, p := range plans[t] {
		if equal(p.columns, columns) {
			plansMu.RUnlock()
			return p, nil
		}
	}
	plansMu.RUnlock()
	byTag, _ := fields(t)
	if len(columns) < len(byTag) {
		return nil, sqlx.ErrNotMatchDestination
	}
	p := &plan{columns: append([]string(nil), columns...), field: make([]int, len(columns))}
	for i, c := range columns {
		p.field[i] = -1
		if f, ok := byTag[c]; ok {
			p.field[i] = f
		}
	}
	plansMu.Lock()
	plans[t] = append(plans[t], p)
	plansMu.Unlock()
	return p, nil
}

// sqlxTag is the column name of a db tag ("name,options"), as go-zero reads it.
func sqlxTag(f reflect.StructField) string {
	tag := f.Tag.Get("db")
	for i := range len(tag) {
		if tag[i] == ',' {
			return tag[:i]
		}
	}
	if tag == "-" {
		return ""
	}
	return tag
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// scanner reads rows into a destination: *T for one row (T a struct), or
// *[]T / *[]*T for all of them.
type scanner struct {
	dst     reflect.Value // the pointer's target: a struct or a slice
	elem    reflect.Type  // the struct type
	ptrElem bool          // a slice of *T
	many    bool
}

// scannerOf is the scanner of dst, or false when plans cannot fill it (go-zero's mapping then does).
func scannerOf(dst any, many bool) (scanner, bool) {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return scanner{}, false
	}
	s := scanner{dst: v.Elem(), many: many}
	t := s.dst.Type()
	if many {
		if t.Kind() != reflect.Slice {
			return scanner{}, false
		}
		t = t.Elem()
		if t.Kind() == reflect.Pointer {
			s.ptrElem, t = true, t.Elem()
		}
	}
	if t.Kind() != reflect.Struct || !plannable(t) {
		return scanner{}, false
	}
	s.elem = t
	return s, true
}

var plannableTypes sync.Map // reflect.Type -> bool

func plannable(t reflect.Type) bool {
	if ok, seen := plannableTypes.Load(t); seen {
		return ok.(bool)
	}
	_, ok := fields(t)
	plannableTypes.Store(t, ok)
	return ok
}

// scan reads rows into the destination.
func (s scanner) scan(rows *sql.Rows) error {
	columns, err := rows.Columns()
	if err != nil {
		return err
	}
	p, err := planOf(s.elem, columns)
	if err != nil {
		return err
	}
	targets := make([]any, len(columns))
	var dropped any
	fill := func(v reflect.Value) {
		for i, f := range p.field {
			if f < 0 {
				targets[i] = &dropped
			} else {
				targets[i] = v.Field(f).Addr().Interface()
			}
		}
	}
	if !s.many {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return sqlx.ErrNotFound
		}
		fill(s.dst)
		return rows.Scan(targets...)
	}
	for rows.Next() {
		ptr := reflect.New(s.elem)
		fill(ptr.Elem())
		if err := rows.Scan(targets...); err != nil {
			return err
		}
		if s.ptrElem {
			s.dst.Set(reflect.Append(s.dst, ptr))
		} else {
			s.dst.Set(reflect.Append(s.dst, ptr.Elem()))
		}
	}
	return rows.Err()
}
