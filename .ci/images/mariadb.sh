#!/usr/bin/env bash
# Builds a MySQL-compatible server image (MariaDB 10.11 from Debian bookworm)
# without any container registry: debootstrap + docker import.
#
#   bash .ci/images/mariadb.sh            # builds projectsvc-mariadb:10.11 once
#   MARIADB_IMAGE=my/tag bash .ci/images/mariadb.sh
#   REBUILD=1 bash .ci/images/mariadb.sh  # rebuild although the tag exists
#
# The image follows the official mysql/mariadb images' contract (see
# mariadb-entrypoint.sh): MYSQL_ROOT_PASSWORD & co, /docker-entrypoint-initdb.d,
# port 3306, data in /var/lib/mysql. Use it where mysql:8.4 cannot be pulled:
#   DBTEST_IMAGE=projectsvc-mariadb:10.11 go test ./...
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

TAG=${MARIADB_IMAGE:-projectsvc-mariadb:10.11}

customize_mariadb() {
	local root=$1

	# The package's postinst initialised a data directory: the entrypoint
	# must find it empty to run its first-start initialisation.
	as_root find "$root/var/lib/mysql" -mindepth 1 -delete
	as_root chroot "$root" chown mysql:mysql /var/lib/mysql
	as_root install -d -o 0 -g 0 -m 0755 "$root/docker-entrypoint-initdb.d"

	# Server settings. mariadb.conf.d is read before conf.d, so a file
	# mounted into /etc/mysql/conf.d (e.g. testcontainers' WithConfigFile)
	# overrides these, as with the official images.
	as_root tee "$root/etc/mysql/my.cnf" >/dev/null <<-'EOF'
		# projectsvc-mariadb: distribution defaults, then image defaults
		# (mariadb.conf.d/99-docker.cnf), then local overrides (conf.d).
		[client-server]
		socket = /run/mysqld/mysqld.sock
		port = 3306

		!includedir /etc/mysql/mariadb.conf.d/
		!includedir /etc/mysql/conf.d/
	EOF
	as_root tee "$root/etc/mysql/mariadb.conf.d/99-docker.cnf" >/dev/null <<-'EOF'
		# Container defaults of the projectsvc-mariadb image.
		[mariadbd]
		datadir              = /var/lib/mysql
		socket               = /run/mysqld/mysqld.sock
		pid-file             = /run/mysqld/mysqld.pid
		port                 = 3306
		bind-address         = 0.0.0.0
		skip-name-resolve
		character-set-server = utf8mb4
		collation-server     = utf8mb4_unicode_ci
		default-time-zone    = +00:00
		max_connections      = 500
		# Debian's 50-server.cnf sets expire_logs_days, which warns without a binlog.
		expire_logs_days     = 0
		skip-log-bin
		# Containers are disposable: no host cache, no buffer pool dump.
		host-cache-size      = 0
		innodb_buffer_pool_dump_at_shutdown = 0
		innodb_buffer_pool_load_at_startup  = 0
	EOF
	as_root install -m 0755 "$here/mariadb-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
}

build_image "$TAG" "mariadb-server,mariadb-client,tzdata" customize_mariadb \
	'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
	'CMD ["mariadbd"]' \
	'EXPOSE 3306' \
	'ENV LANG=C.UTF-8' \
	'ENV TZ=UTC' \
	'LABEL org.opencontainers.image.description="MariaDB from Debian packages with the official mysql image contract (projectsvc CI)"'

if [[ $IMAGE_BUILT == 1 ]]; then
	log "smoke test: $(docker run --rm --entrypoint mariadbd "$TAG" --version)"
fi
