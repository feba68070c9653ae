#!/bin/sh
# Set up, build under AddressSanitizer and UndefinedBehaviorSanitizer, run
# every test (README's second command). Ends with "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."

# Say up front what this run downloads and builds, and what it reuses.
# $1 a glob: whether anything matches it
cached() {
	for f in $1; do
		[ -e "$f" ] && return 0
	done
	return 1
}
{
	echo "luo check: installs missing Debian packages (scripts/install-deps.sh), builds"
	echo "  luo under ASan+UBSan and runs every test; besides, once per machine:"
	if cached '/var/cache/luo-kernel/*/done'; then
		echo "  - reference LUO kernel: cached in /var/cache/luo-kernel"
	else
		echo "  - reference LUO kernel: downloads Debian sid's linux-source (~165 MB) and"
		echo "    builds it into /var/cache/luo-kernel: 10-25 min on 2 cores"
	fi
	if cached '/var/cache/luo-systemd-vm/*/root.img'; then
		echo "  - systemd VM image: cached in /var/cache/luo-systemd-vm"
	else
		echo "  - systemd VM image: mmdebstrap of Debian 12 (~300 MB from the archive,"
		echo "    800 MB on disk) into /var/cache/luo-systemd-vm: 3-7 min"
	fi
	if cached '/var/cache/luo-qemu/kernel-*'; then
		echo "  - QEMU guest kernel: cached in /var/cache/luo-qemu"
	else
		echo "  - QEMU guest kernel: Debian's linux-image (~70 MB) into /var/cache/luo-qemu"
	fi
	echo "  The build and the tests then take about 12-20 min on 2 cores (13 min measured"
	echo "  here with the caches above warm; the VMs run under TCG)."
} >&2
sh scripts/install-deps.sh
dir=build-asan
if [ ! -d "$dir" ]; then
	meson setup "$dir" -Dbuildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false -Dfault_injection=true >/dev/null
else
	# the fault-injection sweep (tests/e2e/test-faults.c) needs it; cheap when unarmed
	meson configure "$dir" -Dfault_injection=true >/dev/null
fi
ninja -C "$dir" >/dev/null
status=0
meson test -C "$dir" --print-errorlogs --num-processes 1 "$@" || status=$?
python3 tests/summarize.py "$dir/meson-logs/testlog.json" || status=1
exit $status
