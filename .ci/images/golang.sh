#!/usr/bin/env bash
# Builds the Go builder image used by the project's Dockerfile without any
# container registry: a minbase Debian bookworm (+ ca-certificates, git) with
# the host's Go toolchain (go env GOROOT) copied into /usr/local/go.
#
#   bash .ci/images/golang.sh             # builds projectsvc-golang:1.26 once
#   GO_BUILDER_IMAGE=my/tag bash .ci/images/golang.sh
#   REBUILD=1 bash .ci/images/golang.sh   # rebuild although the tag exists
#   GO=/path/to/go bash .ci/images/golang.sh   # toolchain to copy
#
# Layout and environment follow the official golang image: GOROOT
# /usr/local/go, GOPATH /go, PATH with both bin directories, GOTOOLCHAIN=local
# (never download another toolchain).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

TAG=${GO_BUILDER_IMAGE:-projectsvc-golang:1.26}
WANT_MINOR=go1.26 # what the default tag promises

GO=${GO:-}
if [[ -z $GO ]]; then
	if command -v go >/dev/null 2>&1; then
		GO=$(command -v go)
	elif [[ -x /usr/local/go/bin/go ]]; then
		GO=/usr/local/go/bin/go
	else
		die "no Go toolchain found (put go on PATH or set GO=/path/to/go)"
	fi
fi

GOROOT_HOST=$(GOTOOLCHAIN=local "$GO" env GOROOT)
GOVERSION_HOST=$(GOTOOLCHAIN=local "$GO" env GOVERSION)
[[ -x $GOROOT_HOST/bin/go ]] || die "GOROOT $GOROOT_HOST has no bin/go"
if [[ -z ${GO_BUILDER_IMAGE:-} && $GOVERSION_HOST != "$WANT_MINOR" && $GOVERSION_HOST != "$WANT_MINOR".* ]]; then
	die "host Go is $GOVERSION_HOST but $TAG promises $WANT_MINOR (set GO=... or GO_BUILDER_IMAGE=...)"
fi

customize_golang() {
	local root=$1
	log "copying Go $GOVERSION_HOST from $GOROOT_HOST ($(du -sh "$GOROOT_HOST" | cut -f1)) to /usr/local/go"
	mkdir_in_root "$root" 0755 /usr/local/go
	# GOROOT/test is Go's own regression suite: never used to build. The
	# copy is unpacked inside the chroot, so it cannot land on the host.
	tar -C "$GOROOT_HOST" --exclude=./test -cf - . |
		in_root "$root" tar -C /usr/local/go --no-same-owner --no-same-permissions -xf -
	in_root "$root" chmod -R a+rX,go-w /usr/local/go
	mkdir_in_root "$root" 1777 /go /go/src /go/bin
}

build_image "$TAG" "ca-certificates,git" customize_golang \
	"ENV GOLANG_VERSION=${GOVERSION_HOST#go}" \
	'ENV GOTOOLCHAIN=local' \
	'ENV GOPATH=/go' \
	'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	'ENV LANG=C.UTF-8' \
	'WORKDIR /go' \
	'CMD ["bash"]' \
	"LABEL org.opencontainers.image.description=\"Go ${GOVERSION_HOST#go} builder on Debian $DEBIAN_SUITE (projectsvc CI)\""

if [[ $IMAGE_BUILT == 1 ]]; then
	if ! version=$(docker run --rm "$TAG" go version </dev/null); then
		docker image rm "$TAG" >/dev/null 2>&1 || true
		die "smoke test failed: go version does not run in $TAG (image removed)"
	fi
	log "smoke test: $version"
fi
