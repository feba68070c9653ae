#!/bin/sh
# The README's first command as a test: the demo's own build (meson's
# default debugoptimized, no tests, as scripts/demo.sh makes it: -O2 finds
# warnings the sanitizer build does not) and the demo run on it. TAP.
# Usage: check-demo.sh SOURCE-DIR BUILD-DIR
set -u
src=$1 build=$2
log=$build.log
echo "1..2"
rm -rf "$build"
if meson setup "$build" "$src" -Dtests=false >"$log" 2>&1 && ninja -C "$build" >>"$log" 2>&1; then
	echo "ok 1 - demo build (debugoptimized, -Dtests=false)"
else
	grep -E "error|warning" "$log" | head -n 20 | sed 's/^/# /'
	echo "not ok 1 - demo build (debugoptimized, -Dtests=false)"
	echo "not ok 2 - demo run # no build"
	exit 1
fi
out=$build/demo.out
if bash "$src/examples/demo/run.sh" "$build" >"$out" 2>&1 &&
	grep -q "^client got: served by the restarted workload" "$out" &&
	[ "$(grep -c "checksum $(awk '/^memfd 64 MiB, checksum/ {print $5; exit}' "$out")" "$out")" -ge 2 ]; then
	echo "ok 2 - demo run: the memfd's checksum intact after luoctl update, the waiting client served"
else
	tail -n 20 "$out" | sed 's/^/# /'
	echo "not ok 2 - demo run"
	exit 1
fi
