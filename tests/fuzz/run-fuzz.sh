#!/bin/sh
# Build the libFuzzer targets with clang in a build directory of their own
# and run each for a bounded time over a copy of its checked-in corpus.
# Prints TAP (one line per target); skips when clang is missing.
# Usage: run-fuzz.sh SOURCE-DIR BUILD-DIR SECONDS TARGET...
# A crash leaves its input in BUILD-DIR/artifacts/; replay it with
#   BUILD-DIR/tests/fuzz/fuzz-TARGET FILE
set -u
src=$1 build=$2 seconds=$3
shift 3

cc=""
for c in clang-14 clang; do
	if command -v "$c" >/dev/null 2>&1; then
		cc=$c
		break
	fi
done
if [ -z "$cc" ]; then
	echo "1..0 # SKIP clang is not installed (scripts/install-deps.sh installs it)"
	exit 0
fi

echo "1..$#"
log=$build.log
if [ ! -f "$build/build.ninja" ]; then
	rm -rf "$build"
	if ! CC=$cc meson setup "$build" "$src" -Dfuzz=true -Dbuildtype=debug -Dwerror=false \
		-Db_sanitize=address,undefined -Db_lundef=false >"$log" 2>&1; then
		sed 's/^/# /' "$log"
		n=1
		for t; do echo "not ok $n - fuzz-$t: meson setup failed"; n=$((n + 1)); done
		exit 1
	fi
fi
targets=""
for t; do targets="$targets tests/fuzz/fuzz-$t"; done
# shellcheck disable=SC2086
if ! ninja -C "$build" -j2 $targets >"$log" 2>&1; then
	tail -n 40 "$log" | sed 's/^/# /'
	n=1
	for t; do echo "not ok $n - fuzz-$t: build failed"; n=$((n + 1)); done
	exit 1
fi

status=0
n=1
mkdir -p "$build/artifacts"
for t; do
	work=$build/corpus-$t
	rm -rf "$work"
	mkdir -p "$work"
	# luod logs every refused input to stderr: -close_fd_mask=2 silences
	# that, while libFuzzer and the sanitizers keep reporting on their own fd
	"$build/tests/fuzz/fuzz-$t" -max_total_time="$seconds" -close_fd_mask=2 \
		-print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
		"$work" "$src/tests/fuzz/corpus/$t" >"$build/fuzz-$t.log" 2>&1
	r=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$t.log")
	if [ $r -eq 0 ]; then
		echo "ok $n - fuzz-$t: ${runs:-?} inputs in ${seconds} s, no failure"
	else
		tail -n 60 "$build/fuzz-$t.log" | sed 's/^/# /'
		echo "not ok $n - fuzz-$t: exit $r, crash input in $build/artifacts/"
		status=1
	fi
	n=$((n + 1))
done
exit $status
