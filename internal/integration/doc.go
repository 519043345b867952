// Package integration tests the whole service — router, middlewares, logic,
// models and the one pool — against a real MySQL-compatible server in a
// container (internal/testing/dbtest), with network faults injected between the
// service and the database by toxiproxy (internal/testing/faultproxy).
package integration
