// Package redistest runs Redis in Docker containers for tests
// (testcontainers-go), with the faults a Redis client must survive: Redis
// killed (connections refused), paused (connections hang), restarted (empty,
// on the same address).
//
// A server of the test's own, removed when the test ends; the only kind
// whose faults may be injected:
//
//	func TestLimitsSurviveRedisRestart(t *testing.T) {
//		r := redistest.Start(t)
//		... configure the client with r.Addr() ...
//		r.Kill(t)    // docker kill: refused at once
//		r.Restart(t) // up again on the same Addr, empty
//		r.Pause(t)   // docker pause: commands and new connections hang
//		r.Unpause(t)
//	}
//
// One server shared by a test binary's tests (started on first use, removed
// when the binary ends), for tests that only need a Redis to talk to; they
// share its keyspace, so each uses keys of its own:
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
//	// next to dbtest's server:
//	func TestMain(m *testing.M) {
//		os.Exit(leakcheck.After(redistest.Run(func() int { return dbtest.Main(m) })))
//	}
//
//	addr := redistest.Shared(t).Addr()
//
// The image is redis:7 unless REDIS_TEST_IMAGE names another one, e.g. the
// registry-less projectsvc-redis:7 built by .ci/images/redis.sh (`make test`
// sets it through .ci/images/redis-image.sh). Servers run as the image's
// entrypoint runs redis-server, with --save "" --appendonly no: nothing is
// persisted, so a restarted server starts empty whatever the image.
//
// Addr is a host port pinned when the container is created, so it stays the
// same across Kill and Restart: a client configured with it reconnects by
// itself (see Server.Restart). Ping(ctx, addr) asks a server for PONG over
// a plain TCP connection, without a Redis client.
//
// Without a reachable Docker daemon the tests that ask for a server skip;
// with CI=true they fail instead, so CI is never green with skipped Redis
// tests. StartContext, for tools (`make run`), returns the reason as an
// error instead.
//
// Ryuk (testcontainers' reaper) is not required: when its image is not
// present locally it is disabled, and redistest removes its containers
// itself — in t.Cleanup, at the end of Main/Run, and on SIGINT/SIGTERM (the
// test binary then exits 128+signal). Containers carry dbtest.Labels() and
// projectsvc.redistest=1; those of test processes that are gone are removed
// by the next start on the machine (dbtest's or redistest's), or by hand:
//
//	docker rm -f $(docker ps -aq --filter label=projectsvc.redistest=1)
package redistest
