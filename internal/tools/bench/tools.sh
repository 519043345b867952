#!/usr/bin/env bash
# Installs what `make bench` needs beyond Go and Docker, when missing:
#   wrk      the HTTP load tool, pinned to the 4.1 series (upstream 4.1.0;
#            Debian package "wrk", e.g. 4.1.0-3+b2 on bookworm)
#   gnuplot  draws docs/performance.png (Debian package "gnuplot-nox")
# Both come from the distribution's archive with apt-get (as root, or with
# sudo). On a machine without apt-get, install wrk 4.1.0 and gnuplot yourself.
set -euo pipefail
WRK_SERIES=4.1

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v gnuplot >/dev/null 2>&1 || need+=(gnuplot-nox)
if ((${#need[@]})); then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "bench: missing ${need[*]} and no apt-get here: install wrk ${WRK_SERIES}.x and gnuplot, then run make bench again" >&2
		exit 1
	fi
	sudo=()
	if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi
	echo "bench: installing ${need[*]} from the Debian archive (apt-get)" >&2
	"${sudo[@]}" apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

version=$(wrk -v 2>&1 | head -n1 || true)
case "$version" in
"wrk ${WRK_SERIES}."* | "wrk debian/${WRK_SERIES}."*) ;;
*)
	echo "bench: need wrk ${WRK_SERIES}.x, found: ${version:-nothing}" >&2
	exit 1
	;;
esac
echo "bench: ${version%% Copyright*}; $(gnuplot --version)" >&2
