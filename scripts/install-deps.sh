#!/bin/sh
# Install what building, testing and the demo need, on Debian 12 (bookworm).
# Only missing packages are installed; nothing happens when all are present.
set -eu

PACKAGES="gcc meson ninja-build pkg-config python3 libfdt-dev device-tree-compiler \
libcmocka-dev scdoc libsystemd-dev clang-14 libclang-rt-14-dev valgrind \
qemu-system-x86 busybox-static kexec-tools cpio bc flex bison libelf-dev libssl-dev \
xz-utils make libc6-dev python3-gunicorn haproxy nginx-light strace systemd \
mmdebstrap e2fsprogs debhelper lintian"

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
