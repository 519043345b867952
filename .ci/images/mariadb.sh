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
	in_root "$root" find /var/lib/mysql -mindepth 1 -delete
	in_root "$root" chown mysql:mysql /var/lib/mysql
	mkdir_in_root "$root" 0755 /docker-entrypoint-initdb.d

	# Server settings. mariadb.conf.d is read before conf.d, so a file
	# mounted into /etc/mysql/conf.d (e.g. testcontainers' WithConfigFile)
	# overrides these, as with the official images.
	#
	# /etc/mysql/my.cnf is Debian's alternatives link (my.cnf ->
	# /etc/alternatives/my.cnf -> mariadb.cnf), absolute, so it must never be
	# written through from the host (issue 14). Rather than replacing the link
	# with a plain file (which update-alternatives would then warn about on
	# every reconfiguration, its database disagreeing with the file), the
	# image's file is registered as the my.cnf alternative with priority
	# 1000, above all Debian registers (mysql-common 100/300, mariadb-common
	# 200 and its own override at 500): dpkg's view stays consistent and a
	# derived image that upgrades or reconfigures these packages keeps it.
	write_in_root "$root" /etc/mysql/projectsvc-mariadb.cnf 0644 <<-'EOF'
		# projectsvc-mariadb: distribution defaults, then image defaults
		# (mariadb.conf.d/99-docker.cnf), then local overrides (conf.d).
		[client-server]
		socket = /run/mysqld/mysqld.sock
		port = 3306

		!includedir /etc/mysql/mariadb.conf.d/
		!includedir /etc/mysql/conf.d/
	EOF
	in_root "$root" update-alternatives --quiet --install /etc/mysql/my.cnf my.cnf /etc/mysql/projectsvc-mariadb.cnf 1000
	local mycnf
	mycnf=$(in_root "$root" readlink -f /etc/mysql/my.cnf)
	[[ $mycnf == /etc/mysql/projectsvc-mariadb.cnf ]] ||
		die "/etc/mysql/my.cnf resolves to $mycnf in the image, not /etc/mysql/projectsvc-mariadb.cnf"
	write_in_root "$root" /etc/mysql/mariadb.conf.d/99-docker.cnf 0644 <<-'EOF'
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
	write_in_root "$root" /usr/local/bin/docker-entrypoint.sh 0755 <"$here/mariadb-entrypoint.sh"
}

build_image "$TAG" "mariadb-server,mariadb-client,tzdata" customize_mariadb \
	'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
	'CMD ["mariadbd"]' \
	'EXPOSE 3306' \
	'ENV LANG=C.UTF-8' \
	'ENV TZ=UTC' \
	'LABEL org.opencontainers.image.description="MariaDB from Debian packages with the official mysql image contract (projectsvc CI)"'

if [[ $IMAGE_BUILT == 1 ]]; then
	if ! version=$(docker run --rm --entrypoint mariadbd "$TAG" --version </dev/null); then
		docker image rm "$TAG" >/dev/null 2>&1 || true
		die "smoke test failed: mariadbd --version does not run in $TAG (image removed)"
	fi
	log "smoke test: $version"
fi
