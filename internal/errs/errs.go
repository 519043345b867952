// Package errs is the service's one error table: the kinds of failure a
// client can see, the HTTP status and stable JSON code of each, and the
// classification of untyped errors (context, driver, breaker) into a kind.
//
// Logic returns *Error values; one handler (Handle, installed with
// httpx.SetErrorHandlerCtx) turns any error into a status and a Body. The
// text of a wrapped error is logged, never sent: clients only ever see the
// Message of their kind.
package errs

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/breaker"
	"github.com/zeromicro/go-zero/core/logx"
)

// Code is the stable word clients switch on; it never changes once published.
type Code string

// The codes of the API contract (README.md, "Errors").
const (
	InvalidArgument  Code = "invalid_argument"
	Unauthenticated  Code = "unauthenticated"
	PermissionDenied Code = "permission_denied"
	NotFound         Code = "not_found"
	// MethodNotAllowed is a method the route does not serve (every route
	// serves GET and HEAD).
	MethodNotAllowed Code = "method_not_allowed"
	// ResourceExhausted is a client over its rate limit.
	ResourceExhausted Code = "resource_exhausted"
	// HeaderTooLarge is a request whose header exceeds MaxHeaderBytes.
	HeaderTooLarge Code = "header_too_large"
	Timeout        Code = "timeout"
	Unavailable    Code = "unavailable"
	Internal       Code = "internal"
	// Canceled is the client having gone away; nobody reads the answer, it
	// only shows up in access logs and metrics (as nginx's 499).
	Canceled Code = "canceled"
)

// StatusClientClosedRequest is the status logged when the client went away.
const StatusClientClosedRequest = 499

// RetryAfterSeconds is the Retry-After hint sent with every 503.
const RetryAfterSeconds = "1"

var kinds = map[Code]struct {
	status  int
	message string // the default text a person reads
}{
	InvalidArgument:   {http.StatusBadRequest, "the request is not valid"},
	Unauthenticated:   {http.StatusUnauthorized, "a valid bearer token is required"},
	PermissionDenied:  {http.StatusForbidden, "the token does not grant access to this resource"},
	NotFound:          {http.StatusNotFound, "no such resource"},
	HeaderTooLarge:    {http.StatusRequestHeaderFieldsTooLarge, "the request's header is too large"},
	MethodNotAllowed:  {http.StatusMethodNotAllowed, "this method is not allowed on this route; use GET or HEAD"},
	ResourceExhausted: {http.StatusTooManyRequests, "the client's rate limit is used up; retry after Retry-After seconds"},
	Timeout:           {http.StatusGatewayTimeout, "the request did not complete within its deadline; retry later"},
	Unavailable:       {http.StatusServiceUnavailable, "the service cannot reach its database right now; retry later"},
	Internal:          {http.StatusInternalServerError, "internal error; it has been logged"},
	Canceled:          {StatusClientClosedRequest, "the client closed the request"},
}

// Codes are the codes a client can receive, sorted (not Canceled: nobody
// reads that answer).
func Codes() []string {
	var out []string
	for code := range kinds {
		if code != Canceled {
			out = append(out, string(code))
		}
	}
	slices.Sort(out)
	return out
}

// Error is a failure of a known kind. Message is what the client reads; Err,
// if any, is the cause and only ever goes to the log.
type Error struct {
	Code    Code
	Message string
	Err     error
}

// New returns an error of kind code with a client-facing message (the kind's
// default when empty) and an optional cause kept for the log.
func New(code Code, message string, cause error) *Error {
	if message == "" {
		message = kinds[code].message
	}
	return &Error{Code: code, Message: message, Err: cause}
}

// Newf is New with a formatted client-facing message and no cause.
func Newf(code Code, format string, args ...any) *Error {
	return New(code, fmt.Sprintf(format, args...), nil)
}

// Error is the log text: code, message and cause.
func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Code) + ": " + e.Message
	}
	return string(e.Code) + ": " + e.Message + ": " + e.Err.Error()
}

// Unwrap exposes the cause to errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status of the error's kind.
func (e *Error) Status() int { return StatusOf(e.Code) }

// StatusOf is the HTTP status of a code; unknown codes are 500.
func StatusOf(code Code) int {
	if k, ok := kinds[code]; ok {
		return k.status
	}
	return http.StatusInternalServerError
}

// CodeOf is the code of an HTTP error status, for responses written by
// go-zero's middlewares with a bare status: the kind with that status, else
// Internal for 5xx and InvalidArgument for 4xx.
func CodeOf(status int) Code {
	for code, k := range kinds {
		if k.status == status {
			return code
		}
	}
	if status >= http.StatusInternalServerError {
		return Internal
	}
	return InvalidArgument
}

// Body is the JSON error body of the API contract.
type Body struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Server-side statement time limits: MySQL's MAX_EXECUTION_TIME (3024) and
// MariaDB's max_statement_time (1969) both mean the deadline was reached.
// Too many connections (1040) and server shutdown (1053) mean unavailable.
const (
	mysqlErrQueryTimeout   = 3024
	mariadbErrQueryTimeout = 1969
	mysqlErrTooManyConns   = 1040
	mysqlErrServerShutdown = 1053
)

// Classify maps any error to an *Error. Typed errors pass through; the rest
// is recognised by kind (deadline, cancellation, breaker, network, driver),
// and anything unknown becomes Internal with the cause kept for the log.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var typed *Error
	if errors.As(err, &typed) {
		return typed
	}
	var myErr *mysql.MySQLError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, http.ErrHandlerTimeout):
		return New(Timeout, "", err)
	case errors.Is(err, context.Canceled):
		return New(Canceled, "", err)
	case errors.Is(err, breaker.ErrServiceUnavailable),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, mysql.ErrInvalidConn),
		errors.As(err, &netErr):
		return New(Unavailable, "", err)
	case errors.As(err, &myErr):
		switch myErr.Number {
		case mysqlErrQueryTimeout, mariadbErrQueryTimeout:
			return New(Timeout, "", err)
		case mysqlErrTooManyConns, mysqlErrServerShutdown:
			return New(Unavailable, "", err)
		}
	}
	return New(Internal, "", err)
}

// Handle is the service's one error handler (httpx.SetErrorHandlerCtx): it
// logs the cause of server-side failures and answers with the kind's status
// and Body. It also decides the status of go-zero's own rest timeout, which
// reaches it as context.DeadlineExceeded.
func Handle(ctx context.Context, err error) (int, any) {
	e := Classify(err)
	status := e.Status()
	if status >= http.StatusInternalServerError {
		logx.WithContext(ctx).Errorw("request failed", logx.Field("code", e.Code), logx.Field("error", e.Error()))
	}
	return status, Body{Code: e.Code, Message: e.Message}
}

// maxEcho bounds how much of a client's bad input is quoted back.
const maxEcho = 40

// InvalidRequest wraps a request-parsing failure (httpx.Parse) as
// InvalidArgument, naming the offending value rather than the parser's text.
func InvalidRequest(err error) *Error {
	var numErr *strconv.NumError
	if errors.As(err, &numErr) {
		value := numErr.Num
		if len(value) > maxEcho {
			value = value[:maxEcho] + "..."
		}
		if errors.Is(numErr.Err, strconv.ErrRange) {
			return New(InvalidArgument, fmt.Sprintf("%q is out of range for a 64-bit integer", value), err)
		}
		return New(InvalidArgument, fmt.Sprintf("%q is not a whole number", value), err)
	}
	return New(InvalidArgument, "the request's path or query parameters are malformed", err)
}

// FailsFast reports whether err is a failure that cost (almost) nothing: the
// server refused or reset the connection, or a pooled connection was found
// broken. The database breaker need not shed load for these — they do not
// pile up — and counting them would keep the breaker refusing requests for
// its whole 10 s window after the database is back. Slow failures (dial or
// query timeouts, deadlines) are not among them: the breaker is what turns
// those into fast 503s.
func FailsFast(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn)
}
