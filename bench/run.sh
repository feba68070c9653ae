#!/bin/sh
# The benchmark suite, one command: builds luod and the benchmark programs
# in build-bench/, builds CRIU (cached outside the repository), runs every
# comparison with its peers in this same run, and writes CSVs, PNG plots and
# bench/results/summary.md.
#
#   bench/run.sh                 the full suite (a few minutes on 2 cores)
#   LUO_BENCH_QUICK=1 bench/run.sh   a smoke run: small sizes and counts
#
# Environment: LUO_BENCH_OUT (results dir, default bench/results),
# LUO_BENCH_BUILD (build dir, default build-bench), LUO_BENCH_CACHE (CRIU
# cache, default /var/cache/luo-bench), LUO_BENCH_NO_CRIU=1 (skip CRIU),
# LUO_BENCH_NO_PERF=1 (skip the profile).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
OUT=${LUO_BENCH_OUT:-$BENCH/results}
BUILD=${LUO_BENCH_BUILD:-$ROOT/build-bench}
QUICK=${LUO_BENCH_QUICK:-0}
START=$(date +%s)

say() { echo "bench: $*" >&2; }

# ---- what it needs, on a fresh Debian 12 ----
"$ROOT/scripts/install-deps.sh"
PKGS="gnuplot-nox s6 libs6-dev skalibs-dev python3 coreutils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
command -v perf >/dev/null 2>&1 || missing="$missing linux-perf"
if [ -n "$missing" ]; then
	say "installing:$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		say "some packages could not be installed:$missing (the peers that need them are skipped)"
fi

mkdir -p "$OUT"
rm -f "$OUT"/*.csv "$OUT"/*.png "$OUT"/*.dat "$OUT"/*.txt "$OUT"/summary.md
: >"$OUT/load.txt"
WORK=$(mktemp -d /tmp/luo-bench.XXXXXX)
CRIU_IMG=""
cleanup() {
	rm -rf "$WORK"
	[ -z "$CRIU_IMG" ] || rm -rf "$CRIU_IMG"
}
trap cleanup EXIT INT TERM

# ---- CRIU in the background: it is the slow part of a first run ----
CRIU_STATUS=$OUT/criu-status.txt
if [ "${LUO_BENCH_NO_CRIU:-0}" = 1 ]; then
	echo "skipped (LUO_BENCH_NO_CRIU=1)" >"$CRIU_STATUS"
	CRIU_PID=""
else
	"$BENCH/setup-criu.sh" >"$WORK/criu.path" 2>"$WORK/criu.err" &
	CRIU_PID=$!
fi

# ---- build ----
if [ -d "$BUILD" ]; then
	meson setup --reconfigure "$BUILD" -Dbuildtype=release >"$WORK/meson.log" 2>&1 ||
		{ cat "$WORK/meson.log" >&2; exit 1; }
else
	meson setup "$BUILD" -Dbuildtype=release >"$WORK/meson.log" 2>&1 ||
		{ cat "$WORK/meson.log" >&2; exit 1; }
fi
ninja -C "$BUILD" daemon/luod tools/luoctl bench/luo-bench-update bench/luo-bench-throughput \
	bench/luo-bench-syscalls bench/luo-bench-call compat/libluo-compat.so >"$WORK/ninja.log" 2>&1 || { tail -n 30 "$WORK/ninja.log" >&2; exit 1; }
LUOD=$BUILD/daemon/luod
LUOCTL=$BUILD/tools/luoctl
B=$BUILD/bench
S6D=$(command -v s6-fdholder-daemon || true)

if [ "$QUICK" = 1 ]; then
	SIZES="1M:2 64M:2"
	COUNTS="1 100 1000"
	UPD_REPS=2
	TP_COUNTS=10,100,1000
	TP_REPS=1
else
	SIZES="1M:5 64M:5 1G:3 4G:2"
	COUNTS="1 100 1000 10000"
	UPD_REPS=5
	TP_COUNTS=1,10,100,1000,10000
	TP_REPS=3
fi

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel: $(uname -r)"
	echo "cpus: $(nproc)"
	echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "luo: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- daemon lib 2>/dev/null || echo ' (daemon/lib modified in the work tree)')"
	echo "s6: $(dpkg-query -W -f='${Version}' s6 2>/dev/null || echo absent)"
	echo "quick: $QUICK"
} >"$OUT/env.txt"

# the machine is shared: its load with every part of the run
load() { echo "$(date -u +%H:%M:%S) $1: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/load.txt"; }

# ---- 4. footprint and 3. throughput (luo, s6-fdholder, UNIX socket, floor) ----
load "throughput and footprint"
say "throughput and footprint (luo, s6-fdholder, unix socket, floor)"
"$B/luo-bench-throughput" --luod "$LUOD" --dir "$WORK/tp" ${S6D:+--s6 "$S6D"} \
	--counts "$TP_COUNTS" --reps "$TP_REPS" >"$WORK/tp.out"
{
	echo "peer,mode,count,rep,store_ms,retrieve_ms,total_ms,fds_per_s"
	sed -n 's/^throughput,//p' "$WORK/tp.out"
} >"$OUT/throughput.csv"
{
	echo "daemon,kind,count,rss_idle_kib,rss_kib,bytes_per_fd"
	sed -n 's/^footprint,//p' "$WORK/tp.out"
} >"$OUT/footprint.csv"
{
	echo "daemon,vmrss_kib,rssanon_kib"
	sed -n 's/^footprint_idle,//p' "$WORK/tp.out"
} >"$OUT/footprint-idle.csv"

# ---- 2. blackout vs number of fds ----
load "blackout vs fds"
say "blackout vs number of fds ($COUNTS; memfds and sockets; the floor alternating)"
hdr=""
for kind in memfd socket; do
	for n in $COUNTS; do
		"$B/luo-bench-update" --luod "$LUOD" --luoctl "$LUOCTL" --dir "$WORK/fds-$kind-$n" \
			--kind "$kind" --count "$n" --reps "$UPD_REPS" --floor $hdr >>"$OUT/blackout-fds.csv"
		hdr=--no-header
	done
done

# ---- 1. blackout vs memfd size, luo and CRIU ----
CRIU=""
if [ -n "$CRIU_PID" ]; then
	say "waiting for the CRIU build"
	if wait "$CRIU_PID"; then
		CRIU=$(cat "$WORK/criu.path")
		echo "ok: $("$CRIU" --version | head -n1) ($CRIU)" >"$CRIU_STATUS"
	else
		{ echo "unavailable: the CRIU build failed:"; cat "$WORK/criu.err"; } >"$CRIU_STATUS"
	fi
fi
if [ -n "$CRIU" ]; then
	# images on tmpfs (CRIU's best case); it needs room for the largest memfd
	need=0
	for s in $SIZES; do
		v=${s%%:*}
		case $v in *G) k=$((${v%G} * 1048576)) ;; *M) k=$((${v%M} * 1024)) ;; *) k=1 ;; esac
		[ "$k" -gt "$need" ] && need=$k
	done
	avail=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
	if [ -n "$avail" ] && [ "$avail" -gt $((need + 1048576)) ]; then
		CRIU_IMG=$(mktemp -d /dev/shm/luo-bench-criu.XXXXXX)
		echo "images: tmpfs (/dev/shm)" >>"$CRIU_STATUS"
	else
		CRIU_IMG=$(mktemp -d /var/tmp/luo-bench-criu.XXXXXX)
		echo "images: disk (/var/tmp; /dev/shm too small)" >>"$CRIU_STATUS"
	fi
fi
load "blackout vs size"
say "blackout vs memfd size (${SIZES}; luo and the floor${CRIU:+ and CRIU})"
hdr=""
for s in $SIZES; do
	size=${s%%:*}
	reps=${s##*:}
	"$B/luo-bench-update" --luod "$LUOD" --luoctl "$LUOCTL" --dir "$WORK/size-$size" \
		--size "$size" --reps "$reps" --floor ${CRIU:+--criu "$CRIU" --criu-dir "$CRIU_IMG"} $hdr \
		>>"$OUT/blackout-size.csv"
	hdr=--no-header
done

# ---- what the system calls on luod's per-fd path cost ----
"$B/luo-bench-syscalls" >"$OUT/syscalls.csv"

# ---- one call on a shared handle: reply on the handle vs a reply channel (issue 22) ----
"$B/luo-bench-call" --luod "$LUOD" --dir "$WORK/call" --compat "$BUILD/compat/libluo-compat.so" \
	>"$OUT/call.csv"

# ---- profile of luod under the batched throughput run ----
PROFILE=$OUT/profile.txt
if [ "${LUO_BENCH_NO_PERF:-0}" != 1 ] && command -v perf >/dev/null 2>&1; then
	say "profiling luod (perf, batched preserve/retrieve of 10,000 fds and one update)"
	{
		echo "## perf stat -e instructions true"
		perf stat -e instructions true 2>&1 | grep -E "instructions" || true
		echo
	} >"$PROFILE"
	if perf record -F 4999 -g -a -o "$WORK/perf.data" -- \
		"$B/luo-bench-throughput" --luod "$LUOD" --dir "$WORK/perf-tp" --counts 10000 \
		--reps 3 --no-footprint --only-luo >"$WORK/perf-tp.out" 2>"$WORK/perf.err" &&
		perf record -F 4999 -g -a -o "$WORK/perf-up.data" -- \
		"$B/luo-bench-update" --luod "$LUOD" --luoctl "$LUOCTL" --dir "$WORK/perf-up" \
		--kind memfd --count 10000 --reps 3 >"$WORK/perf-up.out" 2>>"$WORK/perf.err"; then
		for f in perf perf-up; do
			{
				echo "## $f: luod, self time by symbol (share of luod's samples)"
				perf report -i "$WORK/$f.data" --comm luod --no-children --percentage relative \
					--sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -n 20
				echo
				echo "## $f: luod, time including callees (kernel call chains)"
				perf report -i "$WORK/$f.data" --comm luod --children --percentage relative \
					--sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -n 40
				echo
			} >>"$PROFILE"
		done
	else
		{ echo "perf record failed:"; cat "$WORK/perf.err"; } >>"$PROFILE"
	fi
else
	echo "not profiled (perf missing or LUO_BENCH_NO_PERF=1)" >"$PROFILE"
fi

load "end"
# ---- summary and plots ----
echo "elapsed: $(($(date +%s) - START)) s" >>"$OUT/env.txt"
python3 "$BENCH/summarize.py" "$OUT"
if command -v gnuplot >/dev/null 2>&1; then
	(cd "$OUT" && gnuplot "$BENCH/plots.gp")
else
	say "gnuplot missing: no plots"
fi
say "done in $(($(date +%s) - START)) s: $OUT/summary.md"
