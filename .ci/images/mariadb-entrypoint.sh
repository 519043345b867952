#!/bin/bash
# Entrypoint of the projectsvc-mariadb image (built by .ci/images/mariadb.sh).
#
# Honours the contract of the official mysql / mariadb images, so the same
# test code runs against mysql:8.4 and this image:
#   MYSQL_ROOT_PASSWORD | MYSQL_ALLOW_EMPTY_PASSWORD | MYSQL_RANDOM_ROOT_PASSWORD
#   MYSQL_ROOT_HOST (default %), MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD,
#   MYSQL_INITDB_SKIP_TZINFO; every MYSQL_X may also be given as MARIADB_X,
#   and as X_FILE (read from a file, e.g. a Docker secret).
#   /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz, *.sql.xz run once, in
#   name order, on first initialisation.
# An existing data directory (/var/lib/mysql/mysql) means "already
# initialised": the server starts straight away (docker restart, stop+start).
# Initialisation uses a temporary server without networking (socket only), so
# no client ever sees a half-initialised server on TCP 3306. The server runs
# as the mysql user, as the child of this script (PID 1), which turns SIGTERM
# / SIGINT (docker stop) into a clean, fast shutdown (see run_server).
trap 'exit 143' TERM INT # bash as PID 1 would otherwise ignore them
set -eo pipefail
shopt -s nullglob

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
# Present while the data directory is being initialised: a container stopped
# half-way through its first start is initialised again on its next start.
INIT_MARKER=$DATADIR/.init-incomplete

log() { printf '%s 0 [Note] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*"; }
warn() { printf '%s 0 [Warning] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }
error() {
	printf '%s 0 [ERROR] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*" >&2
	exit 1
}

# env_var NAME: sets MYSQL_NAME from MYSQL_NAME, MARIADB_NAME, MYSQL_NAME_FILE
# or MARIADB_NAME_FILE (first one set wins) and exports it.
env_var() {
	local name=$1 var src val=
	for var in "MYSQL_$name" "MARIADB_$name"; do
		if [[ -n ${!var+x} ]]; then
			val=${!var}
			src=$var
			break
		fi
		src="${var}_FILE"
		if [[ -n ${!src+x} ]]; then
			[[ -r ${!src} ]] || error "$src=${!src}: file not readable"
			val=$(<"${!src}")
			break
		fi
		src=
	done
	export "MYSQL_$name=$val"
	[[ -n $src ]] || unset "MYSQL_$name"
	unset "MARIADB_$name" "MYSQL_${name}_FILE" "MARIADB_${name}_FILE"
}

# sql_string STR: STR as the body of a single-quoted SQL string literal.
sql_string() {
	local s=${1//\\/\\\\}
	s=${s//$'\n'/\\n}
	printf '%s' "${s//\'/\\\'}"
}

# sql_ident STR: STR as the body of a backquoted SQL identifier.
sql_ident() {
	printf '%s' "${1//\`/\`\`}"
}

# client_cnf prints a [client] option file with the root password, if any.
client_cnf() {
	printf '[client]\nuser=root\nsocket=%s\nprotocol=socket\n' "$SOCKET"
	if [[ -n ${MYSQL_ROOT_PASSWORD:-} ]]; then
		local p=${MYSQL_ROOT_PASSWORD//\\/\\\\}
		printf 'password="%s"\n' "${p//\"/\\\"}"
	fi
}

# process_sql [--no-password] [--database=DB] ...: runs SQL from stdin as root
# over the socket of the temporary server.
process_sql() {
	local cnf
	if [[ ${1:-} == --no-password ]]; then
		shift
		cnf=$(MYSQL_ROOT_PASSWORD='' client_cnf)
	else
		cnf=$(client_cnf)
	fi
	mariadb --defaults-extra-file=<(printf '%s\n' "$cnf") --batch --skip-column-names "$@"
}

temp_pid=
# on_signal: docker stop during initialisation exits at once instead of being
# ignored by bash running as PID 1. The temporary server is killed outright:
# mariadbd can hang on a SIGTERM that arrives late in its startup, and its data
# is thrown away anyway, since the data directory keeps its "initialisation
# incomplete" marker and the next start initialises it again.
on_signal() {
	trap '' TERM INT
	warn "signal received during initialisation, stopping"
	if [[ -n $temp_pid ]]; then
		kill -KILL "$temp_pid" 2>/dev/null || true
		wait "$temp_pid" 2>/dev/null || true
	fi
	exit 143
}

start_temp_server() {
	log "Starting temporary server"
	"$@" --skip-networking --socket="$SOCKET" --default-time-zone=SYSTEM \
		--skip-log-bin --expire-logs-days=0 --skip-slave-start \
		--loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 \
		--wsrep-on=OFF &
	temp_pid=$!
	local _
	for _ in $(seq 1 600); do
		if ! kill -0 "$temp_pid" 2>/dev/null; then
			wait "$temp_pid" || true
			error "temporary server exited during startup (see its log above)"
		fi
		if process_sql --no-password <<<'SELECT 1' >/dev/null 2>&1; then
			log "Temporary server started."
			return 0
		fi
		sleep 0.1
	done
	error "temporary server did not start within 60s"
}

stop_temp_server() {
	log "Stopping temporary server"
	kill -TERM "$temp_pid"
	wait "$temp_pid" || error "temporary server did not shut down cleanly"
	temp_pid=
	log "Temporary server stopped"
}

init_database() {
	if [[ -n ${MYSQL_ROOT_PASSWORD:-} ]]; then
		:
	elif [[ -n ${MYSQL_RANDOM_ROOT_PASSWORD:-} && ${MYSQL_RANDOM_ROOT_PASSWORD} != no ]]; then
		MYSQL_ROOT_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
		export MYSQL_ROOT_PASSWORD
		log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
	elif [[ -z ${MYSQL_ALLOW_EMPTY_PASSWORD:-} || ${MYSQL_ALLOW_EMPTY_PASSWORD} == no ]]; then
		error "Database is uninitialized and password option is not specified
	You need to specify one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD and MYSQL_RANDOM_ROOT_PASSWORD (or their MARIADB_ aliases)"
	fi
	if [[ ${MYSQL_USER:-} == root ]]; then
		error "MYSQL_USER=root: MYSQL_USER and MYSQL_PASSWORD are for a regular user, not root (use MYSQL_ROOT_PASSWORD)"
	fi
	if [[ -n ${MYSQL_USER:-} && -z ${MYSQL_PASSWORD:-} ]]; then
		error "MYSQL_USER is set but MYSQL_PASSWORD is empty"
	fi
	[[ -z ${MYSQL_PASSWORD:-} || -n ${MYSQL_USER:-} ]] || warn "MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored"

	trap on_signal TERM INT
	log "Initializing database files"
	touch "$INIT_MARKER"
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		--skip-test-db --skip-log-bin --default-time-zone=SYSTEM --expire-logs-days=0 \
		--loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 \
		>/dev/null || error "mariadb-install-db failed"
	log "Database files initialized"

	start_temp_server "$@"

	if [[ -z ${MYSQL_INITDB_SKIP_TZINFO:-} ]]; then
		# Named time zones (CONVERT_TZ(..., 'Europe/Paris')) as in the official images.
		mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | process_sql --no-password --database=mysql
	fi

	local root_host=${MYSQL_ROOT_HOST:-%}
	local pw
	pw=$(sql_string "${MYSQL_ROOT_PASSWORD:-}")
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
		# Keep root@localhost and the system accounts only (as the official
		# images do); root@'%' is added below.
		echo "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', ''@'localhost';"
		printf '%s\n' "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'', ', \\'\\'@\\'', @@hostname, '\\'');"
		echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD('$pw');"
		if [[ $root_host != localhost ]]; then
			local rh
			rh=$(sql_string "$root_host")
			echo "CREATE USER 'root'@'$rh' IDENTIFIED BY '$pw';"
			echo "GRANT ALL ON *.* TO 'root'@'$rh' WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'%' TO 'root'@'$rh' WITH GRANT OPTION;"
		fi
		echo "DROP DATABASE IF EXISTS test;"
		if [[ -n ${MYSQL_DATABASE:-} ]]; then
			echo "CREATE DATABASE IF NOT EXISTS \`$(sql_ident "$MYSQL_DATABASE")\`;"
		fi
		if [[ -n ${MYSQL_USER:-} ]]; then
			local u up
			u=$(sql_string "$MYSQL_USER")
			up=$(sql_string "$MYSQL_PASSWORD")
			echo "CREATE USER '$u'@'%' IDENTIFIED BY '$up';"
			if [[ -n ${MYSQL_DATABASE:-} ]]; then
				echo "GRANT ALL ON \`$(sql_ident "${MYSQL_DATABASE//_/\\_}")\`.* TO '$u'@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | process_sql --no-password
	[[ -n ${MYSQL_DATABASE:-} ]] && log "Database $MYSQL_DATABASE created"
	[[ -n ${MYSQL_USER:-} ]] && log "User $MYSQL_USER created"

	local f db_args=()
	[[ -n ${MYSQL_DATABASE:-} ]] && db_args=(--database="$MYSQL_DATABASE")
	echo
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
		*.sh)
			if [[ -x $f ]]; then
				log "$0: running $f"
				"$f"
			else
				log "$0: sourcing $f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql)
			log "$0: running $f"
			process_sql "${db_args[@]}" <"$f"
			;;
		*.sql.gz)
			log "$0: running $f"
			gzip -dc "$f" | process_sql "${db_args[@]}"
			;;
		*.sql.xz)
			log "$0: running $f"
			xz -dc "$f" | process_sql "${db_args[@]}"
			;;
		*) log "$0: ignoring $f" ;;
		esac
	done

	stop_temp_server
	rm -f "$INIT_MARKER"
	trap 'exit 143' TERM INT
	echo
	log "MariaDB init process done. Ready for start up."
	echo
}

main() {
	# `docker run IMAGE --some-option` passes options to the server.
	if [[ ${1:-} == -* ]]; then
		set -- mariadbd "$@"
	fi
	case ${1:-} in
	mariadbd | mysqld | */mariadbd | */mysqld) ;;
	*) exec "$@" ;; # any other command (bash, mariadb ...) runs as is
	esac

	# --help / --version / --verbose --help: no init needed.
	local a
	for a in "$@"; do
		case $a in -'?' | --help | -V | --version) exec "$@" ;; esac
	done

	if [[ $(id -u) -eq 0 ]]; then
		mkdir -p "$DATADIR" /run/mysqld
		chown mysql:mysql "$DATADIR" /run/mysqld
		chmod 0755 /run/mysqld
		# Re-run this script as the mysql user (init scripts included).
		exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
	fi

	local name
	for name in ROOT_PASSWORD ALLOW_EMPTY_PASSWORD RANDOM_ROOT_PASSWORD ROOT_HOST \
		DATABASE USER PASSWORD INITDB_SKIP_TZINFO; do
		env_var "$name"
	done

	if [[ -e $INIT_MARKER ]]; then
		warn "previous initialisation of $DATADIR did not finish: starting it again"
		find "$DATADIR" -mindepth 1 -delete
	fi
	if [[ -d $DATADIR/mysql ]]; then
		log "Data directory $DATADIR already initialised: skipping initialisation"
	else
		init_database "$@"
	fi
	unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD

	run_server "$@"
}

# run_server CMD...: runs the server as a child and waits for it, exiting with
# its status. SIGTERM/SIGINT are passed on as SIGTERM, but only once the
# server answers on its socket (or has exited): mariadbd 10.11 can hang for
# good on a SIGTERM that arrives late in its startup, which would turn a
# `docker stop` right after `docker start` into a 10 s wait and a SIGKILL.
# SIGHUP (flush logs) is passed on as is.
run_server() {
	local pid rc stop=
	trap 'stop=1' TERM INT
	log "Starting server: $*"
	"$@" &
	pid=$!
	trap 'kill -HUP "$pid" 2>/dev/null || true' HUP
	while :; do
		rc=0
		wait "$pid" || rc=$? # returns early when a trapped signal arrives
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" && rc=0 || rc=$? # the server's own exit status
			exit "$rc"
		fi
		[[ -n $stop ]] || continue
		stop=
		log "Stop requested: shutting down the server"
		local _
		for _ in $(seq 1 1200); do
			kill -0 "$pid" 2>/dev/null || break
			mariadb-admin --connect-timeout=1 ping >/dev/null 2>&1 && break
			sleep 0.1
		done
		kill -TERM "$pid" 2>/dev/null || true
	done
}

main "$@"
