# shellcheck shell=bash
# Shared helpers for the image scripts in .ci/images (sourced, not run).
#
# The CI machines have a Docker engine but no container registry: images are
# built from Debian packages with debootstrap and loaded with `docker import`.
# Only the Debian archive the host's apt already uses is contacted.
#
# Knobs (environment):
#   DEBIAN_SUITE   Debian release to bootstrap (default: bookworm)
#   DEBIAN_MIRROR  archive URL (default: the Debian archive in the host's apt
#                  sources; without either the build stops and asks for it)
#   REBUILD=1      rebuild even if the image tag already exists
#   IMAGE_ROOTFS_HOOK  program run as `HOOK ROOTFS` right after debootstrap
#                  (test seam: tripwire.sh plants symlinks there)
#
# The build writes only under its build directory (mktemp under $TMPDIR) and
# into the Docker engine. A debootstrapped tree holds absolute symlinks (e.g.
# etc/mysql/my.cnf -> /etc/alternatives/my.cnf): written through as
# "$root/etc/...", they resolve on the HOST (issue 14). So every change to an
# image's root file system goes through in_root / write_in_root /
# mkdir_in_root, which run inside `chroot ROOT`, where every path and symlink
# resolves inside the tree. The host only reads a tree (debootstrap's log, du,
# tar -c, none of which write through a symlink).

DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"

# log prints one line to stderr, prefixed with the script's name.
log() {
	printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

# as_root runs a command as root (directly when we are root, else via sudo).
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -- "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# image_exists TAG: true if the local engine has the image.
image_exists() {
	docker image inspect "$1" >/dev/null 2>&1
}

# ensure_docker fails clearly when the Docker engine is not reachable.
ensure_docker() {
	command -v docker >/dev/null 2>&1 || die "docker CLI not found"
	docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
		die "Docker engine not reachable (docker version failed)"
}

# ensure_debootstrap installs debootstrap (and the Debian archive keyring it
# verifies the archive with) through apt when they are missing.
ensure_debootstrap() {
	local pkgs=()
	command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || pkgs+=(debootstrap)
	[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || pkgs+=(debian-archive-keyring)
	((${#pkgs[@]} == 0)) && return 0
	command -v apt-get >/dev/null 2>&1 || die "missing ${pkgs[*]} and no apt-get to install them"
	log "installing ${pkgs[*]} with apt-get"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

# debian_mirror prints the Debian archive URL to bootstrap from: $DEBIAN_MIRROR,
# else the first URI in the host's apt sources (one-line *.list or deb822
# *.sources) that serves a plain release suite of the Debian archive (not
# -security/-updates/-backports, not a third-party repository). Dies when
# neither gives one: there is deliberately no built-in default archive.
debian_mirror() {
	if [[ -n ${DEBIAN_MIRROR:-} ]]; then
		printf '%s\n' "${DEBIAN_MIRROR%/}"
		return
	fi
	local f uri
	local files=()
	[[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] && files+=("$f")
	done
	if ((${#files[@]} > 0)); then
		uri=$(awk '
			function plain(suite) { return suite !~ /-/ && suite !~ /\// }
			function debianish(u) { return u ~ /debian/ && u !~ /security/ }
			function flush() {
				if (found == "" && types ~ /(^|[[:space:]])deb([[:space:]]|$)/ && enabled != "no" && debianish(uris) && suites != "")
					found = uris
				types = uris = suites = enabled = ""
			}
			FNR == 1 { flush() }
			/^[[:space:]]*#/ { next }
			# deb822 *.sources: stanzas separated by blank lines
			FILENAME ~ /\.sources$/ {
				if ($0 ~ /^[[:space:]]*$/) { flush(); next }
				if ($1 == "Types:") types = $0
				if ($1 == "URIs:") uris = $2
				if ($1 == "Enabled:") enabled = $2
				if ($1 == "Suites:") { suites = ""; for (j = 2; j <= NF; j++) if (plain($j)) suites = $j }
				next
			}
			# one-line format: deb [options] URI suite components...
			$1 == "deb" && found == "" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if (debianish($i) && plain($(i + 1))) found = $i
			}
			END { flush(); if (found != "") print found }
		' "${files[@]}" 2>/dev/null | head -n1)
	fi
	[[ -n ${uri:-} ]] ||
		die "no Debian archive in the host's apt sources: set DEBIAN_MIRROR to the archive URL to bootstrap from"
	printf '%s\n' "$uri" | sed 's:/*$::'
}

# unmount_below DIR unmounts anything still mounted under DIR (deepest first),
# e.g. /proc left behind by an interrupted debootstrap.
unmount_below() {
	local dir mnt
	dir=$(realpath -m "$1")
	while read -r mnt; do
		if [[ -n $mnt ]]; then
			as_root umount -l "$mnt" 2>/dev/null || true
		fi
	done < <(awk -v d="$dir/" 'index($2 "/", d) == 1 { print $2 }' /proc/self/mounts | sort -r)
}

# in_root ROOT CMD [ARG...] runs CMD as root inside the image root file system
# ROOT (chroot, clean environment): paths, symlinks included, resolve inside
# ROOT, never on the host. Standard input is passed through.
in_root() {
	local root=$1
	shift
	[[ -n $root && -d $root && ! -L $root && $(realpath -e -- "$root") != / ]] ||
		die "in_root: '$root' is not an image root file system"
	as_root chroot -- "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"
}

# write_in_root ROOT PATH MODE < CONTENT makes the absolute PATH inside ROOT a
# regular file, owned by root, with MODE and standard input as content. What
# was at PATH is replaced, never written through: a symlink there (even one
# pointing out of the tree) becomes the file itself.
write_in_root() {
	local root=$1 path=$2 mode=$3
	[[ $path == /* ]] || die "write_in_root: '$path' is not an absolute path"
	# shellcheck disable=SC2016 # $1/$2 belong to the inner shell
	in_root "$root" /bin/sh -euc 'rm -f -- "$1"; (umask 077 && cat >"$1"); chmod -- "$2" "$1"' \
		write_in_root "$path" "$mode"
}

# mkdir_in_root ROOT MODE DIR... creates the absolute DIRs (and missing
# parents) inside ROOT, owned by root, with MODE.
mkdir_in_root() {
	local root=$1 mode=$2
	shift 2
	in_root "$root" install -d -o 0 -g 0 -m "$mode" -- "$@"
}

# slim_rootfs DIR removes what a container never needs: apt caches and lists,
# documentation, man pages, non-English locales, logs.
slim_rootfs() {
	local root=$1
	in_root "$root" apt-get clean
	in_root "$root" find /var/lib/apt/lists -mindepth 1 -delete
	in_root "$root" find /var/cache/apt /var/cache/debconf -name '*-old' -delete
	in_root "$root" rm -rf /usr/share/doc /usr/share/man /usr/share/info \
		/usr/share/lintian /usr/share/linda /var/cache/man
	mkdir_in_root "$root" 0755 /usr/share/doc /usr/share/man
	in_root "$root" /bin/sh -euc '[ ! -d /usr/share/locale ] ||
		find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name "en*" ! -name locale.alias -exec rm -rf {} +'
	in_root "$root" find /var/log -type f -delete
	in_root "$root" rm -f /var/lib/dbus/machine-id /etc/hostname
	# Empty: containers must not share one machine ID.
	write_in_root "$root" /etc/machine-id 0644 </dev/null
}

# build_image TAG PACKAGES CUSTOMIZE_FN [CHANGE...]
#   Bootstraps a minbase $DEBIAN_SUITE rootfs including PACKAGES (comma
#   separated), calls CUSTOMIZE_FN ROOTFS to add files, slims the rootfs and
#   imports it as TAG with the given `docker import --change` instructions.
#   Does nothing (one log line) when TAG already exists, unless REBUILD=1.
#   Sets IMAGE_BUILT=1 when it built the image, 0 when it was cached.
export IMAGE_BUILT=0
build_image() {
	local tag=$1 packages=$2 customize=$3
	shift 3
	local changes=("$@")

	ensure_docker
	local old_id=
	if image_exists "$tag"; then
		old_id=$(docker image inspect --format '{{.Id}}' "$tag")
		if [[ ${REBUILD:-0} != 1 ]]; then
			log "image $tag already present (${old_id:7:12}); nothing to do (REBUILD=1 to rebuild)"
			return 0
		fi
	fi

	ensure_debootstrap
	local mirror start workdir
	mirror=$(debian_mirror)
	start=$SECONDS
	workdir=$(mktemp -d "${TMPDIR:-/tmp}/projectsvc-image.XXXXXX")
	# shellcheck disable=SC2064 # expand $workdir now
	trap "unmount_below '$workdir'; as_root rm -rf --one-file-system '$workdir'" EXIT
	local rootfs=$workdir/rootfs

	log "building $tag: debootstrap $DEBIAN_SUITE (minbase + $packages) from $mirror"
	local dblog=$workdir/debootstrap.log
	if ! as_root debootstrap --variant=minbase --include="$packages" \
		"$DEBIAN_SUITE" "$rootfs" "$mirror" >"$dblog" 2>&1; then
		tail -n 40 "$dblog" >&2
		[[ -f $rootfs/debootstrap/debootstrap.log ]] && tail -n 40 "$rootfs/debootstrap/debootstrap.log" >&2
		die "debootstrap failed (see above)"
	fi
	unmount_below "$rootfs"
	log "debootstrap done in $((SECONDS - start))s"

	if [[ -n ${IMAGE_ROOTFS_HOOK:-} ]]; then
		log "running IMAGE_ROOTFS_HOOK $IMAGE_ROOTFS_HOOK"
		"$IMAGE_ROOTFS_HOOK" "$rootfs"
	fi

	# Make apt inside the image point at the same archive (useful for
	# debugging; lists are removed below so nothing is fetched at build).
	printf 'deb %s %s main\n' "$mirror" "$DEBIAN_SUITE" | write_in_root "$rootfs" /etc/apt/sources.list 0644

	"$customize" "$rootfs"
	slim_rootfs "$rootfs"

	local args=()
	local c
	for c in "${changes[@]}"; do
		args+=(--change "$c")
	done
	log "importing rootfs ($(as_root du -sh --one-file-system "$rootfs" | cut -f1)) as $tag"
	as_root tar -C "$rootfs" --numeric-owner --one-file-system -cf - . |
		docker import "${args[@]}" --message "built by $(basename "$0") from Debian $DEBIAN_SUITE" - "$tag" >/dev/null
	IMAGE_BUILT=1
	if [[ -n $old_id && $old_id != "$(docker image inspect --format '{{.Id}}' "$tag")" ]]; then
		# The previous build is now untagged; drop it unless a container uses it.
		docker image rm "$old_id" >/dev/null 2>&1 || true
	fi
	log "built $tag in $((SECONDS - start))s, size $(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1000000 }')"
}
