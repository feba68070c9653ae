#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The layers of daemon/ (doc/design.md) checked on the built objects: every
symbol a file uses (nm: undefined in its object) is defined in its own
layer or a lower one, the core's state (luo_core) is used in core/ alone, so no call or data reference runs upwards and none
in a circle between layers; server/server.c and server/ops.c use no data
symbol of each other (the ops get what they need as arguments); and every
#include "layer/..." names its own layer or a lower one. Inside a layer
anything else goes.

  scripts/check-layers.py [BUILD_DIR]     (default build-asan)

Exit status 0 when clean; each violation is printed as
  file -> symbol (defined in file): layer A calls layer B above it
"""
import os
import re
import subprocess
import sys

# lowest first; the keeper process (crash/keeper.c, keeper_proto.c) is
# checked apart: it may use crash/keeper_proto, libluo's protocol and
# base/closer.c (closes that may wait, off its loop; it uses nothing) only
LAYERS = ["base", "core", "handlers", "report", "handover", "update", "crash",
          "backend", "server", "main"]
RANK = {name: i for i, name in enumerate(LAYERS)}
KEEPER = {"crash_keeper.c.o", "crash_keeper_proto.c.o", "base_closer.c.o"}

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build-asan")
objdir = os.path.join(build, "daemon", "libluod-core.a.p")
maindir = os.path.join(build, "daemon", "luod.p")


def layer_of(obj):
    return "main" if obj.startswith("main") else obj.split("_", 1)[0]


def nm(path, defined):
    args = ["nm", "-g", "--defined-only" if defined else "--undefined-only", path]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.split()[-1] for line in out.splitlines() if line.strip()]


objs = {}
for d in (objdir, maindir):
    if os.path.isdir(d):
        for f in sorted(os.listdir(d)):
            if f.endswith(".c.o"):
                objs[f] = os.path.join(d, f)
if not objs:
    sys.exit("check-layers: no objects under %s: build first" % objdir)

where = {}
for o, p in objs.items():
    for sym in nm(p, True):
        where[sym] = o

bad = 0
for o, p in objs.items():
    mine = layer_of(o)
    for sym in nm(p, False):
        if sym not in where:
            continue  # libc, libfdt, libsystemd, libluo's protocol
        theirs = layer_of(where[sym])
        if sym == "luo_core" and mine != "core":
            print("%s -> luo_core: the core's state is read through its accessors" % o)
            bad += 1
        elif o in KEEPER and where[sym] not in KEEPER:
            print("%s -> %s (in %s): the keeper process uses luod" % (o, sym, where[sym]))
            bad += 1
        elif RANK[theirs] > RANK[mine]:
            print("%s -> %s (in %s): %s calls %s above it" % (o, sym, where[sym], mine, theirs))
            bad += 1

# The server's loop and its ops share no mutable global: an op is handed
# the connection, its reply and the server (server/server.h)
SERVER_PAIR = ("server_server.c.o", "server_ops.c.o")
for a, b in (SERVER_PAIR, SERVER_PAIR[::-1]):
    if a not in objs or b not in objs:
        continue
    out = subprocess.run(["nm", "-g", "--defined-only", objs[a]], capture_output=True,
                         text=True, check=True).stdout
    data = {line.split()[-1] for line in out.splitlines()
            if len(line.split()) == 3 and line.split()[1] in "BDCGS"}
    for sym in nm(objs[b], False):
        if sym in data:
            print("%s -> %s (data in %s): the loop and the ops share a global" % (b, sym, a))
            bad += 1

inc = re.compile(r'#include "([a-z]+)/')
for dirpath, _, files in os.walk(os.path.join(root, "daemon")):
    for f in files:
        if not f.endswith((".c", ".h")):
            continue
        mine = os.path.relpath(dirpath, os.path.join(root, "daemon"))
        mine = "main" if mine == "." else mine.split(os.sep)[0]
        with open(os.path.join(dirpath, f)) as fh:
            for n, line in enumerate(fh, 1):
                m = inc.match(line)
                if m and m.group(1) in RANK and RANK[m.group(1)] > RANK[mine]:
                    print("%s/%s:%d includes %s/: %s is below it" % (mine, f, n, m.group(1), mine))
                    bad += 1
print("check-layers: %d objects, %s" % (len(objs), "clean" if not bad else "%d violations" % bad))
sys.exit(1 if bad else 0)
