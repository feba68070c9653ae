#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""An HTTP server on the listening socket in fd 3 (luoctl exec passes it,
LISTEN_FDS=1). On SIGTERM it answers the request in hand and exits; what
has queued meanwhile stays in the backlog of the socket luod holds, for
the next server."""
import os
import signal
import socket

stop = False


def on_term(signum, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
assert os.environ.get("LISTEN_FDS") == "1", "expected one listening socket in fd 3"
lsock = socket.socket(fileno=3)
lsock.settimeout(0.2)
body = f"served by {os.getpid()}\n".encode()
while not stop:
    try:
        conn, _ = lsock.accept()
    except (socket.timeout, InterruptedError):
        continue
    with conn:
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
lsock.detach()
