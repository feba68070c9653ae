#!/bin/sh
# An unmodified QEMU upgraded under its running guest: luo's handover
# (examples/qemu/luo-qemu) against QEMU's own migration to a file, at
# 256 MiB, 2 GiB and 4 GiB of guest RAM, alternating on one guest per size
# (bench/qemu.py says what is measured and how). Writes qemu.csv, qemu.md
# and qemu.png into bench/results (LUO_BENCH_OUT). Then QEMU's own
# cpr-transfer on the same kind of guest, from Debian unstable's QEMU in a
# chroot (bench/qemu-cpr.py, bench/setup-qemu-sid.sh): qemu-cpr.csv.
#
#   bench/qemu.sh                                  about 15 to 25 minutes
#   QEMU_BENCH_SIZES="256 1024" QEMU_BENCH_REPS=2 bench/qemu.sh
#
# Needs QEMU (qemu-system-x86), gcc with a static libc, gnuplot for the plot,
# and Debian's kernel (tests/qemu/get-kernel.sh, cached in /var/cache/luo-qemu);
# about 2.5x the largest RAM size free in memory and once more on
# QEMU_BENCH_COPY_DIR's disk (default /var/tmp) for the migration file.
# luod and luoctl come from a release build in LUO_BENCH_BUILD (build-bench).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LUO_BENCH_BUILD:-$ROOT/build-bench}
if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" -Dbuildtype=release >/dev/null || { echo "qemu-bench: meson setup failed" >&2; exit 1; }
fi
ninja -C "$BUILD" daemon/luod tools/luoctl >/dev/null || { echo "qemu-bench: build failed" >&2; exit 1; }
export LUOD="$BUILD/daemon/luod" LUOCTL="$BUILD/tools/luoctl"
python3 "$ROOT/bench/qemu.py"
# QEMU's own cpr-transfer on the same guest, from Debian unstable's QEMU in a
# chroot (bench/setup-qemu-sid.sh; QEMU_BENCH_CPR=0 leaves it out)
if [ "${QEMU_BENCH_CPR:-1}" != 0 ]; then
	if sid=$("$ROOT/bench/setup-qemu-sid.sh"); then
		python3 "$ROOT/bench/qemu-cpr.py" "$sid"
	else
		echo "qemu-bench: no sid chroot: cpr-transfer not measured" >&2
	fi
fi
