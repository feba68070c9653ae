#!/bin/bash
# gunicorn, unmodified, keeps its listener across restarts and luod updates.
#
# `luoctl exec` creates the session, binds 127.0.0.1:PORT and runs gunicorn
# with it as LISTEN_FDS (gunicorn's systemd socket activation support). A
# load generator runs the whole time; the server is stopped and the next
# version started with the very same command, twice, and luod is updated
# with `luoctl update` in between. At the end: how many requests were
# answered by each version, and how many failed (the point: none).
#
#   examples/gunicorn/run.sh [BUILD_DIR] [PORT]
#
# Needs Debian's gunicorn for /usr/bin/python3 (apt install python3-gunicorn);
# the load generator is a small python client that counts every answer.
# tests/e2e/test-servers.c (e2e-gunicorn) runs the same scenario as a test.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
port=${2:-8080}
LUOD=$build/daemon/luod
LUOCTL=$build/tools/luoctl
PYTHON=/usr/bin/python3
tmp=$(mktemp -d /tmp/luo-gunicorn.XXXXXX)
export LUO_SOCKET=$tmp/luod.sock
luod_pid="" server_pid="" load_pid=""

if ! "$PYTHON" -c 'import gunicorn' 2>/dev/null; then
	echo "gunicorn is not installed for $PYTHON: apt install python3-gunicorn" >&2
	exit 77
fi

cleanup() {
	for p in $load_pid $server_pid $luod_pid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The same command for every start: --create and --listen matter only the first time.
server() {
	(cd "$here" && APP_VERSION=$1 exec "$LUOCTL" exec --session web --create \
		--listen "tcp:127.0.0.1:$port" -- \
		"$PYTHON" -m gunicorn --workers 2 app:app) >>"$tmp/gunicorn.log" 2>&1 &
	server_pid=$!
}

stop_server() {
	kill -TERM "$server_pid"
	wait "$server_pid" || true
	server_pid=""
}

step "start luod in $tmp"
"$LUOD" --state-dir "$tmp/state" 2>"$tmp/luod.log" &
luod_pid=$!
for _ in $(seq 100); do "$LUOCTL" status >/dev/null 2>&1 && break; sleep 0.05; done

step "gunicorn v1 under luoctl exec on 127.0.0.1:$port"
server 1
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.05; done
curl -s "http://127.0.0.1:$port/" || true
"$LUOCTL" sessions

step "load generator"
"$PYTHON" - "$port" >"$tmp/load.out" <<'PY' &
import collections, signal, socket, sys
def stop(*_):
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, stop)  # a background job of a script ignores SIGINT
port = int(sys.argv[1])
counts, failed = collections.Counter(), 0
try:
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            s.close()
            if not data.startswith(b"HTTP/1.") or b" 200 " not in data.split(b"\r\n")[0]:
                raise OSError("bad answer: %r" % data[:80])
            counts[data.split(b"version ")[1].split(b",")[0].decode()] += 1
        except OSError as e:
            failed += 1
            print("failed:", e, flush=True)
except KeyboardInterrupt:
    pass
print("answered:", dict(sorted(counts.items())), "failed:", failed, flush=True)
PY
load_pid=$!
sleep 2

step "upgrade: stop v1, start v2 with the same command (clients wait in the backlog)"
stop_server
sleep 0.5
server 2
sleep 2

step "live update of luod while v2 serves"
"$LUOCTL" update
sleep 2

step "upgrade: stop v2, update luod while no server runs, start v3"
stop_server
"$LUOCTL" update
server 3
sleep 2

step "result"
kill -TERM "$load_pid"
wait "$load_pid" || true
load_pid=""
cat "$tmp/load.out"
"$LUOCTL" status
stop_server
"$LUOCTL" sessions
grep -q "failed: 0$" "$tmp/load.out"
