#!/usr/bin/env bash
# End-to-end test of the service image, as CI runs it:
#
#   bash .ci/e2e.sh
#
# Builds the image from the Dockerfile (with the registry-free builder image
# of .ci/images), starts a MySQL-compatible database and the service in
# containers on a private network, and checks the API, the image (size,
# non-root user, version stamp, HEALTHCHECK) and a graceful stop with a
# request in flight. One PASS/FAIL line per check; exits non-zero if any
# failed. Everything it starts is removed on exit, pass or fail.
#
# Needs: docker (engine on this machine: the test reads /proc/<pid>/status of
# the service's process), curl, git, Go (to build the slow proxy and, through
# .ci/images/golang.sh, the builder image), jq (installed with apt-get when
# missing).
#
# Knobs (environment):
#   E2E_BUILDER_IMAGE  Go builder image    (default projectsvc-golang:1.26, built by .ci/images/golang.sh)
#   E2E_DB_IMAGE       database image      (default projectsvc-mariadb:10.11, built by .ci/images/mariadb.sh)
#   E2E_IMAGE          tag of the service image built here (default projectsvc:e2e)
#   E2E_NO_CACHE=1     build the image without the engine's layer cache (a cold build)
#   GOPROXY            passed to the image build when set
#   EXTRA_CA_CERTS     PEM text of CA certificates the image build trusts (see
#                      Dockerfile); by default the certificates the host trusts
#                      and the builder image does not, e.g. a TLS-intercepting
#                      proxy's. E2E_EXTRA_CA=0 passes none.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS

builder_image=${E2E_BUILDER_IMAGE:-projectsvc-golang:1.26}
db_image=${E2E_DB_IMAGE:-projectsvc-mariadb:10.11}
image=${E2E_IMAGE:-projectsvc:e2e}
max_image_bytes=$((25 * 1000 * 1000)) # 25 MB as `docker images` counts
grace=15                              # docker stop -t, as compose's stop_grace_period
latency=3s                            # slow database replies for the graceful-stop check

run=projectsvc-e2e-$$-$RANDOM # unique prefix of everything started here
net=$run
db=$run-db
api=$run-api
proxy=$run-slowproxy
slow_api=$run-api-slow
work=$(mktemp -d "${TMPDIR:-/tmp}/projectsvc-e2e.XXXXXX")

log() { printf '[e2e] %s\n' "$*"; }
die() {
	printf '[e2e] ERROR: %s\n' "$*" >&2
	exit 1
}

failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() {
	printf 'FAIL  %s\n' "$*"
	failures=$((failures + 1))
}
# check DESCRIPTION COMMAND...: PASS if the command succeeds, else FAIL.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if ((rc != 0)); then
		local c
		for c in "$api" "$slow_api"; do
			docker inspect "$c" >/dev/null 2>&1 || continue
			log "last lines of $c's log:"
			docker logs --tail 20 "$c" 2>&1 | sed 's/^/    /' || true
		done
	fi
	docker rm -f "$slow_api" "$proxy" "$api" "$db" >/dev/null 2>&1 || true
	docker network rm "$net" >/dev/null 2>&1 || true
	rm -rf "$work"
	log "total time: $((SECONDS - started))s"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# phase NAME: logs the start of a phase and remembers when it began.
phase_start=$SECONDS
phase() {
	log "$* ..."
	phase_start=$SECONDS
}
phase_done() { log "  done in $((SECONDS - phase_start))s"; }

# ---------------------------------------------------------------- tools

command -v docker >/dev/null || die "docker not found"
command -v curl >/dev/null || die "curl not found"
command -v go >/dev/null || die "go not found (it builds the slow proxy and the builder image)"
if ! command -v jq >/dev/null; then
	log "installing jq with apt-get"
	sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
	if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null; }; then
		die "jq is missing and could not be installed with apt-get"
	fi
fi

# ---------------------------------------------------------------- images

phase "ensuring the builder and database images"
[[ $builder_image != projectsvc-golang:1.26 ]] || bash .ci/images/golang.sh
[[ $db_image != projectsvc-mariadb:10.11 ]] || bash .ci/images/mariadb.sh
phase_done

# extra_ca_certs prints the PEM certificates the host trusts (SSL_CERT_FILE
# or the Debian bundle) that the builder image's bundle lacks.
extra_ca_certs() {
	local host=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
	[[ -r $host ]] || return 0
	docker run --rm --entrypoint cat "$builder_image" /etc/ssl/certs/ca-certificates.crt >"$work/builder-ca.pem" 2>/dev/null || return 0
	awk -v known_file="$work/builder-ca.pem" '
		/-----BEGIN CERTIFICATE-----/ { pem = ""; body = ""; inside = 1 }
		inside { pem = pem $0 "\n"; if ($0 !~ /-----/) body = body $0 }
		/-----END CERTIFICATE-----/ {
			inside = 0
			if (FILENAME == known_file) known[body] = 1
			else if (!(body in known) && !(body in seen)) { seen[body] = 1; printf "%s", pem }
		}
	' "$work/builder-ca.pem" "$host"
}

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
build_args=(--build-arg "BUILDER_IMAGE=$builder_image" --build-arg "VERSION=$version" --build-arg "COMMIT=$commit")
[[ -z ${GOPROXY:-} ]] || build_args+=(--build-arg GOPROXY)
[[ ${E2E_NO_CACHE:-0} != 1 ]] || build_args+=(--no-cache)
if [[ -z ${EXTRA_CA_CERTS:-} && ${E2E_EXTRA_CA:-1} != 0 ]]; then
	EXTRA_CA_CERTS=$(extra_ca_certs)
fi
if [[ -n ${EXTRA_CA_CERTS:-} ]]; then
	export EXTRA_CA_CERTS
	log "the build trusts $(grep -c -- '-----BEGIN CERTIFICATE' <<<"$EXTRA_CA_CERTS") CA certificate(s) the host trusts and $builder_image does not (EXTRA_CA_CERTS)"
	build_args+=(--build-arg EXTRA_CA_CERTS) # by name: the value comes from the environment
fi

phase "building $image ($version, commit $commit) with $builder_image"
if ! docker build "${build_args[@]}" -t "$image" . >"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log"
	die "docker build failed (last lines above)"
fi
phase_done

phase "building the slow proxy (internal/tools/slowproxy)"
CGO_ENABLED=0 go build -trimpath -o "$work/slowproxy" ./internal/tools/slowproxy
phase_done

# ---------------------------------------------------------------- containers

# wait_healthy CONTAINER SECONDS: waits for Docker to report the container
# healthy; fails when it exits or the time is up.
wait_healthy() {
	local name=$1 deadline=$((SECONDS + $2)) status
	while ((SECONDS < deadline)); do
		status=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$name")
		case $status in
		"running healthy") return 0 ;;
		running*) sleep 0.5 ;;
		*)
			log "$name is $status"
			return 1
			;;
		esac
	done
	log "$name is not healthy after $2s ($status)"
	return 1
}

# host_port CONTAINER: the loopback host port published for 8888.
host_port() {
	local addr
	addr=$(docker port "$1" 8888/tcp | head -n1)
	echo "${addr##*:}"
}

# wait_http URL SECONDS: waits until URL answers 200.
wait_http() {
	local deadline=$((SECONDS + $2))
	until curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

phase "starting the database ($db_image)"
docker network create "$net" >/dev/null
# Files are copied in (docker cp) rather than bind-mounted: this also works
# when the Docker engine is on another machine.
docker create --name "$db" --network "$net" \
	-e MYSQL_ROOT_PASSWORD=e2e-root -e MYSQL_DATABASE=project \
	-e MYSQL_USER=project -e MYSQL_PASSWORD=project \
	--health-cmd 'mysqladmin ping -h 127.0.0.1 -uroot -p"$MYSQL_ROOT_PASSWORD" --silent' \
	--health-interval 1s --health-timeout 5s --health-retries 120 --health-start-period 120s \
	"$db_image" >/dev/null
docker cp sql/schema.sql "$db:/docker-entrypoint-initdb.d/01-schema.sql"
docker cp sql/seed.sql "$db:/docker-entrypoint-initdb.d/02-seed.sql"
docker start "$db" >/dev/null
wait_healthy "$db" 120 || {
	docker logs --tail 30 "$db" 2>&1
	die "the database did not become healthy"
}
phase_done

phase "starting the service ($image)"
api_started=$SECONDS
docker run -d --name "$api" --network "$net" \
	-e MYSQL_DSN="project:project@tcp($db:3306)/project" \
	-p 127.0.0.1::8888 "$image" >/dev/null
base=http://127.0.0.1:$(host_port "$api")
wait_http "$base/healthz" 20 || die "the service does not answer $base/healthz"
log "  service at $base"
phase_done

# ---------------------------------------------------------------- API

# get PATH: GETs the service; the body goes to $work/body, the status to stdout.
get() { curl -sS -o "$work/body" -w '%{http_code}' --max-time 10 "$base$1"; }
# expect PATH STATUS JQ_FILTER: the answer has that status and the body satisfies the filter.
expect() {
	local path=$1 want=$2 filter=$3 got
	got=$(get "$path") || got=error
	if [[ $got == "$want" ]] && jq -e "$filter" "$work/body" >/dev/null 2>&1; then
		pass "GET $path -> $got, body: $filter"
	else
		fail "GET $path -> $got (want $want), body must satisfy: $filter; body: $(head -c 300 "$work/body" 2>/dev/null)"
	fi
}

expect /project/1 200 '.project.id == 1 and (.institutions | length) == 4 and (.reports | length) == 4'
expect /project/999 404 '.code == "not_found" and (.message | type) == "string"'
expect /project/abc 400 '.code == "invalid_argument"'
expect /readyz 200 '.status == "ready"'

# ---------------------------------------------------------------- image

# numeric_non_root USER: USER is "uid" or "uid:gid", numeric, uid not 0.
numeric_non_root() { [[ $1 =~ ^([0-9]+)(:[0-9]+)?$ ]] && ((BASH_REMATCH[1] != 0)); }
# all_non_zero N...: there is at least one N and none is 0.
all_non_zero() {
	(($# > 0)) || return 1
	local n
	for n in "$@"; do ((n != 0)) || return 1; done
}

user=$(docker inspect -f '{{.Config.User}}' "$api")
check "image user is numeric and not root (Config.User=$user)" numeric_non_root "$user"

pid=$(docker inspect -f '{{.State.Pid}}' "$api")
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status" 2>/dev/null || true)
# shellcheck disable=SC2086 # split the four uids
check "the service process (host pid $pid) runs as a non-root uid (real/effective/saved/fs: ${uids:-unreadable})" \
	all_non_zero $uids

size=$(docker image inspect -f '{{.Size}}' "$image")
check "image size $((size / 1000000)) MB ($size bytes) <= $((max_image_bytes / 1000000)) MB" \
	test "$size" -le "$max_image_bytes"

version_out=$(docker run --rm "$image" -version 2>&1 || true)
check "-version prints the commit: $version_out" grep -q -- "$commit" <<<"$version_out"

# The image's HEALTHCHECK runs every 10s, so the first verdict comes ~10s in.
left=$((30 - (SECONDS - api_started)))
((left > 0)) || left=1
if wait_healthy "$api" "$left"; then
	pass "Docker HEALTHCHECK reports healthy $((SECONDS - api_started))s after start (limit 30s)"
else
	fail "Docker HEALTHCHECK not healthy 30s after start: $(docker inspect -f '{{json .State.Health}}' "$api" | head -c 400)"
fi

# ---------------------------------------------------------------- graceful stop
#
# A second service container reaches the database through slowproxy, which
# (once told to) delays every reply by $latency: a request is then in flight
# for about $latency. The service is stopped (SIGTERM) half a second into the
# request; it must answer that request, then drain, close the pool and exit 0.
#
# Its config is the image's with two changes, because the request is slow on
# purpose: Timeout 10000 (the default 3000 ms would turn the $latency reads
# into a 504), and Shutdown.WaitTime 12s (go-zero force-quits after WaitTime,
# default 5.5s; 12s leaves room for a slow CI machine yet comes before
# `docker stop -t $grace` would SIGKILL it). WrapUpTime stays 1s, the default.

phase "graceful stop with a request in flight (database replies +$latency)"
docker create --name "$proxy" --network "$net" --no-healthcheck --entrypoint /slowproxy \
	"$image" -listen 0.0.0.0:3306 -upstream "$db:3306" -latency "$latency" >/dev/null
docker cp "$work/slowproxy" "$proxy:/slowproxy"
docker start "$proxy" >/dev/null

grep -q '^Shutdown:' etc/project-api.yaml && die "etc/project-api.yaml has a Shutdown block: update the e2e config below"
{
	grep -v '^Timeout:' etc/project-api.yaml
	printf 'Timeout: 10000\nShutdown:\n  WrapUpTime: 1s\n  WaitTime: 12s\n'
} >"$work/e2e-project-api.yaml"
chmod 0644 "$work/e2e-project-api.yaml"
docker create --name "$slow_api" --network "$net" \
	-e MYSQL_DSN="project:project@tcp($proxy:3306)/project" \
	-p 127.0.0.1::8888 "$image" -f /etc/e2e-project-api.yaml >/dev/null
docker cp "$work/e2e-project-api.yaml" "$slow_api:/etc/e2e-project-api.yaml"
docker start "$slow_api" >/dev/null
slow_base=http://127.0.0.1:$(host_port "$slow_api")
wait_http "$slow_base/healthz" 20 || die "the second service does not answer $slow_base/healthz"

# Warm the pool at full speed (a new MySQL connection costs several round
# trips, each of which would be delayed), then slow the database down.
for _ in 1 2 3 4; do
	curl -fsS -o /dev/null --max-time 10 "$slow_base/project/1" &
done
wait
docker kill --signal USR1 "$proxy" >/dev/null
for _ in $(seq 50); do
	docker logs "$proxy" 2>&1 | grep -q 'latency on' && break
	sleep 0.1
done

curl -sS -A e2e-inflight -o "$work/inflight.body" -w '%{http_code} %{time_total}' --max-time 30 \
	"$slow_base/project/1" >"$work/inflight.out" 2>&1 &
curl_pid=$!
sleep 0.5
check "the request is in flight when the stop begins" kill -0 "$curl_pid"
stop_began=$(date +%s%N)
docker stop -t "$grace" "$slow_api" >/dev/null
stop_ms=$((($(date +%s%N) - stop_began) / 1000000))
wait "$curl_pid" || true
read -r inflight_status inflight_secs <"$work/inflight.out" || true
phase_done

inflight_ok() { [[ ${inflight_status:-} == 200 ]] && jq -e '.project.id == 1' "$work/inflight.body" >/dev/null; }
check "the in-flight request got ${inflight_status:-no answer} with project 1 (took ${inflight_secs:-?}s)" inflight_ok
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$slow_api")
check "the service exited with code 0 (got $exit_code)" test "$exit_code" = 0
check "it stopped within the grace period (${stop_ms} ms < ${grace}000 ms)" test "$stop_ms" -lt "$((grace * 1000))"

docker logs "$slow_api" >"$work/slow_api.log" 2>&1
# line_of STRING [STRING2]: the number of the first log line containing
# STRING (and STRING2).
line_of() {
	grep -n -F -- "$1" "$work/slow_api.log" | grep -F -- "${2:-$1}" | head -n1 | cut -d: -f1
}
# ascending N...: every N is set and each is greater than the one before.
ascending() {
	local prev=0 n
	for n in "$@"; do
		[[ $n =~ ^[0-9]+$ ]] && ((n > prev)) || return 1
		prev=$n
	done
}
signal_line=$(line_of 'Got signal 15')
access_line=$(line_of '[HTTP] 200 - GET /project/1 - ' 'e2e-inflight')
drained_line=$(line_of 'http server drained; closing the database pool')
bye_line=$(line_of 'database pool closed; bye')
check "log order: SIGTERM (line ${signal_line:-none}) < the in-flight request's access log (${access_line:-none}) < \"http server drained\" (${drained_line:-none}) < \"database pool closed; bye\" (${bye_line:-none})" \
	ascending "$signal_line" "$access_line" "$drained_line" "$bye_line"

# ---------------------------------------------------------------- verdict

if ((failures > 0)); then
	log "$failures check(s) FAILED"
	exit 1
fi
log "all checks passed"
