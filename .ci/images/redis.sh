#!/usr/bin/env bash
# Builds a Redis server image (Redis 7 from Debian bookworm's redis-server)
# without any container registry: debootstrap + docker import.
#
#   bash .ci/images/redis.sh              # builds projectsvc-redis:7 once
#   REDIS_IMAGE=my/tag bash .ci/images/redis.sh
#   REBUILD=1 bash .ci/images/redis.sh    # rebuild although the tag exists
#
# The image follows the official redis:7 image's contract for what tests use
# (see redis-entrypoint.sh): `docker run IMAGE` runs redis-server in the
# foreground on port 6379 of every interface, protected mode off, logging to
# stdout; arguments starting with '-' (or a *.conf file) are redis-server's;
# other commands (redis-cli ...) run as given; the server runs as the redis
# user in /data. Unlike redis:7 it persists nothing by default (save "",
# appendonly no; --save/--appendonly arguments turn it on) and declares no
# VOLUME (no anonymous volume left behind per container). Use it where
# redis:7 cannot be pulled (.ci/images/redis-image.sh picks one of the two).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

TAG=${REDIS_IMAGE:-projectsvc-redis:7}

customize_redis() {
	local root=$1

	in_root "$root" getent passwd redis >/dev/null ||
		die "the redis-server package did not create the redis user"
	mkdir_in_root "$root" 0755 /data
	in_root "$root" chown redis:redis /data

	# The image's defaults, read when the caller names no config file of its
	# own (redis-entrypoint.sh); command-line options override them. Debian's
	# /etc/redis/redis.conf (a conffile, for the init script: daemonized,
	# loopback only, log file) stays as the package installed it.
	write_in_root "$root" /etc/redis/projectsvc-redis.conf 0644 <<-'EOF'
		# projectsvc-redis: container defaults (.ci/images/redis.sh). Options on
		# the command line (docker run IMAGE --opt value) override these.
		bind * -::*
		protected-mode no
		port 6379
		daemonize no
		supervised no
		logfile ""
		loglevel notice
		dir /data
		# A test server: nothing is persisted.
		save ""
		appendonly no
	EOF
	write_in_root "$root" /usr/local/bin/docker-entrypoint.sh 0755 <"$here/redis-entrypoint.sh"
}

build_image "$TAG" "redis-server" customize_redis \
	'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
	'CMD ["redis-server"]' \
	'EXPOSE 6379' \
	'USER redis' \
	'WORKDIR /data' \
	'LABEL org.opencontainers.image.description="Redis from Debian packages with the official redis image contract (projectsvc CI)"'

# smoke_test: a server started as `docker run IMAGE` answers PING from another
# container (so over the network, where protected mode would refuse it), and
# one started with bare flags, as testcontainers does, runs them. Leaves the
# IDs of the containers it started in smoke_containers; prints why it failed.
smoke_containers=()
smoke_test() {
	local id ip pong port i
	for port in 6379 6380; do
		if [[ $port == 6379 ]]; then
			id=$(docker run -d "$TAG" </dev/null) || return 1
		else
			id=$(docker run -d "$TAG" --port "$port" --loglevel verbose </dev/null) || return 1
		fi
		smoke_containers+=("$id")
		for ((i = 0; ; i++)); do
			docker logs "$id" 2>&1 | grep -q 'Ready to accept connections' && break
			if ((i >= 100)) || [[ $(docker inspect --format '{{.State.Running}}' "$id") != true ]]; then
				docker logs "$id" 2>&1 | tail -n 20 >&2
				log "redis-server (port $port) did not become ready"
				return 1
			fi
			sleep 0.2
		done
		ip=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id")
		if [[ -n $ip ]]; then
			# From another container: a remote client, refused in protected mode.
			pong=$(docker run --rm "$TAG" redis-cli -h "$ip" -p "$port" ping </dev/null 2>&1) || true
		else
			pong=$(docker exec "$id" redis-cli -p "$port" ping </dev/null 2>&1) || true
		fi
		if [[ $pong != PONG ]]; then
			log "redis-cli ping (port $port, ${ip:-docker exec}) answered: $pong"
			return 1
		fi
		log "smoke test: redis-server on port $port answers PING from ${ip:+another container (}${ip:-docker exec}${ip:+)}"
	done
}

if [[ $IMAGE_BUILT == 1 ]]; then
	if ! version=$(docker run --rm "$TAG" --version </dev/null) || ! smoke_test; then
		docker rm -f "${smoke_containers[@]}" >/dev/null 2>&1 || true
		docker image rm "$TAG" >/dev/null 2>&1 || true
		die "smoke test failed: $TAG does not serve Redis (image removed)"
	fi
	# docker stop: redis-server is PID 1 and shuts down on SIGTERM.
	docker stop "${smoke_containers[@]}" >/dev/null
	docker rm "${smoke_containers[@]}" >/dev/null
	log "smoke test: $version"
fi
