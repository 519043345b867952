package fakes

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

// ErrNotFaked is the error of every statement run on NotFaked.
var ErrNotFaked = errors.New("fakes: this query has no fake; give the test a fake for it")

// NotFaked is a sqlx.SqlConn that runs no SQL: every statement fails with
// ErrNotFaked and the query text (for the log; it never reaches a client).
var NotFaked sqlx.SqlConn = notFaked{}

type notFaked struct{ sqlx.SqlConn }

func fail(q string) error { return fmt.Errorf("%w: %s", ErrNotFaked, q) }

func (notFaked) ExecCtx(_ context.Context, q string, _ ...any) (sql.Result, error) {
	return nil, fail(q)
}
func (notFaked) PrepareCtx(_ context.Context, q string) (sqlx.StmtSession, error) {
	return nil, fail(q)
}
func (notFaked) QueryRowCtx(_ context.Context, _ any, q string, _ ...any) error  { return fail(q) }
func (notFaked) QueryRowsCtx(_ context.Context, _ any, q string, _ ...any) error { return fail(q) }
func (notFaked) QueryRowPartialCtx(_ context.Context, _ any, q string, _ ...any) error {
	return fail(q)
}
func (notFaked) QueryRowsPartialCtx(_ context.Context, _ any, q string, _ ...any) error {
	return fail(q)
}
func (notFaked) RawDB() (*sql.DB, error) { return nil, ErrNotFaked }
func (notFaked) TransactCtx(context.Context, func(context.Context, sqlx.Session) error) error {
	return ErrNotFaked
}
