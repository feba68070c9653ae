#!/bin/sh
# valgrind memcheck on the end-to-end tests, for CI: a plain (no sanitizer)
# build in BUILD-DIR, then `meson test --setup valgrind` on the e2e suite
# but for the tests listed below. Prints TAP: one line per test, "ok" when
# memcheck found no error and the test passed under it.
# Usage: run-valgrind.sh SOURCE-DIR BUILD-DIR [TEST...]
set -u
src=$1 build=$2
shift 2
if ! command -v valgrind >/dev/null 2>&1; then
	echo "1..0 # SKIP valgrind is not installed (scripts/install-deps.sh installs it)"
	exit 0
fi
# Left out, with the reason: their timing or size does not survive a 20-50x
# slowdown, and what they run is covered by the others.
#   e2e-bigmemfd     1 GiB of memfd contents checked byte by byte
#   e2e-minivmm      a KVM guest run under the emulator under memcheck
#   e2e-systemd      watchdog deadlines in real time
#   e2e-exec         checks /proc/PID/exe, which under valgrind is valgrind
#   e2e-qemu         a Python driver and a TCG guest (QEMU itself under memcheck)
skip="e2e-bigmemfd e2e-minivmm e2e-systemd e2e-exec e2e-qemu"

log=$build.log
if [ ! -f "$build/build.ninja" ]; then
	rm -rf "$build"
	if ! meson setup "$build" "$src" -Dbuildtype=debug >"$log" 2>&1; then
		sed 's/^/# /' "$log"
		echo "1..1"
		echo "not ok 1 - valgrind: meson setup failed"
		exit 1
	fi
fi
if [ $# -eq 0 ]; then
	for t in $(meson test -C "$build" --no-rebuild --list --suite e2e 2>/dev/null | sed 's/.* \/ //'); do
		case " $skip " in *" $t "*) ;; *) set -- "$@" "$t" ;; esac
	done
fi
# only what the chosen tests run: luod, luoctl and their binaries
targets="daemon/luod tools/luoctl examples/demo-workload"
for t; do targets="$targets tests/e2e/test-$t"; done
# shellcheck disable=SC2086
if ! ninja -C "$build" -j2 $targets >"$log" 2>&1; then
	tail -n 40 "$log" | sed 's/^/# /'
	echo "1..1"
	echo "not ok 1 - valgrind: build failed"
	exit 1
fi
echo "1..$#"
n=1 status=0
for t; do
	if meson test -C "$build" --no-rebuild --setup valgrind --num-processes 1 "$t" \
		>"$build/valgrind-$t.out" 2>&1; then
		echo "ok $n - $t under valgrind memcheck: no error"
	else
		grep -h -B2 -A25 "==[0-9]*== [A-Z]" "$build/meson-logs/testlog-valgrind.txt" 2>/dev/null |
			head -n 80 | sed 's/^/# /'
		tail -n 5 "$build/valgrind-$t.out" | sed 's/^/# /'
		echo "not ok $n - $t under valgrind memcheck (log: $build/meson-logs/testlog-valgrind.txt)"
		status=1
	fi
	n=$((n + 1))
done
exit $status
