#!/usr/bin/env bash
# Prints the Redis image the tests should use, making sure it exists locally:
#   1. REDIS_TEST_IMAGE when set (the caller's choice; it must exist or be pullable),
#   2. the official redis:7 when present or pullable (any machine with a registry),
#   3. else the air-gapped Redis image built here from Debian packages.
# Progress goes to stderr; stdout carries only the image name.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
official=${OFFICIAL_REDIS_IMAGE:-redis:7}

have() { docker image inspect "$1" >/dev/null 2>&1; }

if [ -n "${REDIS_TEST_IMAGE:-}" ]; then
	have "$REDIS_TEST_IMAGE" || docker pull "$REDIS_TEST_IMAGE" >&2
	echo "$REDIS_TEST_IMAGE"
	exit 0
fi
if have "$official" || docker pull "$official" >/dev/null 2>&1; then
	echo "$official"
	exit 0
fi
echo "redis-image: $official cannot be pulled (no registry?); using the Redis image built from Debian packages" >&2
image=${REDIS_IMAGE:-projectsvc-redis:7}
REDIS_IMAGE=$image bash "$here/redis.sh" >&2
echo "$image"
