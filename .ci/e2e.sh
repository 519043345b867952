#!/usr/bin/env bash
# End-to-end test of the service image, as CI runs it:
#
#   bash .ci/e2e.sh
#
# Builds the service image from the Dockerfile and the demo OpenID Provider's
# image from internal/tools/devissuer/Dockerfile (both with the
# registry-free builder image of .ci/images), then runs the secured path in
# containers on a private network: the issuer (network alias "issuer",
# serving https on the network alias "issuer", port 9443, with a self-made CA it writes into a volume),
# a MySQL-compatible database with the schema, the demo data, the service's
# least-privilege user (sql/demo-user.sql, sql/grants.sql), a Redis for the
# rate limits' counters, and the service reading as that user, counting in
# that Redis and trusting the CA (SSL_CERT_DIR). Tokens come from
# the issuer's token endpoint (client credentials), as a platform's would.
#
# Checks: the API with and without tokens (401 + challenge, 200, 404/400
# JSON, a per-project grant, ETag / If-None-Match -> 304, the RateLimit
# headers of the client's quota), the audit rows the
# answers left (and none for the 401s), the database user and its grants,
# the refusal to start without a (secure) issuer, the image (size, non-root
# user, version stamp, HEALTHCHECK) and a graceful stop with a request in
# flight. One PASS/FAIL line per check; exits non-zero if any failed.
# Everything it starts (containers, network, volume) and the image tags it
# builds are removed on exit, pass or fail; the layers stay in the engine's
# build cache, so the next run is a warm build.
#
# Needs: docker (engine on this machine: the test reads /proc/<pid>/status of
# the service's process), curl, git, Go (to build the slow proxy and, through
# .ci/images/golang.sh, the builder image), jq (installed with apt-get when
# missing).
#
# Knobs (environment):
#   E2E_BUILDER_IMAGE  Go builder image    (default projectsvc-golang:1.26, built by .ci/images/golang.sh)
#   E2E_DB_IMAGE       database image      (default projectsvc-mariadb:10.11, built by .ci/images/mariadb.sh)
#   E2E_REDIS_IMAGE    Redis image         (default projectsvc-redis:7, built by .ci/images/redis.sh)
#   E2E_IMAGE          tag of the service image built here (default projectsvc:e2e)
#   E2E_ISSUER_IMAGE   tag of the demo issuer's image built here (default projectsvc-devissuer:e2e)
#   E2E_KEEP_IMAGES=1  keep those two tags after the run (default: removed)
#   E2E_NO_CACHE=1     build the images without the engine's layer cache (a cold build)
#   E2E_CACHE_REPO     repository of the tags that keep each Dockerfile's newest
#                      build stage as the next run's cache (default
#                      projectsvc-build-cache; older stages are pruned on exit)
#   GOPROXY            passed to the image builds when set
#   EXTRA_CA_CERTS     PEM text of CA certificates the image builds trust (see
#                      Dockerfile); by default the certificates the host trusts
#                      and the builder image does not, e.g. a TLS-intercepting
#                      proxy's. E2E_EXTRA_CA=0 passes none.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS

builder_image=${E2E_BUILDER_IMAGE:-projectsvc-golang:1.26}
db_image=${E2E_DB_IMAGE:-projectsvc-mariadb:10.11}
redis_image=${E2E_REDIS_IMAGE:-projectsvc-redis:7}
image=${E2E_IMAGE:-projectsvc:e2e}
issuer_image=${E2E_ISSUER_IMAGE:-projectsvc-devissuer:e2e}
max_image_bytes=$((25 * 1000 * 1000)) # 25 MB as `docker images` counts
grace=15                              # docker stop -t, as compose's stop_grace_period
# Slow database replies for the graceful-stop check. Below 2s on purpose:
# the audit row's INSERT (one more delayed reply after the reads) must
# commit within the service's audit write timeout (2s), else the answer
# is a 503 (fail closed).
latency=1s
issuer_alias=issuer              # the devissuer image's default -issuer is https://<alias>:9443
issuer_url="https://${issuer_alias}:9443"
ca_dir=/run/issuer-ca           # where it writes ca.pem, the service's SSL_CERT_DIR
db_root_password=e2e-root
db_user=projectsvc              # sql/demo-user.sql
db_password=projectsvc-demo

run=projectsvc-e2e-$$-$RANDOM # unique prefix of everything started here
net=$run
db=$run-db
redis=$run-redis
issuer=$run-issuer
ca_volume=$run-issuer-ca
api=$run-api
proxy=$run-slowproxy
slow_api=$run-api-slow
refusing=$run-refusing # the service started without a (secure) issuer
work=$(mktemp -d "${TMPDIR:-/tmp}/projectsvc-e2e.XXXXXX")

log() { printf '[e2e] %s\n' "$*"; }
die() {
	printf '[e2e] ERROR: %s\n' "$*" >&2
	exit 1
}

failures=0
built_images=() # tags this run built, removed on exit
# The label of the Dockerfiles' build stages, and the tag prefix that keeps
# the newest build stage of each Dockerfile as the next run's cache.
stage_label=com.github.clinicaldata.projectsvc.stage=build
cache_repo=${E2E_CACHE_REPO:-projectsvc-build-cache}
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
		for c in "$issuer" "$api" "$slow_api"; do
			docker inspect "$c" >/dev/null 2>&1 || continue
			log "last lines of $c's log:"
			docker logs --tail 20 "$c" 2>&1 | sed 's/^/    /' || true
		done
	fi
	docker rm -f "$slow_api" "$proxy" "$refusing" "$api" "$issuer" "$redis" "$db" >/dev/null 2>&1 || true
	docker network rm "$net" >/dev/null 2>&1 || true
	docker volume rm "$ca_volume" >/dev/null 2>&1 || true
	if [[ ${E2E_KEEP_IMAGES:-0} != 1 ]] && ((${#built_images[@]} > 0)); then
		docker rmi "${built_images[@]}" >/dev/null 2>&1 || true
	fi
	# The build stages' images of earlier runs: the stage of this run is
	# tagged (build cache of the next run), so only the stale ones are
	# dangling. Without this every run leaves ~2 GB behind with the classic
	# builder.
	docker image prune -f --filter "label=$stage_label" >/dev/null 2>&1 || true
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

phase "ensuring the builder, database and Redis images"
[[ $builder_image != projectsvc-golang:1.26 ]] || bash .ci/images/golang.sh
[[ $db_image != projectsvc-mariadb:10.11 ]] || bash .ci/images/mariadb.sh
[[ $redis_image != projectsvc-redis:7 ]] || bash .ci/images/redis.sh
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

# ---------------------------------------------------------------- helpers

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

# host_port CONTAINER [PORT]: the loopback host port published for PORT (8888).
host_port() {
	local addr
	addr=$(docker port "$1" "${2:-8888}/tcp" | head -n1)
	echo "${addr##*:}"
}

# sql QUERY: runs QUERY as root in the database container (tab-separated
# rows, no column names).
sql() {
	docker exec -e MYSQL_PWD="$db_root_password" "$db" \
		mariadb -uroot --batch --skip-column-names project -e "$1"
}

# wait_http URL SECONDS: waits until URL answers 200.
wait_http() {
	local deadline=$((SECONDS + $2))
	until curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# ---------------------------------------------------------------- database

# Started before the builds: its initialisation overlaps them.
phase "starting the database ($db_image)"
docker network create "$net" >/dev/null
# Files are copied in (docker cp) rather than bind-mounted: this also works
# when the Docker engine is on another machine. In name order on the first
# start: the schema, the data, the service's user and its grants (as in
# docker-compose.yml). No MYSQL_USER: the service has only its own user.
docker create --name "$db" --network "$net" \
	-e MYSQL_ROOT_PASSWORD="$db_root_password" -e MYSQL_DATABASE=project \
	--health-cmd 'mysqladmin ping -h 127.0.0.1 -uroot -p"$MYSQL_ROOT_PASSWORD" --silent' \
	--health-interval 1s --health-timeout 5s --health-retries 120 --health-start-period 120s \
	"$db_image" >/dev/null
# The checks below read the same copies (the grants), not the tree, which
# may change while the test runs.
mkdir "$work/sql"
cp sql/schema.sql "$work/sql/01-schema.sql"
cp sql/seed.sql "$work/sql/02-seed.sql"
cp sql/demo-user.sql "$work/sql/03-user.sql"
cp sql/grants.sql "$work/sql/04-grants.sql"
for f in "$work"/sql/*.sql; do
	docker cp "$f" "$db:/docker-entrypoint-initdb.d/${f##*/}"
done
docker start "$db" >/dev/null
phase_done

# ---------------------------------------------------------------- builds

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Arguments both Dockerfiles take; the service's adds VERSION and COMMIT.
common_build_args=(--build-arg "BUILDER_IMAGE=$builder_image")
[[ -z ${GOPROXY:-} ]] || common_build_args+=(--build-arg GOPROXY)
[[ ${E2E_NO_CACHE:-0} != 1 ]] || common_build_args+=(--no-cache)
if [[ -z ${EXTRA_CA_CERTS:-} && ${E2E_EXTRA_CA:-1} != 0 ]]; then
	EXTRA_CA_CERTS=$(extra_ca_certs)
fi
if [[ -n ${EXTRA_CA_CERTS:-} ]]; then
	export EXTRA_CA_CERTS
	log "the builds trust $(grep -c -- '-----BEGIN CERTIFICATE' <<<"$EXTRA_CA_CERTS") CA certificate(s) the host trusts and $builder_image does not (EXTRA_CA_CERTS)"
	common_build_args+=(--build-arg EXTRA_CA_CERTS) # by name: the value comes from the environment
fi

# build TAG CACHE_NAME LOG DOCKER_BUILD_ARGS...: docker build, its output in
# LOG; then the build stage (all cached by then) tagged CACHE_REPO:CACHE_NAME.
build() {
	local tag=$1 cache=$cache_repo:$2 buildlog=$3
	shift 3
	built_images+=("$tag")
	local a cached=()
	for a in "$@"; do [[ $a == --no-cache ]] || cached+=("$a"); done
	if ! docker build "$@" -t "$tag" . >"$buildlog" 2>&1 ||
		! docker build "${cached[@]}" --target build -t "$cache" . >>"$buildlog" 2>&1; then
		tail -n 40 "$buildlog"
		die "docker build of $tag failed (last lines above; the whole log: $buildlog, removed on exit)"
	fi
}

# The service first: the issuer's Dockerfile has the same module-download
# steps, so its build reuses that layer.
phase "building $image ($version, commit $commit) with $builder_image"
build "$image" service "$work/build.log" "${common_build_args[@]}" \
	--build-arg "VERSION=$version" --build-arg "COMMIT=$commit"
phase_done

phase "building $issuer_image (internal/tools/devissuer/Dockerfile)"
build "$issuer_image" devissuer "$work/issuer-build.log" "${common_build_args[@]}" \
	-f internal/tools/devissuer/Dockerfile
phase_done

phase "building the slow proxy (internal/tools/slowproxy)"
CGO_ENABLED=0 go build -trimpath -o "$work/slowproxy" ./internal/tools/slowproxy
phase_done

# ---------------------------------------------------------------- containers

phase "starting the issuer ($issuer_image) as $issuer_url"
# The volume is empty when the issuer mounts it first, so Docker fills it
# from the image's $ca_dir, owned by the image's user (65532), who then
# writes ca.pem into it; the service mounts it read-only.
docker volume create "$ca_volume" >/dev/null
docker run -d --name "$issuer" --network "$net" --network-alias "$issuer_alias" \
	-v "$ca_volume:$ca_dir" -p 127.0.0.1::9443 "$issuer_image" >/dev/null
wait_healthy "$issuer" 60 || {
	docker logs --tail 30 "$issuer" 2>&1
	die "the issuer did not become healthy"
}
# A platform trusts the issuer's CA and reaches it by its published port;
# the certificate names 127.0.0.1 too.
docker cp "$issuer:$ca_dir/ca.pem" "$work/issuer-ca.pem"
issuer_base=https://127.0.0.1:$(host_port "$issuer" 9443)
log "  issuer at $issuer_base (for the test), $issuer_url (on the network)"
phase_done

phase "waiting for the database"
wait_healthy "$db" 120 || {
	docker logs --tail 30 "$db" 2>&1
	die "the database did not become healthy"
}
phase_done

phase "starting Redis ($redis_image)"
# Counters only: nothing persisted (as docker-compose.yml runs it).
docker run -d --name "$redis" --network "$net" \
	--health-cmd '[ "$(redis-cli ping)" = PONG ]' --health-interval 1s --health-timeout 5s --health-retries 30 \
	"$redis_image" --save "" --appendonly no >/dev/null
wait_healthy "$redis" 30 || {
	docker logs --tail 30 "$redis" 2>&1
	die "Redis did not become healthy"
}
phase_done

# service_env: what every service container here runs with, but the DSN.
service_env=(-e AUTH_ISSUER="$issuer_url" -e SSL_CERT_DIR="$ca_dir" -v "$ca_volume:$ca_dir:ro" -e REDIS_ADDR="$redis:6379")

phase "starting the service ($image) as database user $db_user"
api_started=$SECONDS
docker run -d --name "$api" --network "$net" \
	-e MYSQL_DSN="$db_user:$db_password@tcp($db:3306)/project" "${service_env[@]}" \
	-p 127.0.0.1::8888 "$image" >/dev/null
base=http://127.0.0.1:$(host_port "$api")
wait_http "$base/healthz" 20 || die "the service does not answer $base/healthz"
log "  service at $base"
phase_done

# ---------------------------------------------------------------- tokens

curl -fsS --max-time 10 --cacert "$work/issuer-ca.pem" -o "$work/discovery.json" \
	"$issuer_base/.well-known/openid-configuration" || die "no discovery document from $issuer_base"
token_endpoint=$(jq -r '.token_endpoint // empty' "$work/discovery.json")
discovery_ok() {
	jq -e --arg iss "$issuer_url" '.issuer == $iss and .token_endpoint == $iss + "/oauth/token"' "$work/discovery.json" >/dev/null
}
check "the issuer's discovery document names issuer $issuer_url and token endpoint ${token_endpoint:-none}" discovery_ok

# token CLIENT SECRET SCOPE: an access token by the client credentials grant
# (HTTP Basic client authentication), from the token endpoint the discovery
# document names, reached through the published port.
token() {
	curl -fsS --max-time 10 --cacert "$work/issuer-ca.pem" -u "$1:$2" \
		--data-urlencode grant_type=client_credentials --data-urlencode "scope=$3" \
		"$issuer_base${token_endpoint#"$issuer_url"}" | jq -r '.access_token // empty'
}
demo_token=$(token demo demo-secret project:read:all) || true
aarhus_token=$(token site-aarhus aarhus-secret project:read) || true
[[ -n $demo_token && -n $aarhus_token ]] || die "the token endpoint $token_endpoint gave no access token"
# claims JWT: its payload (base64url, unpadded).
claims() {
	local p
	p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while ((${#p} % 4)); do p+='='; done
	base64 -d <<<"$p" 2>/dev/null || true
}
jwt_ok() { jq -e --arg iss "$issuer_url" "$2"' and .iss == $iss and (.aud | index("project-api"))' <<<"$(claims "$1")" >/dev/null 2>&1; }
check "demo's token (client credentials) is a JWT from $issuer_url for project-api with scope project:read:all" \
	jwt_ok "$demo_token" '.scope == "project:read:all"'
check "site-aarhus's token has scope project:read and project_ids [1]" \
	jwt_ok "$aarhus_token" '.scope == "project:read" and .project_ids == [1]'

# ---------------------------------------------------------------- API

# Every answer to a token the service accepts must leave an audit row;
# $work/audit.expected collects them: subject, client, method, project, status.
: >"$work/audit.expected"

# get AS PATH [CURL_ARGS...]: GETs the service as AS (demo, aarhus or none);
# the body goes to $work/body, the headers to $work/headers, the status to
# stdout. An answer to demo or aarhus is added to $work/audit.expected.
get() {
	local as=$1 path=$2 tok="" client="" got project=NULL
	shift 2
	case $as in
	demo) tok=$demo_token client=demo ;;
	aarhus) tok=$aarhus_token client=site-aarhus ;;
	none) ;;
	*) die "get: who is $as?" ;;
	esac
	# curl writes no file for an empty body (a 304): never read the last one's.
	rm -f "$work/body" "$work/headers"
	local args=(-sS -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 10)
	[[ -z $tok ]] || args+=(-H "Authorization: Bearer $tok")
	got=$(curl "${args[@]}" "$@" "$base$path") || got=error
	if [[ -n $client && $path =~ ^/project/([0-9]+)($|\?) ]]; then project=${BASH_REMATCH[1]}; fi
	[[ -z $client || $got == error || $path != /project/* ]] ||
		printf '%s\t%s\tGET\t%s\t%s\n' "$client" "$client" "$project" "$got" >>"$work/audit.expected"
	echo "$got"
}
# header NAME: the value of header NAME in the last answer ("" if none).
header() {
	awk -v name="$1" 'BEGIN { name = tolower(name) } { sub(/\r$/, "") }
		index(tolower($0), name ":") == 1 { v = substr($0, length(name) + 2); sub(/^[ \t]+/, "", v); print v; exit }' "$work/headers"
}
# expect AS PATH STATUS JQ_FILTER: the answer to AS has that status and the
# body satisfies the filter.
expect() {
	local as=$1 path=$2 want=$3 filter=$4 got
	got=$(get "$as" "$path")
	if [[ $got == "$want" ]] && jq -e "$filter" "$work/body" >/dev/null 2>&1; then
		pass "GET $path as $as -> $got, body: $filter"
	else
		fail "GET $path as $as -> $got (want $want), body must satisfy: $filter; body: $(head -c 300 "$work/body" 2>/dev/null)"
	fi
}

# Without a token, or with one the service cannot verify: 401, the RFC 6750
# challenge, and no audit row (no identity to record).
got=$(get none /project/1)
challenge=$(header WWW-Authenticate)
unauthenticated_ok() {
	[[ $got == 401 && $challenge == 'Bearer realm="project-api"' ]] &&
		jq -e '.code == "unauthenticated" and (.message | type) == "string"' "$work/body" >/dev/null 2>&1
}
check "GET /project/1 without a token -> $got unauthenticated, WWW-Authenticate: $challenge" unauthenticated_ok
check "a 401 counts against no quota: no RateLimit header" test -z "$(header RateLimit)"
got=$(get none /project/1 -H 'Authorization: Bearer not.a.token')
challenge=$(header WWW-Authenticate)
invalid_token_ok() {
	[[ $got == 401 && $challenge == 'Bearer realm="project-api", error="invalid_token"'* ]] &&
		jq -e '.code == "unauthenticated"' "$work/body" >/dev/null 2>&1
}
check "GET /project/1 with a bad token -> $got unauthenticated, WWW-Authenticate: $challenge" invalid_token_ok

expect demo /project/1 200 '.project.id == 1 and (.institutions | length) == 4 and (.reports | length) == 4'
etag=$(header ETag)
# The client's quota (README "Rate limits"): the default policy, 100
# requests per 2 s window (Burst 100 of Rate 3000 per minute), counted in
# Redis: the next answer has one less left, or a new window began.
policy=$(header RateLimit-Policy) limit1=$(header RateLimit)
get demo /project/1 >/dev/null
limit2=$(header RateLimit)
ratelimit_ok() {
	local r1 r2 t1 t2
	[[ $policy == '"default";q=100;w=2' && $limit1 =~ ^\"default\"\;r=([0-9]+)\;t=([0-9]+)$ ]] || return 1
	r1=${BASH_REMATCH[1]} t1=${BASH_REMATCH[2]}
	[[ $limit2 =~ ^\"default\"\;r=([0-9]+)\;t=([0-9]+)$ ]] || return 1
	r2=${BASH_REMATCH[1]} t2=${BASH_REMATCH[2]}
	((r1 < 100 && t1 <= 2 && (r2 == r1 - 1 || t2 > t1)))
}
check "the 200 carries the client's quota: RateLimit-Policy: ${policy:-none}; RateLimit: ${limit1:-none}, then ${limit2:-none}" ratelimit_ok
expect demo /project/999 404 '.code == "not_found" and (.message | type) == "string"'
expect demo /project/abc 400 '.code == "invalid_argument"'
expect none /readyz 200 '.status == "ready"'

# A per-project grant: site-aarhus may read project 1 only, and project 2
# must look exactly like a missing project.
expect aarhus /project/1 200 '.project.id == 1'
expect aarhus /project/2 404 '.code == "not_found"'

# Conditional GET: the 200 carries a strong ETag; presenting it answers 304.
check "the 200 carries an ETag (${etag:-none})" test -n "$etag"
got=$(get demo /project/1 -H "If-None-Match: ${etag:-\"none\"}")
not_modified_ok() { [[ $got == 304 && ! -s $work/body && $(header ETag) == "$etag" ]]; }
check "GET /project/1 with If-None-Match: ${etag:-none} -> $got, empty body, same ETag" not_modified_ok

# ---------------------------------------------------------------- audit trail

# The service writes the rows before it sends the answer, so every answer
# above already has its committed row; the status a client received is the
# outcome's, where a request has one (docs/access.md).
sql "SELECT a.subject, a.client_id, a.method, IFNULL(a.project_id, 'NULL'), COALESCE(o.status, a.status) FROM access_audit a LEFT JOIN access_audit_outcome o ON o.request_id = a.request_id ORDER BY a.id" \
	>"$work/audit.actual" 2>"$work/audit.err" || true
audit_ok() { [[ -s $work/audit.expected ]] && cmp -s "$work/audit.expected" "$work/audit.actual"; }
if audit_ok; then
	pass "access_audit has one row per answer to a verified caller, in order ($(wc -l <"$work/audit.actual") rows: $(awk -F'\t' '{ printf "%s%s/%s/%s", (NR > 1 ? ", " : ""), $2, $4, $5 }' "$work/audit.actual")), none for the two 401s"
else
	fail "access_audit rows (subject client method project status) differ from the answers: $(diff "$work/audit.expected" "$work/audit.actual" | tr '\n' ' ' | head -c 600) $(head -c 200 "$work/audit.err")"
fi

# ---------------------------------------------------------------- database user

api_ip=$(docker inspect -f "{{with index .NetworkSettings.Networks \"$net\"}}{{.IPAddress}}{{end}}" "$api")
db_users=$(sql "SELECT DISTINCT user FROM information_schema.processlist WHERE host LIKE '$api_ip:%'" 2>&1 | tr '\n' ' ' || true)
check "the service's connections to the database (from $api_ip) are all user $db_user (got: ${db_users:-none})" \
	test "$db_users" = "$db_user "

# sql/grants.sql's privileges, one "PRIVILEGE db.table" a line, against what
# the server has granted the user at every level.
grantee="'$db_user'@'%'"
awk -v user="$db_user" '
	toupper($1) == "GRANT" && index($0, "TO '\''" user "'\''@'\''%'\''") {
		line = $0; sub(/^GRANT[ \t]+/, "", line)
		privs = line; sub(/[ \t]+ON[ \t].*/, "", privs)
		obj = line; sub(/^.*[ \t]ON[ \t]+/, "", obj); sub(/[ \t]+TO[ \t].*/, "", obj); gsub(/`/, "", obj)
		n = split(privs, p, /[ \t]*,[ \t]*/)
		for (i = 1; i <= n; i++) print toupper(p[i]) " " obj
	}' "$work/sql/04-grants.sql" | sort >"$work/grants.expected"
sql "SELECT CONCAT(PRIVILEGE_TYPE, ' ', TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = \"$grantee\"
	UNION ALL SELECT CONCAT(PRIVILEGE_TYPE, ' ', TABLE_SCHEMA, '.', TABLE_NAME, '(', COLUMN_NAME, ')') FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = \"$grantee\"
	UNION ALL SELECT CONCAT(PRIVILEGE_TYPE, ' ', TABLE_SCHEMA, '.*') FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = \"$grantee\"
	UNION ALL SELECT CONCAT(PRIVILEGE_TYPE, ' *.*') FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = \"$grantee\" AND PRIVILEGE_TYPE <> 'USAGE'" 2>&1 |
	sort >"$work/grants.actual" || true
grants_ok() { [[ -s $work/grants.expected ]] && cmp -s "$work/grants.expected" "$work/grants.actual"; }
check "$db_user has exactly sql/grants.sql's privileges: $(paste -sd, "$work/grants.actual")" grants_ok

# ---------------------------------------------------------------- refusing to start

# refuses WHAT ENV...: the image, with the database DSN and ENV, must exit
# non-zero at start with a message naming Auth.Issuer.
refuses() {
	local what=$1 rc=0 out
	shift
	out=$(timeout 30 docker run --rm --name "$refusing" --network "$net" \
		-e MYSQL_DSN="$db_user:$db_password@tcp($db:3306)/project" "$@" "$image" 2>&1) || rc=$?
	docker rm -f "$refusing" >/dev/null 2>&1 || true # if the time ran out
	out=$(tail -n1 <<<"$out" | head -c 250)
	if ((rc != 0 && rc != 124)) && grep -q 'Auth.Issuer' <<<"$out"; then
		pass "$what the service refuses to start (exit $rc): $out"
	else
		fail "$what the service must refuse to start naming Auth.Issuer (exit $rc): $out"
	fi
}
refuses "without AUTH_ISSUER"
refuses "with an http:// issuer off loopback (${issuer_url/https/http})" -e "AUTH_ISSUER=${issuer_url/https/http}"

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
# The request is slow twice: its three reads run at once ($latency), then its
# audit row's INSERT ($latency again; it must commit within the audit write
# timeout, 2s). Its config is the image's with two changes: Timeout 10000
# (room for a slow CI machine on top of the delayed replies), and
# Shutdown.WaitTime 12s (go-zero force-quits after WaitTime,
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
	-e MYSQL_DSN="$db_user:$db_password@tcp($proxy:3306)/project" "${service_env[@]}" \
	-p 127.0.0.1::8888 "$image" -f /etc/e2e-project-api.yaml >/dev/null
docker cp "$work/e2e-project-api.yaml" "$slow_api:/etc/e2e-project-api.yaml"
docker start "$slow_api" >/dev/null
slow_base=http://127.0.0.1:$(host_port "$slow_api")
wait_http "$slow_base/healthz" 20 || die "the second service does not answer $slow_base/healthz"

# Warm the pool at full speed (a new MySQL connection costs several round
# trips, each of which would be delayed) and the service's key set (the
# first token makes it fetch the issuer's keys), then slow the database down.
auth=(-H "Authorization: Bearer $demo_token")
for _ in 1 2 3 4; do
	curl -fsS -o /dev/null --max-time 10 "${auth[@]}" "$slow_base/project/1" &
done
wait
docker kill --signal USR1 "$proxy" >/dev/null
for _ in $(seq 50); do
	docker logs "$proxy" 2>&1 | grep -q 'latency on' && break
	sleep 0.1
done

curl -sS -A e2e-inflight "${auth[@]}" -o "$work/inflight.body" -w '%{http_code} %{time_total}' --max-time 30 \
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
