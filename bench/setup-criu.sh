#!/bin/sh
# Build CRIU >= 4.1 from Debian trixie's source package and cache it outside the
# repository.  Debian 12's CRIU 3.17 cannot start on kernels >= 6.13 (split
# vDSO/vvar), so the benchmark needs the newer one.  Prints the path of the
# criu binary on success; exits non-zero (with the reason on stderr) otherwise.
#
#   LUO_BENCH_CACHE  cache directory (default /var/cache/luo-bench, or
#                    ~/.cache/luo-bench when not root)
set -eu

if [ -n "${LUO_BENCH_CACHE:-}" ]; then
	CACHE=$LUO_BENCH_CACHE
elif [ "$(id -u)" -eq 0 ]; then
	CACHE=/var/cache/luo-bench
else
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/luo-bench
fi
mkdir -p "$CACHE"
BIN=$CACHE/criu/criu
LOG=$CACHE/criu-build.log

if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
	echo "$BIN"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-criu: building CRIU needs root (apt-get build deps)" >&2
	exit 1
fi

set +e
(
	set -ex
	export DEBIAN_FRONTEND=noninteractive
	# Mirror of the system's bookworm list.
	MIRROR=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		sed -n -e 's/^URIs: *//p' -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\).*/\2/p' |
		grep -E '/debian/?$' | head -n1 || true)
	[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
	APT=$CACHE/apt
	mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"
	echo "deb-src $MIRROR trixie main" >"$APT/sources.list"
	APTOPT="-o Dir::Etc::SourceList=$APT/sources.list -o Dir::Etc::SourceParts=/dev/null \
-o Dir::State::Lists=$APT/lists -o Dir::Cache=$APT/cache"
	# Build dependencies, from bookworm (dpkg-dev unpacks the source).
	apt-get update -q || true
	apt-get install -y -q --no-install-recommends \
		build-essential dpkg-dev pkg-config python3 python3-protobuf \
		libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler \
		libnl-3-dev libnl-route-3-dev libnet1-dev libcap-dev libaio-dev \
		libbsd-dev libgnutls28-dev libnftables-dev libdrm-dev uuid-dev \
		iproute2 >/dev/null
	# shellcheck disable=SC2086
	apt-get $APTOPT update -q
	SRC=$CACHE/src
	rm -rf "$SRC"
	mkdir -p "$SRC"
	# shellcheck disable=SC2086
	cd "$SRC"
	# The mirror here may serve the upstream tarball of the source package
	# but not its .dsc/.debian.tar.xz; then build the plain upstream tarball.
	apt-get $APTOPT source -q --download-only criu || true
	if ls criu_*.dsc >/dev/null 2>&1 && ls criu_*.debian.tar.* >/dev/null 2>&1; then
		dpkg-source -x criu_*.dsc criu
	else
		ls criu_*.orig.tar.* >/dev/null
		mkdir criu
		tar -xf criu_*.orig.tar.* -C criu --strip-components=1
		echo "setup-criu: no .dsc from the mirror; building the package's upstream tarball"
	fi
	cd "$SRC/criu"
	make -j"$(nproc)" criu
	mkdir -p "$CACHE/criu"
	cp criu/criu "$CACHE/criu/criu.tmp"
	mv "$CACHE/criu/criu.tmp" "$BIN"
) >"$LOG" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
	echo "setup-criu: build failed; last lines of $LOG:" >&2
	tail -n 15 "$LOG" >&2
	exit 1
fi
"$BIN" --version >/dev/null 2>&1 || { echo "setup-criu: built criu does not run" >&2; exit 1; }
echo "$BIN"
