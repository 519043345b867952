package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

// site is a row as goctl and the custom finders declare them: db tags,
// an option after the name, an untagged field and a "-" one.
type site struct {
	ID      uint64         `db:"id"`
	Name    string         `db:"name,omitempty"`
	Joined  time.Time      `db:"joined_at"`
	Note    sql.NullString `db:"note"`
	Scratch string
	Ignored string `db:"-"`
}

var joined = time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)

// serving is a server answering every query with res.
func serving(res *fakeRows) *fakeServer {
	return &fakeServer{query: func(context.Context, string, []driver.NamedValue) (*fakeRows, error) { return res, nil }}
}

// both reads q into a fresh *T through the store's read path and through
// go-zero's own mapping, and wants the same value and the same error.
func both[T any](t *testing.T, s *fakeServer, many bool) (T, error) {
	t.Helper()
	db := openFake(t, s)
	ours := newReadConn(sqlx.NewSqlConnFromDB(db), db, false)
	theirs := sqlx.NewSqlConnFromDB(db)
	var a, b T
	var errA, errB error
	if many {
		errA = ours.QueryRowsCtx(context.Background(), &a, "select x")
		errB = theirs.QueryRowsCtx(context.Background(), &b, "select x")
	} else {
		errA = ours.QueryRowCtx(context.Background(), &a, "select x")
		errB = theirs.QueryRowCtx(context.Background(), &b, "select x")
	}
	if (errA == nil) != (errB == nil) || (errA != nil && !errors.Is(errA, errB) && errA.Error() != errB.Error()) {
		t.Fatalf("%T: the store's read says %v, go-zero's %v", a, errA, errB)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("%T: the store's read gives %+v, go-zero's %+v", a, a, b)
	}
	return a, errA
}

// ours reads q into a fresh *T through the store's read path only.
func ours[T any](t *testing.T, s *fakeServer, many bool) (T, error) {
	t.Helper()
	db := openFake(t, s)
	c := newReadConn(sqlx.NewSqlConnFromDB(db), db, false)
	var v T
	if many {
		return v, c.QueryRowsCtx(context.Background(), &v, "select x")
	}
	return v, c.QueryRowCtx(context.Background(), &v, "select x")
}

func TestScan_ReadsRowsAsGoZerosMappingDoes(t *testing.T) {
	rows := result([]string{"note", "joined_at", "id", "extra", "name"},
		[]driver.Value{"first", joined, int64(7), "dropped", []byte("Charité")},
		[]driver.Value{nil, joined.Add(time.Hour), int64(8), int64(1), "Karolinska"},
	)
	want := []site{
		{ID: 7, Name: "Charité", Joined: joined, Note: sql.NullString{String: "first", Valid: true}},
		{ID: 8, Name: "Karolinska", Joined: joined.Add(time.Hour)},
	}
	if got, err := both[[]site](t, serving(rows), true); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("rows %+v, %v: want %+v", got, err, want)
	}
	if got, err := both[[]*site](t, serving(rows), true); err != nil || len(got) != 2 || *got[0] != want[0] || *got[1] != want[1] {
		t.Fatalf("rows into []*site: %+v, %v", got, err)
	}
	if got, err := both[site](t, serving(rows), false); err != nil || got != want[0] {
		t.Fatalf("one row: %+v, %v: want the first, %+v", got, err, want[0])
	}
}

// TestScan_EachColumnListOfATypeHasItsOwnPlan: the same struct read by
// queries naming its columns in other orders gets each column right.
func TestScan_EachColumnListOfATypeHasItsOwnPlan(t *testing.T) {
	type pair struct {
		A string `db:"a"`
		B string `db:"b"`
		C string `db:"c"`
	}
	for _, columns := range [][]string{{"a", "b", "c"}, {"c", "b", "a"}, {"b", "a", "c"}, {"a", "b", "c", "d"}, {"a", "b", "d"}} {
		values := make([]driver.Value, len(columns))
		for i, c := range columns {
			values[i] = c + "-value"
		}
		got, err := both[pair](t, serving(result(columns, values)), false)
		if err != nil && len(columns) == 3 && columns[2] != "d" {
			t.Fatalf("columns %v: %v", columns, err)
		}
		if err == nil && (got.A != "a-value" || got.B != "b-value") {
			t.Fatalf("columns %v: %+v", columns, got)
		}
	}
}

func TestScan_FewerColumnsThanTaggedFieldsIsNotAMatch(t *testing.T) {
	type three struct {
		A string `db:"a"`
		B string `db:"b"`
		C string `db:"c"`
	}
	_, err := both[three](t, serving(result([]string{"a", "b"}, []driver.Value{"x", "y"})), false)
	if !errors.Is(err, sqlx.ErrNotMatchDestination) {
		t.Fatalf("2 columns into 3 tagged fields: %v, want ErrNotMatchDestination", err)
	}
	if got, err := both[three](t, serving(result([]string{"a", "b", "c"}, []driver.Value{"x", "y", "z"})), false); err != nil || got.C != "z" {
		t.Fatalf("3 columns into 3 tagged fields: %+v, %v", got, err)
	}
}

func TestScan_NoRowIsNotFoundAndAnEmptyListIsNoError(t *testing.T) {
	empty := result([]string{"id", "name", "joined_at", "note"})
	if _, err := both[site](t, serving(empty), false); !errors.Is(err, sqlx.ErrNotFound) {
		t.Fatalf("no row: %v, want ErrNotFound", err)
	}
	if got, err := both[[]site](t, serving(empty), true); err != nil || len(got) != 0 {
		t.Fatalf("no rows: %v, %v: want none, no error", got, err)
	}
}

// TestScan_AFailureWhileReadingIsReturnedNotHidden: an error that ends the
// rows (a deadline, a reset connection) is the read's error — before the
// first row it is not "not found"; a value that does not fit its field is
// an error too.
func TestScan_AFailureWhileReadingIsReturnedNotHidden(t *testing.T) {
	broken := errors.New("connection reset mid-result")
	columns := []string{"id", "name", "joined_at", "note"}
	if _, err := both[site](t, serving(&fakeRows{columns: columns, err: broken}), false); !errors.Is(err, broken) {
		t.Fatalf("one row, the result broken before it: %v, want the break", err)
	}
	part := &fakeRows{columns: columns, rows: [][]driver.Value{{int64(1), "a", joined, nil}}, err: broken}
	// (go-zero's mapping says ErrNotMatchDestination here: the store names the break)
	if _, err := ours[[]site](t, serving(part), true); !errors.Is(err, broken) {
		t.Fatalf("rows, the result broken after the first: %v, want the break", err)
	}
	misfit := result(columns, []driver.Value{"not a number", "a", joined, nil})
	if _, err := ours[site](t, serving(misfit), false); err == nil {
		t.Fatal("a text into an integer field: no error")
	}
	if _, err := ours[[]site](t, serving(misfit), true); err == nil {
		t.Fatal("a text into an integer field of a list: no error")
	}
}

// TestScan_OtherDestinationsGoToGoZero: scalars, untagged structs and
// embedded structs are mapped by go-zero, with the same results.
func TestScan_OtherDestinationsGoToGoZero(t *testing.T) {
	count := result([]string{"count(*)"}, []driver.Value{int64(42)})
	if got, err := both[int64](t, serving(count), false); err != nil || got != 42 {
		t.Fatalf("a count: %d, %v", got, err)
	}
	if got, err := both[[]int64](t, serving(result([]string{"id"}, []driver.Value{int64(1)}, []driver.Value{int64(2)})), true); err != nil || len(got) != 2 {
		t.Fatalf("a list of ids: %v, %v", got, err)
	}
	type untagged struct{ ID int64 }
	both[untagged](t, serving(count), false)
	type base struct {
		ID int64 `db:"id"`
	}
	type embedded struct {
		base
		Name string `db:"name"`
	}
	both[embedded](t, serving(result([]string{"id", "name"}, []driver.Value{int64(3), "x"})), false)
	type pointers struct {
		ID   *int64 `db:"id"`
		Name string `db:"name"`
	}
	both[pointers](t, serving(result([]string{"id", "name"}, []driver.Value{int64(3), "x"})), false)
	if s, ok := scannerOf(site{}, false); ok {
		t.Fatalf("a destination that is not a pointer got a scanner %+v", s)
	}
	if s, ok := scannerOf((*site)(nil), false); ok {
		t.Fatalf("a nil pointer got a scanner %+v", s)
	}
	if s, ok := scannerOf(&site{}, true); ok {
		t.Fatalf("a single struct as the destination of many rows got a scanner %+v", s)
	}
}
