#!/bin/sh
# Set up, build under AddressSanitizer and UndefinedBehaviorSanitizer, run
# every test (README's second command). Ends with "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."
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
