#!/usr/bin/env bash
# One-shot set-up of the read-replica demo stack (docker-compose.replicas.yml):
# GTID replication from the primary to the replicas, then the demo data,
# loaded on the primary only, so that it reaches the replicas through
# replication.
#
# It runs in a container of the database image (mysql:8.4 or
# projectsvc-mariadb:10.11) with `bash` as its entrypoint, this directory
# mounted read-only at /replicaset and sql/ at /sql, and talks to the
# servers over TCP as root. The flavour (MySQL 8.4 or MariaDB 10.11) is
# told from the primary's SELECT VERSION(). The statements and their order
# are those of internal/testing/replicatest (replication.go, cluster.go).
#
# Why not the images' /docker-entrypoint-initdb.d: the official mysql
# image's entrypoint writes the init scripts to the binary log (log-bin is
# on), projectsvc-mariadb's does not (--skip-log-bin), and the replication
# set-up below resets the binary logs and GTID history anyway. So all
# servers start empty and the data goes in after replication is set up.
#
# Idempotent: `docker-compose up` runs it again on every start. The marker
# of a completed load is the last grant of sql/grants.sql (files replicate
# in order). When the primary has it, the script only checks that every
# replica replicates from the primary and has it too, and waits until they
# have caught up; it fails (asking for `down -v`) if one does not, since a
# primary with data may hold audit rows and is never wiped. When the
# primary lacks it (first start, or an earlier run that stopped half-way),
# it sets everything up from scratch: on every server it drops the demo
# database and users (unlogged), resets binary logs, GTID history and
# replication. DEMO STACK ONLY: never point it at servers whose data you
# want to keep.
#
# Environment (defaults match docker-compose.replicas.yml):
#   MYSQL_ROOT_PASSWORD     root's password on every server (required)
#   REPLICASET_PRIMARY      the primary's host name           (db)
#   REPLICASET_REPLICAS     the replicas' host names, spaces  (db-replica-1 db-replica-2)
#   REPLICASET_DATABASE     the database the SQL files go to  (project)
#   REPLICASET_SQL_FILES    loaded in order on the primary    (/sql/schema.sql /sql/seed.sql /sql/demo-user.sql /sql/grants.sql)
#   REPLICASET_SERVICE_USER the demo user of sql/demo-user.sql (projectsvc)
#   REPLICASET_WAIT         seconds to wait for the servers, and for the
#                           replicas to catch up               (300)
#
# Needs only bash, coreutils, grep and the image's client (mariadb or
# mysql): mysql:8.4 (Oracle Linux slim) has little else.
set -euo pipefail
shopt -s extglob

primary=${REPLICASET_PRIMARY:-db}
read -r -a replicas <<<"${REPLICASET_REPLICAS:-db-replica-1 db-replica-2}"
database=${REPLICASET_DATABASE:-project}
read -r -a sql_files <<<"${REPLICASET_SQL_FILES:-/sql/schema.sql /sql/seed.sql /sql/demo-user.sql /sql/grants.sql}"
service_user=${REPLICASET_SERVICE_USER:-projectsvc}
wait_s=${REPLICASET_WAIT:-300}
repl_user=replicaset_repl
port=3306

log() { printf '%s replicaset: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*"; }
die() {
	log "ERROR: $*" >&2
	exit 1
}

[[ -n ${MYSQL_ROOT_PASSWORD:-} ]] || die "MYSQL_ROOT_PASSWORD is not set"
((${#replicas[@]} > 0)) || die "REPLICASET_REPLICAS is empty"
for f in "${sql_files[@]}"; do
	[[ -r $f ]] || die "$f: not readable (is sql/ mounted at /sql?)"
done

# The client: mariadb where it exists (MariaDB images, which may lack the
# mysql name), else mysql (mysql:8.4).
if command -v mariadb >/dev/null; then
	client=mariadb
elif command -v mysql >/dev/null; then
	client=mysql
else
	die "neither mariadb nor mysql (the client) is in this image"
fi
# The Oracle client (mysql:8.4) asks for the server's RSA key should TLS be
# off (caching_sha2_password); the MariaDB client has no such option.
client_opts=()
if "$client" --help 2>/dev/null | grep -q -- --get-server-public-key; then
	client_opts+=(--get-server-public-key)
fi
# The password in an option file, never on a command line (ps) or in
# MYSQL_PWD (deprecated in MySQL 8).
cnf=$(mktemp)
trap 'rm -f "$cnf"' EXIT
p=${MYSQL_ROOT_PASSWORD//\\/\\\\}
printf '[client]\nuser=root\npassword="%s"\n' "${p//\"/\\\"}" >"$cnf"
unset p

# sql HOST [CLIENT ARGS...]: runs SQL from stdin (or -e) on HOST as root over
# TCP; results tab-separated, without column names.
sql() {
	local host=$1
	shift
	"$client" --defaults-extra-file="$cnf" --protocol=TCP -h "$host" -P "$port" \
		--connect-timeout=5 --batch --skip-column-names "${client_opts[@]}" "$@"
}
# q HOST STATEMENT...: runs statements in order in one session.
q() {
	local host=$1 s all=
	shift
	for s in "$@"; do all+="$s;"$'\n'; done
	sql "$host" -e "$all"
}

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
started=$(now_ms)
mark=$started
timings=()
phase() {
	local t
	t=$(now_ms)
	timings+=("$1 $(((t - mark) / 1000)).$(printf '%03d' $(((t - mark) % 1000)))s")
	mark=$t
}

# ------------------------------------------------------------ the servers

log "waiting for $primary and ${replicas[*]} (up to ${wait_s}s)"
deadline=$((SECONDS + wait_s))
for host in "$primary" "${replicas[@]}"; do
	until err=$(q "$host" "SELECT 1" 2>&1 >/dev/null); do
		((SECONDS < deadline)) || die "$host does not answer SQL on port $port: $err"
		sleep 1
	done
done

version=$(q "$primary" "SELECT VERSION()")
if [[ ${version,,} == *mariadb* ]]; then flavour=mariadb; else flavour=mysql; fi
for host in "${replicas[@]}"; do
	v=$(q "$host" "SELECT VERSION()")
	[[ ${v,,} == *mariadb* ]] && f=mariadb || f=mysql
	[[ $f == "$flavour" ]] || die "$host runs $v, the primary $version: the servers must be of one flavour"
done
log "flavour $flavour ($version)"
phase servers

# The two flavours' statements (as internal/testing/replicatest/replication.go).
if [[ $flavour == mariadb ]]; then
	reset_binlogs="RESET MASTER"
	# Before a replica is reset. read_only is lifted for the set-up (the
	# servers start with --read-only) and set again after START SLAVE.
	replica_stop=("STOP SLAVE" "RESET SLAVE ALL" "SET GLOBAL read_only = OFF")
	replica_reset=("RESET MASTER" "SET GLOBAL gtid_slave_pos = ''")
	change_source="CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1"
	start_replication="START SLAVE"
	replica_read_only=("SET GLOBAL read_only = ON")
	replica_status="SHOW SLAVE STATUS"
	col_io=Slave_IO_Running col_sql=Slave_SQL_Running col_host=Master_Host
	primary_pos="SELECT @@GLOBAL.gtid_binlog_pos"
	wait_pos="SELECT MASTER_GTID_WAIT('%s', 1)" # 0: reached, -1: timed out
else
	# MySQL 8.4 (from its manual; RESET MASTER, CHANGE MASTER, START/SHOW
	# SLAVE are gone in 8.4). Its entrypoint's initialisation writes GTIDs
	# of its own on every server (time zone tables, the database), hence
	# the reset on each. The replication account authenticates with
	# caching_sha2_password over a plain connection: GET_SOURCE_PUBLIC_KEY.
	# super_read_only cannot be a server flag (the entrypoint initialises
	# the server with the flags), so it is persisted once replication runs.
	reset_binlogs="RESET BINARY LOGS AND GTIDS"
	replica_stop=("STOP REPLICA" "RESET REPLICA ALL" "SET GLOBAL super_read_only = OFF" "SET GLOBAL read_only = OFF")
	replica_reset=("RESET BINARY LOGS AND GTIDS")
	change_source="CHANGE REPLICATION SOURCE TO SOURCE_HOST='%s', SOURCE_PORT=%d, SOURCE_USER='%s', SOURCE_PASSWORD='%s', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1, SOURCE_RETRY_COUNT=86400, SOURCE_HEARTBEAT_PERIOD=1"
	start_replication="START REPLICA"
	replica_read_only=("SET PERSIST super_read_only = ON")
	replica_status="SHOW REPLICA STATUS"
	col_io=Replica_IO_Running col_sql=Replica_SQL_Running col_host=Source_Host
	# gtid_executed may be printed over several lines.
	primary_pos="SELECT REPLACE(@@GLOBAL.gtid_executed, '\n', '')"
	wait_pos="SELECT WAIT_FOR_EXECUTED_GTID_SET('%s', 1)" # 0: reached, 1: timed out
fi

# status HOST: fills the associative array st with HOST's replica status
# (empty when it does not replicate).
declare -A st
status() {
	local line k
	st=()
	while IFS= read -r line; do
		[[ $line == *:* && $line != \*\** ]] || continue
		k=${line%%:*}
		k=${k##+([[:space:]])}
		st[$k]=${line#*: }
	done < <(sql "$1" --column-names --vertical -e "$replica_status")
}
describe() {
	printf 'IO thread %s (%s), SQL thread %s (%s)' \
		"${st[$col_io]:-?}" "${st[Last_IO_Error]:-no error}" "${st[$col_sql]:-?}" "${st[Last_SQL_Error]:-no error}"
}

# has_marker HOST: HOST has the last grant of sql/grants.sql, i.e. the whole
# load (it replicates in order).
has_marker() {
	local n
	n=$(q "$1" "SELECT COUNT(*) FROM mysql.tables_priv WHERE User = '$service_user' AND Db = '$database' AND Table_name = 'replication_heartbeat'") || return 1
	[[ $n != 0 ]]
}

# catch_up: waits until every replica has applied all the primary has
# committed (its GTID position now); fails at once when an applier has
# stopped on an error, or after REPLICASET_WAIT seconds.
catch_up() {
	local pos host r deadline=$((SECONDS + wait_s)) i
	pos=$(q "$primary" "$primary_pos")
	for host in "${replicas[@]}"; do
		for ((i = 0; ; i++)); do
			# shellcheck disable=SC2059
			r=$(q "$host" "$(printf "$wait_pos" "$pos")" 2>&1) || {
				r="error: $r"
				sleep 1
			}
			[[ $r == 0 ]] && break
			if ((i % 5 == 4 || SECONDS >= deadline)); then
				status "$host"
				if [[ ${st[$col_sql]:-} == No && ${st[Last_SQL_Errno]:-0} != 0 ]]; then
					die "$host: replication stopped: $(describe)"
				fi
				((SECONDS < deadline)) || die "$host did not catch up with the primary's position '$pos' within ${wait_s}s: $(describe)"
				log "$host: catching up ($(describe))"
			fi
		done
	done
}

# ------------------------------------------------------------ already done?

# A primary with the data was set up before (or loaded by something else):
# it may hold audit rows, so it is never wiped; the replicas must replicate
# from it and have all of it.
if has_marker "$primary"; then
	start_over="This script never wipes a primary that has data: start over with \`down -v\` and \`up\` (with -p projectsvc-replicas and both -f files)."
	for host in "${replicas[@]}"; do
		status "$host"
		[[ ${st[$col_host]:-} == "$primary" ]] ||
			die "$primary has the demo data, but $host does not replicate from it (a server recreated, or a stack not set up by this script, e.g. docker-compose.yml's alone under the same project name). $start_over"
	done
	log "set up by an earlier run: checking that the replicas replicate and have caught up"
	for host in "${replicas[@]}"; do
		# Running already, normally (a server restarts its replication):
		# then a warning only.
		q "$host" "$start_replication" "${replica_read_only[@]}" >/dev/null
	done
	catch_up
	for host in "${replicas[@]}"; do
		has_marker "$host" || die "$host replicates from $primary but lacks the demo data. $start_over"
	done
	phase catch-up
	log "ready: ${replicas[*]} replicate from $primary (${timings[*]})"
	exit 0
fi

# ------------------------------------------------------------ from scratch

# The primary has no (complete) data: a first start, or an earlier run that
# stopped half-way. Everything is set up again.
log "setting up replication from scratch"
# Unlogged (sql_log_bin = 0): nothing of the wipe is replicated; every
# server is wiped itself. Replicas first stop replicating.
wipe=("SET SESSION sql_log_bin = 0"
	"DROP DATABASE IF EXISTS \`$database\`"
	"DROP USER IF EXISTS '$service_user'@'%', '$repl_user'@'%'")
for host in "${replicas[@]}"; do
	q "$host" "${replica_stop[@]}" "${wipe[@]}" "${replica_reset[@]}" >/dev/null
done
repl_pass=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
# The primary: forget binlogs and GTID history (also those of its
# initialisation), then the replication account, unlogged like the
# entrypoints' own users: the replicas need nothing of it.
q "$primary" "${wipe[@]}" "$reset_binlogs" \
	"SET SESSION sql_log_bin = 0" \
	"CREATE USER '$repl_user'@'%' IDENTIFIED BY '$repl_pass'" \
	"GRANT REPLICATION SLAVE ON *.* TO '$repl_user'@'%'" \
	"SET SESSION sql_log_bin = 1" >/dev/null
for host in "${replicas[@]}"; do
	# shellcheck disable=SC2059
	q "$host" "$(printf "$change_source" "$primary" "$port" "$repl_user" "$repl_pass")" \
		"$start_replication" "${replica_read_only[@]}" >/dev/null
done
unset repl_pass
phase replication

# The data, on the primary only, written to its binary log.
q "$primary" "CREATE DATABASE \`$database\`" >/dev/null
for f in "${sql_files[@]}"; do
	log "loading $f on $primary"
	sql "$primary" --database="$database" <"$f" >/dev/null || die "loading $f on $primary failed"
done
phase load

catch_up
for host in "$primary" "${replicas[@]}"; do
	has_marker "$host" || die "$host lacks the grants of sql/grants.sql after catching up"
done
phase catch-up

counts=
for host in "$primary" "${replicas[@]}"; do
	counts+=" $host $(q "$host" "SELECT COUNT(*) FROM \`$database\`.project_report" || echo '?')"
done
log "rows in $database.project_report:$counts"
log "ready: ${replicas[*]} replicate from $primary ($flavour; ${timings[*]}; total $((($(now_ms) - started) / 1000))s)"
