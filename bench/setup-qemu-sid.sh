#!/bin/sh
# A Debian unstable chroot holding the newest QEMU (11.1 at the time of
# writing: cpr-transfer, cpr-exec), for bench/qemu-cpr.py: QEMU's own CPR
# side by side with luo-qemu. mmdebstrap, minbase, about 100 s and 284 MB;
# cached as $LUO_QEMU_CACHE/sid-root (default /var/cache/luo-qemu), built
# under a lock in a private work directory renamed into place. The mirror's
# sid Release file may have expired (a frozen mirror): validity is not
# checked. Prints the chroot's path; exit 77 when it cannot be had.
set -eu
cache=${LUO_QEMU_CACHE:-/var/cache/luo-qemu}
root=$cache/sid-root
log() { echo "qemu-sid: $*" >&2; }
[ -f "$root.done" ] && { echo "$root"; exit 0; }
command -v mmdebstrap >/dev/null 2>&1 || { log "SKIP: mmdebstrap not found"; exit 77; }
mkdir -p "$cache"
exec 9>"$cache/sid.lock"
flock 9
[ -f "$root.done" ] && { echo "$root"; exit 0; }
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p;s/^deb *\[*[^]]*\]* *\(http[^ ]*debian\)\/* bookworm .*/\1/p' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
work=$(mktemp -d "$cache/sid-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
log "building a sid chroot with qemu-system-x86 (about 100 s, 284 MB)"
mmdebstrap --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' \
	--include=qemu-system-x86 --format=directory sid "$work/root" \
	"${mirror:-http://deb.debian.org/debian}" >&2 || { log "SKIP: mmdebstrap failed"; exit 77; }
rm -rf "$root"
mv "$work/root" "$root"
touch "$root.done"
echo "$root"
