#!/bin/sh
# Install what building and the demo need (--demo), or everything the tests
# need too (the default), on Debian 12 (bookworm). Only missing packages are
# installed; nothing happens when all are present.
# Usage: install-deps.sh [--demo]
set -eu

# The demo builds luod, luoctl, libluo and the man pages: a compiler and a few libraries.
DEMO="gcc libc6-dev meson ninja-build pkg-config python3 libfdt-dev libsystemd-dev scdoc"
# The tests add their framework, sanitizers, fuzzing and valgrind, the
# reference-kernel VM (QEMU, busybox, kexec, the kernel's build tools), the
# systemd VM and the Debian package (mmdebstrap, debhelper, lintian), and the
# stock servers they run under luoctl exec.
TESTS="libcmocka-dev device-tree-compiler clang-14 libclang-rt-14-dev valgrind \
qemu-system-x86 busybox-static kexec-tools cpio bc flex bison libelf-dev libssl-dev \
xz-utils make python3-gunicorn haproxy nginx-light strace systemd \
mmdebstrap e2fsprogs debhelper lintian"

case "${1:-}" in
--demo) PACKAGES=$DEMO ;;
"") PACKAGES="$DEMO $TESTS" ;;
*) echo "usage: install-deps.sh [--demo]" >&2; exit 2 ;;
esac

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "luo: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "luo: need root (or sudo) to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
