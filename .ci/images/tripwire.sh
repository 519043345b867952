#!/usr/bin/env bash
# Host tripwire for the image builds (regression test of issue 14): rebuilds
# the images into throwaway tags and fails when a build changed anything on
# the host outside its build directory and the Docker engine, or when the
# image lacks what the build meant to write into it.
#
#   bash .ci/images/tripwire.sh                         # mariadb, golang, redis
#   TRIPWIRE_IMAGES=mariadb bash .ci/images/tripwire.sh
#   TRIPWIRE_SCRIPTS=/tmp/old bash .ci/images/tripwire.sh  # test other copies
#                              # of mariadb.sh, golang.sh, redis.sh, lib.sh, ...
#   TRIPWIRE_IGNORE="/srv/x /home/me/.cache" ...        # more host paths that
#                              # other processes may change meanwhile
#
# Per image: (1) fingerprint the host: every entry of /etc with type, mode,
# owner, symlink target and content hash, plus a stamp file; (2) build with
# REBUILD=1 into <name>:tripwire, TMPDIR inside this script's scratch
# directory, and IMAGE_ROOTFS_HOOK planting absolute symlinks out of the tree
# at the paths the build writes (a write that follows one lands in a canary
# directory on the host); (3) fail, listing the paths, if /etc differs, if
# anything else under / (minus /proc /sys /dev /run /tmp, Docker's and apt's
# state, logs, the user caches, Go's caches and module area, this checkout,
# and files that processes already running before the build hold open for
# writing, such as the log a CI runner redirects this script's output to) is
# newer than the stamp, if the canary directory changed, or if a mount or the
# build directory was left behind; (4) check inside the image that the files
# the build wrote are there (for mariadb: /etc/mysql/my.cnf is the image's
# and mariadbd reads it; for redis: the entrypoint starts redis-server, which
# reads the image's config and answers PING).
# The host-wide comparison of step (3) only sees what nobody else changed
# meanwhile, hence its ignore list; the canaries of step (2) are the sharp
# check, blind to every other process on the machine.
# debootstrap is installed (apt) before the first fingerprint: that is the
# one host change the build may make.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

# Canary directories (under $TRIPWIRE_CANARY) the planted symlinks point to.
canary_dirs=(f d/usr-local-bin d/usr-local-go d/go d/initdb d/data)

# plant ROOTFS (run by build_image as IMAGE_ROOTFS_HOOK, via the wrapper
# below): replaces paths the builds write with absolute symlinks to
# $TRIPWIRE_CANARY/... . That directory exists on the host (empty) and, as a
# mirror, inside the tree: a write resolved inside the tree lands in the
# mirror, one resolved on the host lands in the canary.
plant() {
	local root=$1
	[[ -n ${TRIPWIRE_CANARY:-} ]] || die "plant: TRIPWIRE_CANARY not set"
	log "planting symlinks to $TRIPWIRE_CANARY in the new tree"
	# shellcheck disable=SC2016 # the script is for the chroot's shell
	in_root "$root" /bin/sh -euc '
		c=$1
		shift
		for d in "$@"; do mkdir -p "$c/$d"; done
		# files the builds write (that exist or whose directory exists)
		for f in /etc/apt/sources.list /etc/machine-id \
			/etc/mysql/projectsvc-mariadb.cnf /etc/mysql/mariadb.conf.d/99-docker.cnf \
			/etc/redis/projectsvc-redis.conf; do
			[ -d "${f%/*}" ] || continue
			ln -sfn "$c/f/$(echo "${f#/}" | tr / _)" "$f"
		done
		# directories the builds write into (none holds anything yet)
		rmdir /usr/local/bin
		ln -s "$c/d/usr-local-bin" /usr/local/bin
		ln -s "$c/d/usr-local-go" /usr/local/go
		ln -s "$c/d/go" /go
		ln -s "$c/d/initdb" /docker-entrypoint-initdb.d
		ln -s "$c/d/data" /data
	' plant "$TRIPWIRE_CANARY" "${canary_dirs[@]}"
}

if [[ ${1:-} == plant ]]; then
	plant "$2"
	exit 0
fi

scripts=$(cd "${TRIPWIRE_SCRIPTS:-$here}" && pwd)
read -r -a images <<<"${TRIPWIRE_IMAGES:-mariadb golang redis}"

ensure_docker
ensure_debootstrap
as_root true # ask for sudo's password now, not in the middle

scratch=$(mktemp -d "${TMPDIR:-/tmp}/projectsvc-tripwire.XXXXXX")
tags=()
containers=()
cleanup() {
	local t
	((${#containers[@]} == 0)) || docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
	for t in "${tags[@]}"; do
		docker image rm "$t" >/dev/null 2>&1 || true
	done
	unmount_below "$scratch"
	as_root rm -rf --one-file-system "$scratch"
}
trap cleanup EXIT
canary=$scratch/canary
mkdir -p "$scratch/tmp" "${canary_dirs[@]/#/$canary/}"
printf '#!/bin/sh\nexec bash %q plant "$@"\n' "$here/tripwire.sh" >"$scratch/plant"
chmod 0755 "$scratch/plant"

# Paths that change on their own, or legitimately during a build.
ignore=(/proc /sys /dev /run /tmp "$scratch" "${TMPDIR:-/tmp}"
	/var/lib/docker /var/lib/containerd /var/cache/apt /var/lib/apt/lists /var/log
	"$(cd "$here/../.." && pwd)" "${HOME:-/root}/.cache" /root/.cache)
# Go's caches and its whole module area (issue 19 item 5): any `go get` or
# `go mod download` on the machine updates not only the module cache but
# also the checksum database's cache, GOPATH/pkg/sumdb. Go keeps both under
# the first GOPATH entry's pkg (cmd/go: gopathDir("pkg/mod"), "pkg/sumdb"),
# so that directory is ignored, plus GOMODCACHE itself when it lives
# elsewhere. Asked of the Go on PATH (or $GO), run outside any module; without
# one, from the environment, or Go's defaults under $HOME.
gocmd=${GO:-go}
goenv=()
if command -v "$gocmd" >/dev/null 2>&1; then
	mapfile -t goenv < <(cd / && GOTOOLCHAIN=local "$gocmd" env GOPATH GOMODCACHE GOCACHE GOTELEMETRYDIR 2>/dev/null)
fi
if ((${#goenv[@]} != 4)); then
	goenv=("${GOPATH:-${HOME:-/root}/go}" "${GOMODCACHE:-}" "${GOCACHE:-}"
		"${XDG_CONFIG_HOME:-${HOME:-/root}/.config}/go/telemetry")
fi
gopath=${goenv[0]%%:*}
[[ -z $gopath ]] || ignore+=("$gopath/pkg")
for d in "${goenv[@]:1}"; do
	[[ -z $d ]] || ignore+=("$d")
done
read -r -a more <<<"${TRIPWIRE_IGNORE:-}"
ignore+=("${more[@]}")
prune=()
for d in "${ignore[@]}"; do
	prune+=(-path "$(realpath -m "$d")" -o)
done
unset 'prune[-1]'
# Every file system backed by a device (/, and /home, /var... if separate).
mapfile -t fsroots < <(awk '$1 ~ /^\// { print $2 }' /proc/self/mounts | sort -u)

# etc_fingerprint: type, mode, owner and symlink target of every entry of
# /etc, and the content hash of every file, sorted.
etc_fingerprint() {
	{
		as_root find /etc -xdev \( -type l -printf 'l %m %U:%G %p -> %l\n' \) -o -printf '%y %m %U:%G %p\n'
		as_root find /etc -xdev -type f -print0 | as_root xargs -0 -r sha256sum | awk '{ h = $1; $1 = ""; print "sha256" $0 " " h }'
	} | LC_ALL=C sort
}

# changed_since STAMP: entries (outside the ignored paths) modified or
# changed (mode, owner, links) after STAMP.
changed_since() {
	as_root find "${fsroots[@]}" -xdev \( "${prune[@]}" \) -prune -o \
		\( -newer "$1" -o -cnewer "$1" \) -printf '%y %p\n' 2>/dev/null | LC_ALL=C sort -u
}

# held_for_writing PID...: the regular files those processes (the ones still
# alive) hold open for writing, one per line. Run on the processes that were
# already running before a build: what they write (a CI runner's log, which
# this script's own output goes to; a daemon's journal) is not the build's
# doing, while a process the build left running is not among them.
held_for_writing() {
	# shellcheck disable=SC2016 # the script is for the inner shell
	as_root bash -c '
		for pid; do
			for fd in /proc/"$pid"/fd/*; do
				flags=$(awk "/^flags:/ { print \$2 }" "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null) || continue
				[[ -n $flags ]] && (( (8#$flags & 3) != 0 )) || continue # O_WRONLY or O_RDWR
				target=$(readlink "$fd" 2>/dev/null) || continue
				[[ $target == /* && -f $target ]] && printf "%s\n" "$target"
			done
		done
		true
	' held "$@" | LC_ALL=C sort -u
}

canary_fingerprint() {
	as_root find "$canary" -printf '%y %m %U:%G %s %C@ %p\n' | LC_ALL=C sort
}

failures=()
fail() {
	log "FAIL: $*"
	failures+=("$*")
}

# in_image TAG CMD...: runs CMD in a throwaway container of TAG.
in_image() {
	local tag=$1
	shift
	docker run --rm --network none --entrypoint "$1" "$tag" "${@:2}" </dev/null
}

check_mariadb_image() {
	local tag=$1 first defaults
	first=$(in_image "$tag" head -n1 /etc/mysql/my.cnf) || first="(unreadable)"
	log "image /etc/mysql/my.cnf: $first"
	[[ $first == '# projectsvc-mariadb:'* ]] ||
		fail "$tag: /etc/mysql/my.cnf is not the image's (first line: $first)"
	if ! in_image "$tag" my_print_defaults --help | grep -q '/etc/mysql/my.cnf'; then
		fail "$tag: /etc/mysql/my.cnf is not among mariadb's default option files"
	fi
	defaults=$(in_image "$tag" mariadbd --print-defaults) || defaults=
	local want
	for want in --bind-address=0.0.0.0 --max_connections=500 --skip-log-bin --socket=/run/mysqld/mysqld.sock; do
		grep -q -- "$want" <<<"$defaults" || fail "$tag: mariadbd --print-defaults lacks $want"
	done
	in_image "$tag" cat /usr/local/bin/docker-entrypoint.sh | cmp -s - "$scripts/mariadb-entrypoint.sh" ||
		fail "$tag: /usr/local/bin/docker-entrypoint.sh is not mariadb-entrypoint.sh"
	in_image "$tag" test -x /usr/local/bin/docker-entrypoint.sh -a -d /docker-entrypoint-initdb.d ||
		fail "$tag: entrypoint not executable or /docker-entrypoint-initdb.d missing"
}

check_redis_image() {
	local tag=$1 first owner id pong i info
	first=$(in_image "$tag" head -n1 /etc/redis/projectsvc-redis.conf) || first="(unreadable)"
	log "image /etc/redis/projectsvc-redis.conf: $first"
	[[ $first == '# projectsvc-redis:'* ]] ||
		fail "$tag: /etc/redis/projectsvc-redis.conf is not the image's (first line: $first)"
	in_image "$tag" cat /usr/local/bin/docker-entrypoint.sh | cmp -s - "$scripts/redis-entrypoint.sh" ||
		fail "$tag: /usr/local/bin/docker-entrypoint.sh is not redis-entrypoint.sh"
	in_image "$tag" test -x /usr/local/bin/docker-entrypoint.sh ||
		fail "$tag: /usr/local/bin/docker-entrypoint.sh is not executable"
	owner=$(in_image "$tag" stat -L -c %U /data) || owner="(missing)"
	[[ $owner == redis ]] || fail "$tag: /data belongs to $owner, not redis"
	# The image as tests run it: its entrypoint starts redis-server, which
	# reads the image's config and answers.
	if ! id=$(docker run -d --network none "$tag" </dev/null); then
		fail "$tag: docker run failed"
		return
	fi
	containers+=("$id")
	for ((i = 0; i < 50; i++)); do
		pong=$(docker exec "$id" redis-cli ping 2>&1) || true
		[[ $pong == PONG ]] && break
		sleep 0.2
	done
	if [[ $pong == PONG ]]; then
		info=$(docker exec "$id" redis-cli info server | tr -d '\r')
		log "image redis-server: $(grep -E '^(redis_version|config_file):' <<<"$info" | tr '\n' ' ')"
		grep -qx 'config_file:/etc/redis/projectsvc-redis.conf' <<<"$info" ||
			fail "$tag: redis-server does not run with /etc/redis/projectsvc-redis.conf"
		[[ $(docker exec "$id" redis-cli config get protected-mode | tail -n1) == no ]] ||
			fail "$tag: redis-server runs in protected mode"
	else
		docker logs "$id" 2>&1 | tail -n 20 >&2
		fail "$tag: redis-server started by the entrypoint does not answer PING ($pong)"
	fi
	docker rm -f "$id" >/dev/null 2>&1 || true
}

check_golang_image() {
	local tag=$1 version want
	want=$(GOTOOLCHAIN=local "${GO:-go}" env GOVERSION)
	version=$(in_image "$tag" go version) || version=
	[[ $version == "go version $want "* ]] || fail "$tag: go version says '$version', want $want"
	in_image "$tag" test -d /go/bin -a -k /go || fail "$tag: /go/bin missing or /go not sticky"
}

check_common() {
	local tag=$1 sources
	sources=$(in_image "$tag" cat /etc/apt/sources.list) || sources=
	[[ $sources == "deb "*" $DEBIAN_SUITE main" ]] || fail "$tag: /etc/apt/sources.list is '$sources'"
	in_image "$tag" sh -c 'test -f /etc/machine-id && ! test -L /etc/machine-id && ! test -s /etc/machine-id' ||
		fail "$tag: /etc/machine-id is not an empty regular file"
}

# show LABEL FILE: the first lines of a difference, indented.
show() {
	log "$1 ($(wc -l <"$2") lines):"
	head -n 60 "$2" | sed 's/^/    /' >&2
}

total_start=$SECONDS
for image in "${images[@]}"; do
	case $image in
	mariadb) tag=projectsvc-mariadb:tripwire tagvar=MARIADB_IMAGE ;;
	golang) tag=projectsvc-golang:tripwire tagvar=GO_BUILDER_IMAGE ;;
	redis) tag=projectsvc-redis:tripwire tagvar=REDIS_IMAGE ;;
	*) die "unknown image '$image' (TRIPWIRE_IMAGES: mariadb golang redis)" ;;
	esac
	[[ -f $scripts/$image.sh ]] || die "no $scripts/$image.sh"
	tags+=("$tag")
	work=$scratch/$image
	mkdir -p "$work"

	log "$image: fingerprinting the host"
	etc_fingerprint >"$work/etc.before"
	canary_fingerprint >"$work/canary.before"
	touch "$work/stamp"
	changed_since "$work/stamp" >"$work/changed.before" # concurrent noise
	ps -e -o pid= | tr -d ' ' >"$work/pids.before"

	log "$image: building $tag with $scripts/$image.sh"
	start=$SECONDS
	if ! env REBUILD=1 "$tagvar=$tag" TMPDIR="$scratch/tmp" \
		IMAGE_ROOTFS_HOOK="$scratch/plant" TRIPWIRE_CANARY="$canary" \
		bash "$scripts/$image.sh" </dev/null; then
		fail "$image: the build failed"
	fi
	log "$image: build took $((SECONDS - start))s; comparing the host"

	etc_fingerprint >"$work/etc.after"
	diff -U0 "$work/etc.before" "$work/etc.after" | grep -E '^[-+][^-+]' >"$work/etc.diff" || true
	if [[ -s $work/etc.diff ]]; then
		show "$image: /etc changed during the build (- before, + after)" "$work/etc.diff"
		fail "$image: the build changed /etc on the host: $(grep -oE ' /etc/[^ ]*' "$work/etc.diff" | sort -u | tr -d ' ' | tr '\n' ' ')"
	fi
	changed_since "$work/stamp" | LC_ALL=C comm -23 - "$work/changed.before" >"$work/changed.all"
	mapfile -t pids <"$work/pids.before"
	held_for_writing "${pids[@]}" | sed 's/^/f /' >"$work/held"
	LC_ALL=C comm -12 "$work/changed.all" "$work/held" >"$work/changed.others"
	LC_ALL=C comm -23 "$work/changed.all" "$work/held" >"$work/changed"
	if [[ -s $work/changed.others ]]; then
		log "$image: not counted, written meanwhile by processes that predate the build: $(awk '{ print $2 }' "$work/changed.others" | head -n 10 | tr '\n' ' ')"
	fi
	if [[ -s $work/changed ]]; then
		show "$image: changed on the host outside the build directory" "$work/changed"
		fail "$image: the build changed the host outside its build directory: $(awk '{ print $2 }' "$work/changed" | head -n 10 | tr '\n' ' ')"
	fi
	canary_fingerprint >"$work/canary.after"
	if ! cmp -s "$work/canary.before" "$work/canary.after"; then
		diff -U0 "$work/canary.before" "$work/canary.after" | grep -E '^[-+][^-+]' >"$work/canary.diff" || true
		show "$image: written through a planted symlink (host canary $canary)" "$work/canary.diff"
		fail "$image: the build wrote through symlinks in the tree to the host"
	fi
	if grep -qF " $scratch/" /proc/self/mounts; then
		fail "$image: mounts left behind: $(grep -F " $scratch/" /proc/self/mounts | awk '{ print $2 }' | tr '\n' ' ')"
	fi
	left=$(find "$scratch/tmp" -mindepth 1 -maxdepth 1 -printf '%f ')
	[[ -z $left ]] || fail "$image: build directory left behind in $scratch/tmp: $left"

	if image_exists "$tag"; then
		log "$image: checking the content of $tag"
		check_common "$tag"
		"check_${image}_image" "$tag"
	else
		fail "$image: no image $tag"
	fi
	docker image rm "$tag" >/dev/null 2>&1 || true
done

if ((${#failures[@]} > 0)); then
	log "TRIPWIRE FAILED (${#failures[@]} problem(s), $((SECONDS - total_start))s):"
	for f in "${failures[@]}"; do
		log "  - $f"
	done
	exit 1
fi
log "ok: building ${images[*]} changed nothing on the host outside the build directory ($((SECONDS - total_start))s)"
