#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build (or reuse) the Debian 12 image the systemd VM test boots: a minbase
# rootfs from mmdebstrap with systemd as PID 1, Debian's kernel and initrd,
# and one hook unit that runs the test the host hands in on a second disk.
# The result, in
#   $LUO_SYSTEMD_VM_CACHE/<hash of this script>/{vmlinuz,initrd.img,root.img,done}
# (default /var/cache/luo-systemd-vm), is built once: 4 to 7 minutes and
# about 300 MB from Debian's archive on a fresh machine; later runs reuse it
# without the network. The test boots root.img with snapshot=on (writes go
# to a temporary file), so the cached image is never written.
#
# Safe when several test runs start at once: the build holds an flock on
# $LUO_SYSTEMD_VM_CACHE/lock, works in a private directory and renames the
# finished result into place; a finished cache is read without the lock.
# A new image replaces those of earlier versions of this script.
#
# Prints the image directory on stdout. Exit 77 (skip) when mmdebstrap or
# Debian's archive cannot be had, 1 on a real failure.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${LUO_SYSTEMD_VM_CACHE:-/var/cache/luo-systemd-vm}
key=$(sha256sum <"$here/build-image.sh" | cut -c1-12)
out="$cache/$key"

log() { echo "luo-systemd-vm: $*" >&2; }
skip() { log "SKIP: $*"; exit 77; }

[ -f "$out/done" ] && { echo "$out"; exit 0; }

mkdir -p "$cache" || skip "cannot create $cache"
command -v flock >/dev/null 2>&1 || skip "flock not found (util-linux)"
exec 9>>"$cache/lock" || skip "cannot write $cache/lock"
if ! flock -n 9; then
	log "another run is building the image; waiting for it"
	flock 9
fi
[ -f "$out/done" ] && { echo "$out"; exit 0; }

command -v mmdebstrap >/dev/null 2>&1 || skip "mmdebstrap not found (scripts/install-deps.sh installs it)"
command -v mkfs.ext4 >/dev/null 2>&1 || skip "mkfs.ext4 not found (e2fsprogs)"

# The system's Debian mirror, as tests/kernel/build-kernel.sh finds it.
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p;s/^deb *\[*[^]]*\]* *\(http[^ ]*debian\)\/* bookworm .*/\1/p' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}
python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20).read(1)' \
	"$mirror/dists/bookworm/Release" 2>/dev/null || skip "cannot reach $mirror (bookworm)"

work=$(mktemp -d "$cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

# systemd and what luo needs (libfdt1, libsystemd0), the kernel, and the
# test's tools: python3 (a small HTTP server and its load), procps, iproute2.
log "building a Debian 12 image with systemd from $mirror (first run: 4 to 7 minutes)"
mmdebstrap --variant=minbase --mode=root --format=directory \
	--include=systemd,systemd-sysv,udev,dbus,libfdt1,libsystemd0,python3,procps,iproute2,linux-image-amd64,initramfs-tools,e2fsprogs \
	--aptopt='Acquire::Retries "3"' \
	--customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages' \
	bookworm "$root" "deb $mirror bookworm main" >"$work/mmdebstrap.log" 2>&1 ||
	{ tail -n 30 "$work/mmdebstrap.log" >&2; log "mmdebstrap failed"; exit 1; }

echo luo-vm >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
# nothing periodic that could wake up during a test
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
	systemd-tmpfiles-clean.timer dpkg-db-backup.timer; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done

# The hook: the test's disk (/dev/vdb, ext4) mounted on /mnt/luo, its
# run.sh run as root once the system is up, its output on the second
# serial port (ttyS1), then power off. Without such a disk: nothing.
cat >"$root/usr/local/sbin/luo-vm-hook" <<'HOOK'
#!/bin/sh
mkdir -p /mnt/luo
if mount /dev/vdb /mnt/luo && [ -x /mnt/luo/run.sh ]; then
	/mnt/luo/run.sh >/dev/ttyS1 2>&1
	echo "luo-vm-hook: run.sh exited $?" >/dev/ttyS1
else
	echo "luo-vm-hook: no test disk" >/dev/ttyS1
fi
sync
umount /mnt/luo 2>/dev/null
systemctl --no-block poweroff
HOOK
chmod 755 "$root/usr/local/sbin/luo-vm-hook"
cat >"$root/etc/systemd/system/luo-vm-hook.service" <<'UNIT'
[Unit]
Description=Run the luo test handed in on /dev/vdb
After=multi-user.target
ConditionPathExists=/dev/vdb

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/luo-vm-hook
StandardOutput=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/luo-vm-hook.service \
	"$root/etc/systemd/system/multi-user.target.wants/luo-vm-hook.service"

mkdir "$work/out"
cp "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n1)" "$work/out/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | sort -V | tail -n1)" "$work/out/initrd.img"
size=$(( $(du -sm "$root" | cut -f1) + 768 ))
mkfs.ext4 -q -F -L root -d "$root" "$work/out/root.img" "${size}M" >&2 ||
	{ log "mkfs.ext4 -d failed"; exit 1; }
chroot "$root" dpkg-query -W systemd linux-image-amd64 >"$work/out/versions" 2>/dev/null || true
touch "$work/out/done"
rm -rf "$out"
mv "$work/out" "$out"
# images of other versions of this script go (a QEMU still reading one
# keeps its open file until it ends)
for d in "$cache"/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]; do
	[ "$d" = "$out" ] || [ ! -f "$d/done" ] || rm -rf "$d"
done
exec 9>&- # the image is in place: a waiting run may use it while the rootfs goes
rm -rf "$work"
log "image cached in $out ($(du -sh "$out" | cut -f1) on disk)"
echo "$out"
