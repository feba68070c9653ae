#!/bin/sh
# Set up, build, and run the live-update demo (README's first command).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh --demo
[ -d build ] || meson setup build -Dtests=false >/dev/null
ninja -C build >/dev/null
exec bash examples/demo/run.sh build
