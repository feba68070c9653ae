#!/bin/sh
# A Linux kernel for the QEMU guest of tests/qemu: Debian's own
# (linux-image-amd64, the package's /boot/vmlinuz-* extracted, nothing
# installed), cached under $LUO_QEMU_CACHE (default /var/cache/luo-qemu) as
#   kernel-<package version>/vmlinuz   and   kernel-<package version>/done
# The download happens once, under a lock (flock), into a private work
# directory renamed into place, so concurrent runs neither collide nor see a
# half-written kernel. A cached kernel is reused without asking the network.
# Falls back to the reference LUO kernel (tests/kernel, /var/cache/luo-kernel)
# when Debian's cannot be had. Prints the kernel's path on stdout; exit 77
# with the reason on stderr when there is none.
set -eu

cache=${LUO_QEMU_CACHE:-/var/cache/luo-qemu}
log() { echo "luo-qemu: $*" >&2; }
skip() { log "SKIP: $*"; exit 77; }

cached() {
	for d in $(ls -d "$cache"/kernel-* 2>/dev/null | sort -V -r); do
		if [ -f "$d/done" ] && [ -s "$d/vmlinuz" ]; then
			echo "$d/vmlinuz"
			return 0
		fi
	done
	return 1
}

fallback() {
	for k in $(ls "${LUO_KERNEL_CACHE:-/var/cache/luo-kernel}"/*/bzImage 2>/dev/null); do
		if [ -f "$(dirname "$k")/done" ]; then
			log "$1; using the reference kernel $k"
			echo "$k"
			exit 0
		fi
	done
	skip "$1 (and no reference kernel under /var/cache/luo-kernel)"
}

cached && exit 0
mkdir -p "$cache" 2>/dev/null || fallback "cannot create $cache"
exec 9>"$cache/lock"
flock 9
cached && exit 0 # another run fetched it while we waited

command -v apt-get >/dev/null 2>&1 || fallback "apt-get not found"
command -v dpkg-deb >/dev/null 2>&1 || fallback "dpkg-deb not found"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
[ -n "$pkg" ] || fallback "apt knows no linux-image-amd64 (apt-get update?)"
ver=$(apt-cache show "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
work=$(mktemp -d "$cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "downloading $pkg $ver (about 70 MB, once)"
(cd "$work" && apt-get -qq download "$pkg" >&2) || fallback "cannot download $pkg"
dpkg-deb --fsys-tarfile "$work"/*.deb | tar -x -C "$work" --wildcards './boot/vmlinuz-*' ||
	fallback "no vmlinuz in $pkg"
mkdir "$work/out"
mv "$work"/boot/vmlinuz-* "$work/out/vmlinuz"
echo "$pkg $ver" >"$work/out/package"
touch "$work/out/done"
rm -rf "$cache/kernel-$ver"
mv "$work/out" "$cache/kernel-$ver"
echo "$cache/kernel-$ver/vmlinuz"
