#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""QEMU's own cpr-transfer (QEMU >= 10.0, here Debian unstable's, from a sid
chroot) upgrading the same guest as bench/qemu.py, for comparison with
luo-qemu. The guest RAM is a memfd (memory-backend-memfd,share=on,
-machine aux-ram-share=on) that the old QEMU passes to the new one over the
cpr channel; the new QEMU is started first (-incoming main + cpr channels),
can finish creating its devices only once it has the memory, and loads the
device state. Blackout as in bench/qemu.py: old STOP event -> new RESUME.

    bench/qemu-cpr.py SID_ROOT          (a directory holding a sid chroot
                                         with qemu-system-x86; root needed)

Environment: QEMU_BENCH_SIZES (MiB, default "256 2048 4096"),
QEMU_BENCH_REPS (3), LUO_BENCH_OUT. Writes OUT/qemu-cpr.csv and prints a
table. Each QEMU runs as `unshare -m` + chroot with /proc, /dev and the work
directory bound in; nothing is left mounted.
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "qemu"))
import guestvm  # noqa: E402

OUT = os.environ.get("LUO_BENCH_OUT", os.path.join(ROOT, "bench", "results"))
SIZES = [int(x) for x in os.environ.get("QEMU_BENCH_SIZES", "256 2048 4096").split()]
REPS = int(os.environ.get("QEMU_BENCH_REPS", "3"))
RESERVE = 384


def say(msg):
    print(f"qemu-cpr: {msg}", file=sys.stderr, flush=True)


class QMP:
    def __init__(self, path, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            self.s = socket.socket(socket.AF_UNIX)
            try:
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no QMP at {path}")
                time.sleep(0.001)
        self.buf = b""
        self.events = []
        self.lock = threading.Lock()
        self.read()
        self.cmd("qmp_capabilities")

    def read(self):
        while b"\n" not in self.buf:
            c = self.s.recv(65536)
            if not c:
                raise RuntimeError("QMP closed")
            self.buf += c
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        m = {"execute": name}
        if args:
            m["arguments"] = args
        self.s.sendall(json.dumps(m).encode() + b"\n")
        while True:
            r = self.read()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError(f"{name}: {r['error']['desc']}")
            return r["return"]

    def event(self, name, pred=lambda d: True, timeout=600):
        self.s.settimeout(timeout)
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name and pred(e.get("data", {})):
                    return self.events.pop(i)
            r = self.read()
            if "event" in r:
                self.events.append(r)


def ts(e):
    return (e["timestamp"]["seconds"] * 1000000 + e["timestamp"]["microseconds"]) / 1000.0


def chrooted(sid, work, argv, log):
    """argv run by the chroot's QEMU, in a mount namespace of its own."""
    script = ("set -e; for d in proc dev; do mount --rbind /$d \"$1/$d\"; done; "
              "mkdir -p \"$1$2\"; mount --bind \"$2\" \"$1$2\"; r=$1; shift 2; "
              "exec chroot \"$r\" \"$@\"")
    out = open(log, "ab")
    return subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                             "sh", sid, work, *argv], stdout=out, stderr=out,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def main():
    sid = sys.argv[1]
    vmlinuz = guestvm.kernel()
    work = tempfile.mkdtemp(prefix="luo-qemu-cpr.")
    initrd = guestvm.initrd(work)
    subprocess.run(["cp", vmlinuz, os.path.join(work, "vmlinuz")], check=True)
    vmlinuz = os.path.join(work, "vmlinuz")  # inside the chroot too (bound)
    ver = subprocess.run(["chroot", sid, "qemu-system-x86_64", "--version"], capture_output=True,
                         text=True).stdout.split("\n")[0]
    say(ver)
    rows = []
    for mib in SIZES:
        serial = os.path.join(work, f"serial-{mib}.log")
        pattern = max(mib - RESERVE, mib // 2)
        base = guestvm.qemu_args(vmlinuz, initrd, serial, pattern)
        base += ["-object", f"memory-backend-memfd,id=ram0,size={mib}M,share=on",
                 "-machine", "memory-backend=ram0,aux-ram-share=on", "-m", f"{mib}M"]
        gen = 0
        qmp = os.path.join(work, f"qmp-{mib}-{gen}.sock")
        procs = [chrooted(sid, work, ["qemu-system-x86_64", *base, "-qmp",
                                      f"unix:{qmp},server=on,wait=off"],
                          os.path.join(work, "qemu.log"))]
        old = QMP(qmp)
        say(f"{mib} MiB: booting")
        deadline = time.monotonic() + 1200
        while not os.path.exists(serial) or "luo-guest: boot" not in open(serial).read():
            if time.monotonic() > deadline or procs[-1].poll() is not None:
                raise RuntimeError(f"no boot at {mib} MiB")
            time.sleep(0.5)
        time.sleep(1)
        for rep in range(1, REPS + 1):
            gen += 1
            qmp = os.path.join(work, f"qmp-{mib}-{gen}.sock")
            main_s = os.path.join(work, f"main-{mib}-{gen}.sock")
            cpr_s = os.path.join(work, f"cpr-{mib}-{gen}.sock")
            ch = lambda t, p: {"channel-type": t, "addr": {"transport": "socket", "type": "unix",
                                                            "path": p}}
            procs.append(chrooted(sid, work, [
                "qemu-system-x86_64", *base, "-qmp", f"unix:{qmp},server=on,wait=off",
                "-incoming", json.dumps(ch("main", main_s)),
                "-incoming", json.dumps(ch("cpr", cpr_s))], os.path.join(work, "qemu.log")))
            while not os.path.exists(cpr_s):
                if procs[-1].poll() is not None:
                    raise RuntimeError("the new QEMU died: see qemu.log in " + work)
                time.sleep(0.005)
            holder = {}
            t = threading.Thread(target=lambda: holder.update(q=QMP(qmp)))
            t.start()  # the new QEMU's monitor comes up only once it has the cpr state
            old.cmd("migrate-set-parameters", mode="cpr-transfer")
            old.cmd("migrate-set-capabilities",
                    capabilities=[{"capability": "events", "state": True}])
            old.cmd("migrate", channels=[ch("main", main_s), ch("cpr", cpr_s)])
            t.join(120)
            new = holder["q"]
            stop = ts(old.event("STOP"))
            resume = ts(new.event("RESUME"))
            load = os.getloadavg()[0]
            rows.append(("cpr-transfer", mib, rep, resume - stop, load))
            say(f"{mib} MiB cpr-transfer #{rep}: blackout {resume - stop:.1f} ms (load {load:.1f})")
            old.event("MIGRATION", lambda d: d.get("status") == "completed")
            try:
                old.cmd("quit")
            except RuntimeError:
                pass
            procs[-2].wait(60)
            old = new
            time.sleep(1)
        lines = open(serial).read().splitlines()
        say(f"{mib} MiB: {sum(l.startswith('luo-guest: boot') for l in lines)} boot(s), "
            f"{sum('BAD' in l for l in lines)} BAD lines")
        old.cmd("quit")
        procs[-1].wait(60)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "qemu-cpr.csv"), "w") as f:
        f.write(f"# {ver}\nmethod,ram_mib,rep,blackout_ms,load1\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")
    print(f"| guest RAM | cpr-transfer ({ver.split('version ')[-1]}) ms, median (min-max) |")
    print("|---|---|")
    for mib in SIZES:
        v = sorted(r[3] for r in rows if r[1] == mib)
        print(f"| {mib} MiB | {statistics.median(v):.1f} ({v[0]:.1f}-{v[-1]:.1f}) |")
    subprocess.run(["rm", "-rf", work])
    return 0


if __name__ == "__main__":
    sys.exit(main())
