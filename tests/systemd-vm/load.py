#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""load.py PORT STOPFILE: HTTP GETs, one connection each, back to back from
4 threads, until STOPFILE exists (at most 600 s); prints "requests N failed
F servers S" (S: distinct pids that answered)."""
import os
import socket
import sys
import threading
import time

port, stopfile = int(sys.argv[1]), sys.argv[2]
end = time.monotonic() + 600
lock = threading.Lock()
count = {"requests": 0, "failed": 0}
servers = set()
errors = []


def worker():
    while time.monotonic() < end and not os.path.exists(stopfile):
        ok = False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while True:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            ok = data.startswith(b"HTTP/1.0 200 ")
            who = data.rsplit(b" ", 1)[-1].strip()
        except OSError as e:
            errors.append(str(e))
        with lock:
            count["requests"] += 1
            if ok:
                servers.add(who)
            else:
                count["failed"] += 1


threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"requests {count['requests']} failed {count['failed']} servers {len(servers)}")
for e in errors[:5]:
    print(f"# error: {e}")
