#!/bin/bash
# The live-update demo: a workload keeps a memfd full of data and a listening
# TCP socket in a luo session; luod is replaced by `luoctl update`; the
# restarted workload gets both back, proves the data is intact, and serves a
# client that connected while nobody was accepting.
#
#   examples/demo/run.sh BUILD_DIR
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
LUOD=$build/daemon/luod
LUOCTL=$build/tools/luoctl
WORKLOAD=$build/examples/demo-workload
tmp=$(mktemp -d /tmp/luo-demo.XXXXXX)
export LUO_SOCKET=$tmp/luod.sock
luod_pid=""

cleanup() {
	[ -n "$luod_pid" ] && kill "$luod_pid" 2>/dev/null && wait "$luod_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "start luod in $tmp"
"$LUOD" --state-dir "$tmp/state" 2>"$tmp/luod.log" &
luod_pid=$!
for _ in $(seq 100); do "$LUOCTL" status >/dev/null 2>&1 && break; sleep 0.05; done
"$LUOCTL" status

step "start the workload: 64 MiB of data in a memfd, a listening socket, both preserved"
"$WORKLOAD" start --mib 64 >"$tmp/workload.out" &
workload_pid=$!
for _ in $(seq 200); do grep -q checksum "$tmp/workload.out" && break; sleep 0.05; done
cat "$tmp/workload.out"
port=$(awk '/^port/ {print $2}' "$tmp/workload.out")
"$LUOCTL" sessions
"$LUOCTL" show demo

step "live update: luod hands every session to its successor (luoctl update)"
"$LUOCTL" update
wait "$workload_pid"
tail -n 1 "$tmp/workload.out"

step "a client connects while no process accepts: it waits in the backlog"
exec 3<>"/dev/tcp/127.0.0.1/$port"
echo "hello from a client that connected between the two workloads" >&3

step "luod after the update"
"$LUOCTL" status --json
"$LUOCTL" sessions

step "the restarted workload retrieves its session"
"$WORKLOAD" resume
reply=$(cat <&3)
exec 3<&-
echo "client got: $reply"

step "done"
"$LUOCTL" status --json
echo
echo "luod's log:"
sed 's/^/  /' "$tmp/luod.log"
