#!/bin/sh
# Blackout of a VMM upgrade that does not disrupt its guest (examples/minivmm):
# the time from the old VMM stopping its vCPUs to the new VMM's first KVM_RUN,
# for several guest RAM sizes, with luo (guest RAM memfd and vCPU state in a
# frozen luo session) against the naive alternative in the same run (the old
# VMM writes state and guest RAM to a file, the new one reads it back), and
# CRIU where it can run. Writes bench/results/minivmm.csv and
# bench/results/minivmm.md.
#
#   bench/minivmm.sh                      64 MiB, 1 GiB, 4 GiB; 3 upgrades each
#   LUO_BENCH_QUICK=1 bench/minivmm.sh    64 and 256 MiB, 2 upgrades
#
# Environment: LUO_BENCH_OUT (results dir, default bench/results),
# MINIVMM_BUILD (build dir, default build-vmm), MINIVMM_SIZES (MiB list),
# MINIVMM_REPS, MINIVMM_VCPUS (default 2), MINIVMM_METHODS (default
# "luo luo-prestart naive"), LUO_BENCH_CACHE (where CRIU is
# cached, see setup-criu.sh), LUO_BENCH_NO_CRIU=1. Needs /dev/kvm.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${LUO_BENCH_OUT:-$ROOT/bench/results}
BUILD=${MINIVMM_BUILD:-$ROOT/build-vmm}
if [ "${LUO_BENCH_QUICK:-0}" = 1 ]; then
	SIZES=${MINIVMM_SIZES:-64 256}
	REPS=${MINIVMM_REPS:-2}
else
	SIZES=${MINIVMM_SIZES:-64 1024 4096}
	REPS=${MINIVMM_REPS:-3}
fi
VCPUS=${MINIVMM_VCPUS:-2}
METHODS=${MINIVMM_METHODS:-luo luo-prestart naive}

say() { echo "minivmm-bench: $*" >&2; }
die() { say "$*"; exit 1; }

[ -r /dev/kvm ] && [ -w /dev/kvm ] || die "/dev/kvm is not usable here"

if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" >/dev/null || die "meson setup $BUILD failed"
fi
ninja -C "$BUILD" daemon/luod tools/luoctl examples/minivmm/minivmm >/dev/null ||
	die "build failed"
LUOD=$BUILD/daemon/luod
LUOCTL=$BUILD/tools/luoctl
VMM=$BUILD/examples/minivmm/minivmm

mkdir -p "$OUT"
CSV=$OUT/minivmm.csv
MD=$OUT/minivmm.md
WORK=$(mktemp -d /tmp/luo-minivmm-bench.XXXXXX)
IMG=""
LUOD_PID=""
VMM_PID=""
NEXT_PID=""
HOLDER_PID=""
cleanup() {
	for p in $VMM_PID $NEXT_PID $HOLDER_PID $LUOD_PID; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
	[ -z "$IMG" ] || rm -rf "$IMG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export LUO_SOCKET=$WORK/luod.sock
"$LUOD" --socket "$LUO_SOCKET" --state-dir "$WORK/state" 2>"$WORK/luod.log" &
LUOD_PID=$!
i=0
until "$LUOCTL" status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || die "luod did not start (see $WORK/luod.log)"
	sleep 0.05
done

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Start a VMM in the background with its output in $1; waits until it runs.
start_vmm() {
	log=$1
	shift
	: >"$log"
	"$VMM" "$@" >"$log" 2>&1 &
	VMM_PID=$!
	i=0
	until grep -q '^running' "$log"; do
		if ! kill -0 "$VMM_PID" 2>/dev/null; then
			cat "$log" >&2
			die "minivmm $* exited early"
		fi
		i=$((i + 1))
		[ $i -lt 6000 ] || die "minivmm $* did not start"
		sleep 0.01
	done
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$2" | head -n1; }

echo "method,ram_mib,rep,blackout_ms,save_ms,load_ms,create_ms,restore_ms,start_to_first_run_ms" >"$CSV"

# Wait for a line starting with $2 in $1 while process $3 lives.
wait_line() {
	i=0
	until grep -q "^$2" "$1"; do
		kill -0 "$3" 2>/dev/null || { cat "$1" >&2; die "minivmm exited early"; }
		i=$((i + 1))
		[ $i -lt 6000 ] || die "no \"$2\" from minivmm"
		sleep 0.01
	done
}

# One guest per method and size, upgraded REPS times; every upgrade is a sample.
#   luo           the next VMM is started (by this shell) once the old one exited
#   luo-prestart  the next VMM is started first, builds its VM, polls for the session
#   naive         as luo, through a file
run_upgrades() {
	method=$1
	mib=$2
	set -- --mib "$mib" --vcpus "$VCPUS" --quiet --session "bench-$mib"
	[ "$method" = naive ] && set -- "$@" --naive "$WORK/guest-$mib.img"
	start_vmm "$WORK/$method-$mib-0.out" "$@"
	rep=1
	while [ $rep -le "$REPS" ]; do
		sleep 0.3 # the guest runs a little
		old=$WORK/$method-$mib-$((rep - 1)).out
		new=$WORK/$method-$mib-$rep.out
		if [ "$method" = luo-prestart ]; then
			: >"$new"
			"$VMM" "$@" --resume --prestart >"$new" 2>&1 &
			NEXT_PID=$!
			wait_line "$new" prestarted "$NEXT_PID"
		fi
		kill -USR1 "$VMM_PID"
		wait "$VMM_PID" || { cat "$old" >&2; die "$method upgrade $rep at $mib MiB failed"; }
		VMM_PID=""
		if [ "$method" = luo-prestart ]; then
			VMM_PID=$NEXT_PID
			wait_line "$new" running "$VMM_PID"
		else
			start_vmm "$new" "$@" --resume
		fi
		save=$(sed -n 's/.* \([0-9.]*\) ms after the vCPUs stopped.*/\1/p' "$old")
		echo "$method,$mib,$rep,$(awk -v b="$(field blackout_us "$new")" 'BEGIN{printf "%.3f", b/1000}')," \
			"$save,$(awk -v a="$(field load "$new")" -v c="$(field create "$new")" \
			-v r="$(field restore "$new")" -v s="$(field start_to_first_run "$new")" \
			'BEGIN{printf "%.3f,%.3f,%.3f,%.3f", a/1000, c/1000, r/1000, s/1000}')" |
			tr -d ' ' >>"$CSV"
		rep=$((rep + 1))
	done
	kill -TERM "$VMM_PID"
	wait "$VMM_PID" || die "$method guest at $mib MiB did not stop cleanly"
	VMM_PID=""
}

# ---- CRIU ----
CRIU=""
CRIU_NOTE=""
if [ "${LUO_BENCH_NO_CRIU:-0}" = 1 ]; then
	CRIU_NOTE="skipped (LUO_BENCH_NO_CRIU=1)"
else
	for c in ${LUO_BENCH_CACHE:+$LUO_BENCH_CACHE/criu/criu} /var/cache/luo-bench/criu/criu \
		"${XDG_CACHE_HOME:-$HOME/.cache}/luo-bench/criu/criu"; do
		if [ -x "$c" ] && v=$("$c" --version 2>/dev/null | sed -n 's/^Version: //p') &&
			[ "$(printf '%s\n4.1\n' "$v" | sort -V | head -n1)" = 4.1 ]; then
			CRIU=$c
			break
		fi
	done
	[ -n "$CRIU" ] || CRIU_NOTE="unavailable: no criu >= 4.1 under /var/cache/luo-bench or ~/.cache/luo-bench (bench/setup-criu.sh builds one)"
fi
if [ -n "$CRIU" ] && [ "$(id -u)" -ne 0 ]; then
	CRIU_NOTE="unavailable: CRIU needs root"
	CRIU=""
fi

CRIU_VMM=""
if [ -n "$CRIU" ]; then
	IMG=$(mktemp -d /dev/shm/luo-minivmm-criu.XXXXXX)
	# First the real thing: can CRIU checkpoint the running VMM at all?
	mkdir "$IMG/vmm"
	setsid "$VMM" --mib 64 --vcpus "$VCPUS" --quiet --session criu-probe \
		</dev/null >"$WORK/criu-vmm.out" 2>&1 &
	VMM_PID=$!
	i=0
	until grep -q '^running' "$WORK/criu-vmm.out"; do
		i=$((i + 1))
		[ $i -lt 3000 ] || die "minivmm for the CRIU probe did not start"
		sleep 0.01
	done
	if "$CRIU" dump -t "$VMM_PID" -D "$IMG/vmm" --leave-running -o dump.log >/dev/null 2>&1; then
		CRIU_VMM="dumped (unexpected)"
	else
		obj=$(grep -o -m1 'anon_inode:kvm[^)]*' "$IMG/vmm/dump.log" || true)
		if [ -n "$obj" ]; then
			CRIU_VMM="it cannot dump the vCPU's mapping of $obj (\"Collect mappings failed\", \"Dumping FAILED\")"
		else
			CRIU_VMM=$(grep -m1 'Error' "$IMG/vmm/dump.log" || echo "criu dump failed")
		fi
	fi
	kill -TERM "$VMM_PID" 2>/dev/null || true
	wait "$VMM_PID" 2>/dev/null || true
	VMM_PID=""
	rm -rf "$IMG/vmm"
	say "CRIU on the running VMM: $CRIU_VMM"
fi

# The memory half of a VMM under CRIU: a process holding a touched memfd of
# the guest's size, dumped and restored (images on tmpfs, CRIU's best case).
criu_memfd() {
	mib=$1
	dir=$IMG/img-$mib
	mkdir -p "$dir"
	setsid python3 -c '
import os, signal, sys
n = int(sys.argv[1]) << 20
fd = os.memfd_create("guest-ram", 0)
os.ftruncate(fd, n)
chunk = os.urandom(1 << 20)
for off in range(0, n, 1 << 20):
    os.pwrite(fd, chunk, off)
open(sys.argv[2], "w").close()
while True:
    signal.pause()
' "$mib" "$WORK/holder-ready" </dev/null >/dev/null 2>&1 &
	HOLDER_PID=$!
	i=0
	until [ -e "$WORK/holder-ready" ]; do
		i=$((i + 1))
		[ $i -lt 30000 ] || die "CRIU holder did not get ready"
		sleep 0.01
	done
	rm -f "$WORK/holder-ready"
	t0=$(date +%s%N)
	"$CRIU" dump -t "$HOLDER_PID" -D "$dir" -o dump.log >/dev/null 2>&1 ||
		{ kill -9 "$HOLDER_PID"; die "criu dump failed (see $dir/dump.log)"; }
	t1=$(date +%s%N)
	wait "$HOLDER_PID" 2>/dev/null || true
	HOLDER_PID=""
	"$CRIU" restore -D "$dir" -d --pidfile "$dir/pid" -o restore.log >/dev/null 2>&1 ||
		die "criu restore failed (see $dir/restore.log)"
	t2=$(date +%s%N)
	rp=$(cat "$dir/pid")
	kill -9 "$rp" 2>/dev/null || true
	rm -rf "$dir"
	echo "criu-memfd,$mib,1,$(((t2 - t0) / 1000)),$(((t1 - t0) / 1000)),,,$(((t2 - t1) / 1000))," |
		awk -F, -v OFS=, '{ $4 = sprintf("%.3f", $4 / 1000); $5 = sprintf("%.3f", $5 / 1000);
			$8 = sprintf("%.3f", $8 / 1000); print }' >>"$CSV"
}

T0=$(now_ms)
for mib in $SIZES; do
	for method in $METHODS; do
		say "$method: $REPS upgrades of a guest with $mib MiB of RAM"
		run_upgrades "$method" "$mib"
	done
	if [ -n "$CRIU" ]; then
		say "criu: dump + restore of a process holding a $mib MiB memfd"
		criu_memfd "$mib"
	fi
done
ELAPSED=$((($(now_ms) - T0) / 1000))

# ---- the table ----
median() { # method mib column
	awk -F, -v m="$1" -v s="$2" -v c="$3" '$1 == m && $2 == s && $c != "" { print $c }' "$CSV" |
		sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
			else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
{
	echo "# minivmm: blackout of a VMM upgrade, luo vs the naive way"
	echo
	echo "Generated by \`bench/minivmm.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r)," \
		"$(nproc) CPUs, $VCPUS vCPUs per guest, $REPS upgrades per size, medians; ${ELAPSED} s)."
	echo "Blackout: the old VMM stops its vCPUs → the new VMM's first KVM_RUN (CLOCK_MONOTONIC" \
		"carried in the saved state). Both include the old process exiting and the new one" \
		"being started by the same shell."
	echo
	echo "| guest RAM | luo blackout ms | luo, successor prestarted ms | naive (file) ms | naive / luo | CRIU ms (memfd only) |"
	echo "|---|---|---|---|---|---|"
	for mib in $SIZES; do
		l=$(median luo "$mib" 4)
		p=$(median luo-prestart "$mib" 4)
		n=$(median naive "$mib" 4)
		c=$(median criu-memfd "$mib" 4)
		r=$(awk -v l="$l" -v n="$n" 'BEGIN { if (l > 0) printf "%.0fx", n / l }')
		if [ "$mib" -ge 1024 ]; then sz="$((mib / 1024)) GiB"; else sz="$mib MiB"; fi
		echo "| $sz | $l | $p | $n | $r | ${c:-n/a} |"
	done
	first=$(echo $SIZES | awk '{ print $1 }')
	last=$(echo $SIZES | awk '{ print $NF }')
	for m in luo luo-prestart; do
		echo
		awk -v a="$(median $m "$first" 4)" -v b="$(median $m "$last" 4)" -v m="$m" \
			-v f="$first" -v l="$last" 'BEGIN { printf "%s: %s MiB → %s MiB: %.2fx (%+.0f%%)", m, f, l, b / a, (b / a - 1) * 100 }'
		echo
	done
	echo
	echo "Where the time goes (medians, ms): save = old VMM, vCPUs stopped → guest handed over;" \
		"load = new VMM, process start → RAM and state in hand; create = new VM over the RAM;" \
		"restore = vCPU state back in KVM."
	echo
	echo "| guest RAM | method | save | load | create | restore | new VMM start → first KVM_RUN |"
	echo "|---|---|---|---|---|---|---|"
	for mib in $SIZES; do
		for m in luo luo-prestart naive; do
			if [ "$mib" -ge 1024 ]; then sz="$((mib / 1024)) GiB"; else sz="$mib MiB"; fi
			echo "| $sz | $m | $(median $m "$mib" 5) | $(median $m "$mib" 6) | $(median $m "$mib" 7) |" \
				"$(median $m "$mib" 8) | $(median $m "$mib" 9) |"
		done
	done
	echo
	if [ -n "$CRIU" ]; then
		echo "CRIU ($("$CRIU" --version | sed -n 's/^Version: //p'), $CRIU) cannot checkpoint the VMM" \
			"itself: \`criu dump\` of a running minivmm fails: $CRIU_VMM. The CRIU column is" \
			"therefore a lower bound: dump + restore of a process holding only a touched memfd of" \
			"the guest's size (images on tmpfs), without any vCPU state."
	else
		echo "CRIU: $CRIU_NOTE."
	fi
} >"$MD"
cat "$MD"
