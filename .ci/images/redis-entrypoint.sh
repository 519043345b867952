#!/bin/sh
# Entrypoint of the projectsvc-redis image (built by .ci/images/redis.sh).
#
# Follows the official redis image's docker-entrypoint.sh, so the same test
# code runs against redis:7 and this image:
#   docker run IMAGE                         redis-server, image defaults
#   docker run IMAGE --loglevel verbose      arguments starting with '-' or
#   docker run IMAGE /path/redis.conf ...    ending in .conf are redis-server's
#   docker run IMAGE redis-server --port 1   the same, spelled out
#   docker run IMAGE redis-cli -h HOST ping  any other command runs as given
# testcontainers-go's redis module relies on all three redis-server forms
# (WithCmdArgs replaces CMD with bare flags, WithConfigFile puts a .conf first).
#
# Without a config file of the caller's, redis-server reads the image's
# /etc/redis/projectsvc-redis.conf (listen on every interface, port 6379,
# protected mode off, log to stdout, no persistence), and command-line options
# override it. With the caller's config file, only protected mode is set (off)
# when that file does not set it: the official image compiles it off, while
# Debian's redis-server keeps upstream's default (on, which refuses clients
# from other containers when no password is set).
set -eu

CONF=/etc/redis/projectsvc-redis.conf

[ "$#" -gt 0 ] || set -- redis-server
case $1 in
-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ]; then
	shift
	case ${1-} in
	-v | --version | -h | --help | --test-memory | --check-system)
		# informational: redis-server only recognises them as its first argument
		;;
	'' | -*)
		set -- "$CONF" "$@"
		;;
	*)
		if [ -r "$1" ] && ! grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$1"; then
			conf=$1
			shift
			set -- "$conf" --protected-mode no "$@"
		fi
		;;
	esac
	set -- redis-server "$@"

	# Started as root (docker run --user 0): hand the data directory to redis
	# and drop to it, as the official image does with gosu.
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
		find /data/ -xdev \! -user redis -exec chown redis '{}' +
		set -- setpriv --reuid=redis --regid=redis --init-groups "$@"
	fi
	# Files redis creates (dumps, AOF) are private unless the umask says otherwise.
	if [ "$(umask)" = 0022 ]; then
		umask 0077
	fi
fi

exec "$@"
