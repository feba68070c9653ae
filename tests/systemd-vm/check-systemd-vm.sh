#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# luo under a real systemd: boots Debian 12 with systemd 252 as PID 1 under
# QEMU (TCG), installs luo there and runs guest.sh, which checks socket
# activation, a non-root client in group luo, reload = live update, crash
# recovery, the fd store, the watchdog, restart/stop, the journal, the
# syscall filter set to kill, and a `luoctl exec` server restarted under
# load. Prints TAP: its own lines, then the guest's, numbered here.
#
#   check-systemd-vm.sh SOURCE_DIR VM_BUILD_DIR
#
# luo goes in as Debian packages built here with `dpkg-buildpackage -b`
# from a copy of the source (when debhelper is installed), else as the tree
# `meson install --prefix=/usr` gives (built without sanitizers in
# VM_BUILD_DIR). The image comes from build-image.sh (cached under
# /var/cache/luo-systemd-vm; the first run downloads and builds it). Skips
# with the reason when QEMU, mmdebstrap or Debian's archive cannot be had.
# Environment: LUO_SYSTEMD_VM_TIMEOUT (seconds for the VM, default 1200),
# LUO_TEST_KEEP=1 keeps the work directory.
set -u

SRC=$1
VMBUILD=$2
here=$(cd "$(dirname "$0")" && pwd)
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }

command -v qemu-system-x86_64 >/dev/null 2>&1 || skip_all "qemu-system-x86_64 not found (qemu-system-x86)"
command -v mkfs.ext4 >/dev/null 2>&1 || skip_all "mkfs.ext4 not found (e2fsprogs)"

T=$(mktemp -d /tmp/luo-systemd-vm.XXXXXX) || exit 1
cleanup() { [ -n "${LUO_TEST_KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"; }
trap cleanup EXIT

t0=$(date +%s)
img=$(sh "$here/build-image.sh" 2>"$T/image.log")
st=$?
if [ $st -eq 77 ]; then
	echo "1..0 # SKIP $(sed -n 's/^luo-systemd-vm: SKIP: //p' "$T/image.log" | tail -n1)"
	exit 0
fi
if [ $st -ne 0 ] || [ ! -f "$img/done" ]; then
	echo "not ok 1 - the Debian 12 image with systemd (build-image.sh)"
	sed 's/^/# /' "$T/image.log"
	echo "1..1"
	exit 1
fi
ok "the Debian 12 image with systemd: $img ($(tr '\t\n' '  ' <"$img/versions"); $(($(date +%s) - t0)) s)"

# ---- luo for the VM: the .debs, or the meson install tree ----
P=$T/payload
mkdir -p "$P"
t0=$(date +%s)
if command -v dpkg-buildpackage >/dev/null 2>&1 && [ -x /usr/bin/dh ] && [ -d "$SRC/debian" ]; then
	mkdir -p "$T/deb/src" "$P/debs"
	# the source as it is, untracked files included, without build directories
	if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$SRC" ls-files -z -co --exclude-standard | (cd "$SRC" && xargs -0 tar -cf - --no-recursion --) |
			tar -C "$T/deb/src" -xf -
	else
		tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$T/deb/src" -xf -
	fi
	if (cd "$T/deb/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
		dpkg-buildpackage -us -uc -b) >"$T/deb/build.log" 2>&1; then
		cp "$T"/deb/*.deb "$P/debs/"
		rm -f "$P"/debs/*-dbgsym_*.deb
		ok "dpkg-buildpackage -us -uc -b: $(cd "$P/debs" && echo *.deb) ($(($(date +%s) - t0)) s)"
		if command -v lintian >/dev/null 2>&1; then
			lintian "$T"/deb/*.changes >"$T/deb/lintian.log" 2>&1
			if grep -q '^E: ' "$T/deb/lintian.log"; then
				not_ok "lintian: no errors"
				sed 's/^/# /' "$T/deb/lintian.log"
			else
				ok "lintian: no errors ($(grep -c '^W: ' "$T/deb/lintian.log") warnings)"
			fi
		fi
	else
		not_ok "dpkg-buildpackage -us -uc -b"
		tail -n 40 "$T/deb/build.log" | sed 's/^/# /'
		echo "1..$n"
		exit 1
	fi
else
	echo "# no dpkg-buildpackage/debhelper: the meson install tree goes in instead of the .debs"
	if { [ -d "$VMBUILD" ] || meson setup "$VMBUILD" "$SRC" --prefix=/usr -Dbuildtype=release \
		-Dtests=false >"$T/meson.log" 2>&1; } &&
		ninja -C "$VMBUILD" >>"$T/meson.log" 2>&1 &&
		DESTDIR="$T/tree" meson install -C "$VMBUILD" --no-rebuild >>"$T/meson.log" 2>&1; then
		tar -C "$T/tree" -cf "$P/tree.tar" .
		ok "meson install --prefix=/usr into a tree for the VM ($(($(date +%s) - t0)) s)"
	else
		not_ok "meson install --prefix=/usr into a tree for the VM"
		tail -n 40 "$T/meson.log" | sed 's/^/# /'
		echo "1..$n"
		exit 1
	fi
fi
cp "$here/guest.sh" "$P/run.sh"
cp "$here/client.py" "$here/server.py" "$here/load.py" "$P/"
mkfs.ext4 -q -F -L luo-test -d "$P" "$T/payload.img" 64M >/dev/null 2>&1 ||
	{ not_ok "the test disk (mkfs.ext4 -d)"; echo "1..$n"; exit 1; }

# ---- the VM ----
t0=$(date +%s)
: >"$T/tap.log"
timeout "${LUO_SYSTEMD_VM_TIMEOUT:-1200}" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2G \
	-display none -monitor none -no-reboot -nic none \
	-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.show_status=0" \
	-drive file="$img/root.img",format=raw,if=virtio,snapshot=on \
	-drive file="$T/payload.img",format=raw,if=virtio \
	-serial file:"$T/console.log" -serial file:"$T/tap.log" >"$T/qemu.log" 2>&1
st=$?
secs=$(($(date +%s) - t0))

# the guest's lines, numbered here
while IFS= read -r line; do
	line=$(printf '%s' "$line" | tr -d '\r')
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*"# TODO"*) n=$((n + 1)); echo "not ok $n - ${line#not ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	*) echo "# ${line#\# }" ;;
	esac
done <"$T/tap.log"

if grep -q "^luo-vm-hook: run.sh exited 0" "$T/tap.log"; then
	ok "the VM ran every check and powered off ($secs s in QEMU)"
else
	not_ok "the VM ran every check and powered off (qemu exit $st after $secs s)"
	echo "# console, last lines:"
	tail -n 40 "$T/console.log" | tr -d '\r' | sed 's/^/#   /'
	sed 's/^/#   /' "$T/qemu.log"
fi
echo "1..$n"
exit $failed
