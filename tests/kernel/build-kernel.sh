#!/bin/sh
# Build (or reuse) the reference LUO kernel the VM tests boot.
#
# Debian's own kernel images do not enable KEXEC_HANDOVER/LIVEUPDATE, so we
# build one from the newest linux-source-* package in Debian unstable, with
# the config fragment tests/kernel/luo.config on top of tinyconfig and
# kvm_guest.config. The result is cached in
#   $LUO_KERNEL_CACHE/<package version>-<hash of luo.config>/
# holding bzImage, the kernel's own liveupdate selftests (static) and the
# source's uapi liveupdate.h, so later runs cost nothing. The sid package
# lists live in a private apt state under the cache; the system's apt
# configuration is not touched.
#
# Safe when several test runs start at once: the build holds an exclusive
# flock on $LUO_KERNEL_CACHE/lock (a second run waits for it, then reuses
# the result), builds in its own work directory and renames the finished
# result into place, so a reader sees a complete directory with "done" or
# none. A finished cache is read without the lock.
#
# Prints the cache directory on stdout. Exit 77 when the package cannot be
# had (no network, no mirror), 1 on a real build failure.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${LUO_KERNEL_CACHE:-/var/cache/luo-kernel}
jobs=${LUO_KERNEL_JOBS:-2}
frag="$here/luo.config"
fraghash=$(sha256sum <"$frag" | cut -c1-12)

log() { echo "luo-kernel: $*" >&2; }
skip() { log "SKIP: $*"; exit 77; }

mkdir -p "$cache" || skip "cannot create $cache"

# A finished build for this fragment is reused without asking the network:
# the cache must keep working offline. LUO_KERNEL_REFRESH=1 looks for a newer
# package first.
reuse() {
	[ "${LUO_KERNEL_REFRESH:-0}" != 1 ] || return 0
	for d in $(ls -d "$cache"/*-"$fraghash" 2>/dev/null | sort -V -r); do
		if [ -f "$d/done" ]; then
			echo "$d"
			exit 0
		fi
	done
}
reuse

# One builder at a time; whoever waited finds the result and reuses it.
command -v flock >/dev/null 2>&1 || skip "flock not found (util-linux)"
exec 9>>"$cache/lock" || skip "cannot write $cache/lock"
if ! flock -n 9; then
	log "another run is building the kernel; waiting for it"
	flock 9
fi
reuse

command -v apt-get >/dev/null 2>&1 || skip "apt-get not found"
for t in make gcc flex bison bc cpio xz; do
	command -v "$t" >/dev/null 2>&1 || skip "$t not found (scripts/install-deps.sh installs it)"
done

# Private apt state for Debian unstable, on the system's mirror.
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p;s/^deb *\[*[^]]*\]* *\(http[^ ]*debian\)\/* bookworm .*/\1/p' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}
apt="$cache/apt"
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/parts"
echo "deb $mirror sid main" >"$apt/sources.list"
set -- -o Dir::Etc::SourceList="$apt/sources.list" \
	-o Dir::Etc::SourceParts="$apt/parts" \
	-o Dir::State::Lists="$apt/lists" \
	-o Dir::Cache="$apt" \
	-o Dir::Cache::archives="$apt/archives" \
	-o APT::Get::List-Cleanup=0
log "updating sid package lists from $mirror"
apt-get -qq "$@" update >&2 || skip "cannot reach $mirror sid"

pkg=$(apt-cache "$@" pkgnames linux-source- 2>/dev/null |
	grep -E '^linux-source-[0-9]+\.[0-9]+$' | sort -V | tail -n1)
[ -n "$pkg" ] || skip "no linux-source-* package in sid"
ver=$(apt-cache "$@" show "$pkg" | sed -n 's/^Version: //p' | sort -V | tail -n1)
out="$cache/$ver-$fraghash"
if [ -f "$out/done" ]; then
	echo "$out"
	exit 0
fi

log "building $pkg $ver (first run: about 15 to 30 minutes on 2 cores)"
# Only the lock holder touches build-$ver, so an interrupted build resumes
# there (make is incremental in the unpacked tree). (work-$ver was the
# directory of builds without the lock; it is left alone.)
work="$cache/build-$ver"
src=$(ls -d "$work"/linux-source-*/ 2>/dev/null | head -n1)
if [ -z "$src" ] || [ ! -f "$work/unpacked" ]; then
	rm -rf "$work"
	mkdir -p "$work"
	(cd "$work" && apt-get -qq "$@" download "$pkg" >&2) || skip "cannot download $pkg"
	dpkg-deb -x "$work"/*.deb "$work/pkg" || { log "bad package"; exit 1; }
	tarball=$(ls "$work"/pkg/usr/src/linux-source-*.tar.* | head -n1)
	log "unpacking $tarball"
	tar -C "$work" -xf "$tarball"
	rm -rf "$work/pkg" "$work"/*.deb
	src=$(ls -d "$work"/linux-source-*/ | head -n1)
	touch "$work/unpacked"
fi
src=${src%/}

[ -d "$src/kernel/liveupdate" ] || { log "$pkg has no kernel/liveupdate"; exit 77; }

make -s -C "$src" tinyconfig >&2
make -s -C "$src" kvm_guest.config >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$frag" >"$work/merge.log" 2>&1 ||
	{ cat "$work/merge.log" >&2; exit 1; }
make -s -C "$src" olddefconfig >&2
for o in KEXEC_HANDOVER LIVEUPDATE LIVEUPDATE_MEMFD KEXEC_FILE; do
	grep -q "^CONFIG_$o=y" "$src/.config" || { log "CONFIG_$o did not stick"; exit 1; }
done
make -s -C "$src" -j"$jobs" bzImage >&2
# `make headers` leaves the uapi headers in usr/include (headers_install would need rsync)
make -s -C "$src" headers >&2
hdr="$src/usr/include"

rm -rf "$out.tmp"
mkdir -p "$out.tmp/selftests"
cp "$src/arch/x86/boot/bzImage" "$out.tmp/bzImage"
cp "$src/.config" "$out.tmp/config"
cp "$hdr/linux/liveupdate.h" "$out.tmp/liveupdate.h"
# The kernel's own selftests, linked statically for the initramfs.
st="$src/tools/testing/selftests/liveupdate"
for t in liveupdate luo_kexec_simple luo_multi_session; do
	gcc -static -O2 -D_GNU_SOURCE= -isystem "$hdr" -I"$src/tools/testing/selftests" -I"$st" \
		-o "$out.tmp/selftests/$t" "$st/$t.c" "$st/luo_test_utils.c" >&2 ||
		log "selftest $t did not build; the VM run will skip it"
done
echo "$pkg $ver" >"$out.tmp/version"
touch "$out.tmp/done"
rm -rf "$out"
mv "$out.tmp" "$out"
[ "${LUO_KERNEL_KEEP:-0}" = 1 ] || rm -rf "$work"
log "kernel cached in $out"
echo "$out"
