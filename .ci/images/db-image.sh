#!/usr/bin/env bash
# Prints the database image the tests and `make run` should use, making sure
# it exists locally:
#   1. DBTEST_IMAGE when set (the caller's choice; it must exist or be pullable),
#   2. the official mysql:8.4 when present or pullable (any machine with a registry),
#   3. else the air-gapped MariaDB image built here from Debian packages.
# Progress goes to stderr; stdout carries only the image name.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
official=${OFFICIAL_DB_IMAGE:-mysql:8.4}

have() { docker image inspect "$1" >/dev/null 2>&1; }

if [ -n "${DBTEST_IMAGE:-}" ]; then
	have "$DBTEST_IMAGE" || docker pull "$DBTEST_IMAGE" >&2
	echo "$DBTEST_IMAGE"
	exit 0
fi
if have "$official" || docker pull "$official" >/dev/null 2>&1; then
	echo "$official"
	exit 0
fi
echo "db-image: $official cannot be pulled (no registry?); using the MariaDB image built from Debian packages" >&2
image=${MARIADB_IMAGE:-projectsvc-mariadb:10.11}
MARIADB_IMAGE=$image bash "$here/mariadb.sh" >&2
echo "$image"
