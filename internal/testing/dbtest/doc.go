// Package dbtest runs a MySQL-compatible server in a Docker container for
// integration tests (testcontainers-go) and hands out fresh, isolated
// databases loaded from the repository's SQL files.
//
// Use from a package's tests:
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
//
//	func TestFindOne(t *testing.T) {
//		dsn := dbtest.NewDatabase(t, "sql/seed.sql") // sql/schema.sql + seed, dropped after the test
//		...
//	}
//
// The image is mysql:8.4 unless DBTEST_IMAGE names another one, e.g. the
// registry-less projectsvc-mariadb:10.11 built by .ci/images/mariadb.sh.
//
// Without a reachable Docker daemon the integration tests skip locally; with
// CI=true the test binary fails instead, so CI is never green with skipped
// integration tests. An explicitly set DOCKER_HOST that does not answer counts
// as "no daemon" (testcontainers would otherwise silently fall back to the
// default socket).
//
// Ryuk (testcontainers' reaper) is not required: when its image is not
// present locally it is disabled, and dbtest terminates its containers itself
// (also on SIGINT/SIGTERM). Containers carry the label projectsvc.dbtest=1;
// those left behind by a crashed test binary are removed by the next Start on
// the same machine, or by hand:
//
//	docker rm -f $(docker ps -aq --filter label=projectsvc.dbtest=1)
package dbtest
