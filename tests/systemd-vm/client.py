#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A libluo client for the VM test, through ctypes on the installed
libluo.so.1 (no compiler in the VM). No socket path: libluo's default.

  client.py put NAME TOKEN TEXT      a memfd holding TEXT, frozen: it outlives us
  client.py close NAME TOKEN TEXT    the same, closed unfrozen: released
  client.py get NAME TOKEN [finish]  retrieve, print the memfd's text
"""
import ctypes
import os
import sys

lib = ctypes.CDLL("libluo.so.1", use_errno=True)
lib.luo_open.argtypes = [ctypes.c_char_p]
lib.luo_create_session.argtypes = [ctypes.c_int, ctypes.c_char_p]
lib.luo_retrieve_session.argtypes = [ctypes.c_int, ctypes.c_char_p]
lib.luo_session_preserve_fd.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64]
lib.luo_session_retrieve_fd.argtypes = [ctypes.c_int, ctypes.c_uint64]
lib.luo_session_set_event.argtypes = [ctypes.c_int, ctypes.c_int]
lib.luo_session_finish.argtypes = [ctypes.c_int]
LUO_EVENT_FREEZE = 1


def call(what, r):
    if r < 0:
        print(f"client.py: {what}: {os.strerror(-r)}", file=sys.stderr)
        sys.exit(1)
    return r


cmd, name, token = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
dev = call("luo_open", lib.luo_open(None))
if cmd in ("put", "close"):
    s = call("luo_create_session", lib.luo_create_session(dev, name))
    fd = os.memfd_create("luo-vm")
    os.write(fd, sys.argv[4].encode())
    call("luo_session_preserve_fd", lib.luo_session_preserve_fd(s, fd, token))
    if cmd == "put":
        call("luo_session_set_event", lib.luo_session_set_event(s, LUO_EVENT_FREEZE))
    os.close(s)
elif cmd == "get":
    s = call("luo_retrieve_session", lib.luo_retrieve_session(dev, name))
    fd = call("luo_session_retrieve_fd", lib.luo_session_retrieve_fd(s, token))
    os.lseek(fd, 0, os.SEEK_SET)
    print(os.read(fd, 4096).decode())
    if sys.argv[4:] == ["finish"]:
        call("luo_session_finish", lib.luo_session_finish(s))
    os.close(s)
else:
    sys.exit(f"client.py: unknown command {cmd}")
