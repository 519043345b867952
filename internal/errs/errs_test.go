package errs

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/breaker"
)

func TestClassify_EveryKindOfFailure(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		code Code
	}{
		{"typedPassesThrough", Newf(NotFound, "project 9 does not exist"), NotFound},
		{"wrappedTyped", fmt.Errorf("x: %w", New(InvalidArgument, "", nil)), InvalidArgument},
		{"deadline", fmt.Errorf("q: %w", context.DeadlineExceeded), Timeout},
		{"handlerTimeout", http.ErrHandlerTimeout, Timeout},
		{"canceled", context.Canceled, Canceled},
		{"breakerOpen", breaker.ErrServiceUnavailable, Unavailable},
		{"badConn", driver.ErrBadConn, Unavailable},
		{"invalidConn", mysql.ErrInvalidConn, Unavailable},
		{"refused", refused, Unavailable},
		{"mysqlStatementTimeout", &mysql.MySQLError{Number: 3024}, Timeout},
		{"mariadbStatementTimeout", &mysql.MySQLError{Number: 1969}, Timeout},
		{"tooManyConnections", &mysql.MySQLError{Number: 1040}, Unavailable},
		{"serverShutdown", &mysql.MySQLError{Number: 1053}, Unavailable},
		{"otherServerError", &mysql.MySQLError{Number: 1146, Message: "Table 'x' doesn't exist"}, Internal},
		{"unknown", errors.New("boom"), Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got.Code != tc.code {
				t.Fatalf("Classify(%v) = %s, want %s", tc.err, got.Code, tc.code)
			}
		})
	}
	if Classify(nil) != nil {
		t.Fatal("Classify(nil) is not nil")
	}
}

func TestStatusAndCode_OfEveryKind(t *testing.T) {
	for code, status := range map[Code]int{
		InvalidArgument: 400, Unauthenticated: 401, PermissionDenied: 403, NotFound: 404,
		Timeout: 504, Unavailable: 503, Internal: 500, Canceled: 499,
	} {
		if got := StatusOf(code); got != status {
			t.Errorf("StatusOf(%s) = %d, want %d", code, got, status)
		}
		if got := CodeOf(status); got != code {
			t.Errorf("CodeOf(%d) = %s, want %s", status, got, code)
		}
	}
	if StatusOf("no_such_code") != 500 || CodeOf(502) != Internal || CodeOf(418) != InvalidArgument {
		t.Fatal("unknown codes and statuses are not mapped to internal / invalid_argument")
	}
}

func TestHandle_SendsTheKindsMessageNeverTheCause(t *testing.T) {
	cause := &mysql.MySQLError{Number: 1146, Message: "Table 'project.secret_table' doesn't exist"}
	status, body := Handle(context.Background(), fmt.Errorf("select * from secret_table: %w", cause))
	b := body.(Body)
	if status != 500 || b.Code != Internal || strings.Contains(b.Message, "secret_table") || strings.Contains(b.Message, "select") {
		t.Fatalf("Handle: %d %+v", status, b)
	}
	status, body = Handle(context.Background(), Newf(NotFound, "project %d does not exist", 7))
	if b := body.(Body); status != 404 || b.Message != "project 7 does not exist" {
		t.Fatalf("Handle: %d %+v", status, b)
	}
}

func TestInvalidRequest_NamesTheValueNotTheParser(t *testing.T) {
	_, errSyntax := strconv.ParseInt("abc", 10, 64)
	_, errRange := strconv.ParseInt("9223372036854775808", 10, 64)
	long := strings.Repeat("x", 100)
	_, errLong := strconv.ParseInt(long, 10, 64)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errSyntax, `"abc" is not a whole number`},
		{errRange, `"9223372036854775808" is out of range for a 64-bit integer`},
		{errLong, `"` + long[:maxEcho] + `..." is not a whole number`},
		{errors.New("field id is not set"), "the request's path or query parameters are malformed"},
	} {
		e := InvalidRequest(tc.err)
		if e.Code != InvalidArgument || e.Message != tc.want || strings.Contains(e.Message, "strconv") {
			t.Errorf("InvalidRequest(%v) = %q, want %q", tc.err, e.Message, tc.want)
		}
	}
}

func TestFailsFast_OnlyCheapFailures(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, err := range []error{reset, refused, driver.ErrBadConn, mysql.ErrInvalidConn} {
		if !FailsFast(err) {
			t.Errorf("FailsFast(%v) = false", err)
		}
	}
	for _, err := range []error{context.DeadlineExceeded, &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, errors.New("x")} {
		if FailsFast(err) {
			t.Errorf("FailsFast(%v) = true: slow failures must feed the breaker", err)
		}
	}
}
