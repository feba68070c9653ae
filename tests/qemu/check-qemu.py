#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""An unmodified QEMU keeps its guest across its own upgrades (TAP on stdout).

A real luod; Debian's QEMU under TCG; a small Linux guest (Debian's kernel,
tests/qemu/get-kernel.sh, and guest.c as /init) that fills 64 MiB of its
RAM with a pattern from a seed chosen at boot and prints a tick counter and
its passes over the pattern on the serial console. examples/qemu/luo-qemu
starts it with its RAM in a luo session and upgrades it: to the same QEMU,
after `luoctl update`s of luod (one while luod holds the guest RAM alone, one while
a QEMU's luoctl exec holds it, one while both QEMUs run), to another QEMU binary with another
configuration, through a failed start and a failed load (both roll back:
the old QEMU resumes), and twice more, the last time with --stop-first. Throughout: one boot, ticks
consecutive, the whole pattern intact and checked again under every new
QEMU, the old QEMU gone after every upgrade, the session held.

Skips (TAP "1..0 # SKIP") when QEMU, a static libc or a kernel cannot be
had. About 40 s on an idle machine (one guest boot under TCG, then seconds
per upgrade); the first run downloads Debian's kernel package once (about
70 MB) into /var/cache/luo-qemu. Environment: LUOD, LUOCTL, LUO_QEMU (the
tool); LUO_QEMU_BINARY (default: qemu-system-x86_64 on PATH); LUO_QEMU_CACHE;
LUO_QEMU_KEEP=1 keeps the work directory.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import guestvm  # noqa: E402

BOOT_TIMEOUT = 300
PATTERN_MIB = 64
TICK = re.compile(r"^luo-guest: tick (\d+) passes (\d+)( BAD)?$")

n_test = 0
failed = 0


def ok(cond, what, detail=""):
    global n_test, failed
    n_test += 1
    print(f"{'ok' if cond else 'not ok'} {n_test} - {what}", flush=True)
    if not cond:
        failed += 1
        for line in str(detail).splitlines():
            print(f"# {line}", flush=True)
    return cond


def bail(why):
    print(f"Bail out! {why}", flush=True)
    sys.exit(1)


def gone(pid):
    """No such process, or only a zombie nobody reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class Guest:
    def __init__(self, serial):
        self.serial = serial

    def lines(self):
        try:
            with open(self.serial, errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def ticks(self):
        return [(int(m.group(1)), int(m.group(2)), bool(m.group(3)))
                for m in map(TICK.match, self.lines()) if m]

    def last(self):
        t = self.ticks()
        return t[-1] if t else (0, 0, False)

    def wait(self, cond, what, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(0.1)
        return False

    def check(self, label):
        """The whole log: one boot, ticks 1, 2, 3, ... without a gap, never BAD."""
        lines = self.lines()
        boots = [l for l in lines if l.startswith("luo-guest: boot")]
        ticks = self.ticks()
        nums = [t[0] for t in ticks]
        gaps = [(a, b) for a, b in zip(nums, nums[1:]) if b != a + 1]
        bad = [l for l in lines if "BAD" in l]
        ok(len(boots) == 1, f"{label}: one boot of the guest", "\n".join(boots))
        ok(nums and nums[0] == 1 and not gaps, f"{label}: ticks consecutive (1..{nums[-1] if nums else 0})",
           f"gaps: {gaps[:5]}")
        ok(not bad, f"{label}: pattern intact", "\n".join(bad[:5]))


def main():
    if os.environ.get("LUO_UNDER_VALGRIND") == "1":
        print("1..0 # SKIP a TCG guest does not survive memcheck's slowdown", flush=True)
        return 0
    for var in ("LUOD", "LUOCTL", "LUO_QEMU"):
        if not os.environ.get(var):
            bail(f"${var} is not set (run through meson test)")
    try:
        qemu = guestvm.qemu_binary()
        vmlinuz = guestvm.kernel()
    except guestvm.Unavailable as e:
        print(f"1..0 # SKIP {e}", flush=True)
        return 0
    work = tempfile.mkdtemp(prefix="luo-qemu-test.")
    try:
        try:
            initrd = guestvm.initrd(work)
        except guestvm.Unavailable as e:
            print(f"1..0 # SKIP {e}", flush=True)
            return 0
        return run(work, qemu, vmlinuz, initrd)
    finally:
        if os.environ.get("LUO_QEMU_KEEP") == "1":
            print(f"# kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(work, qemu, vmlinuz, initrd):
    sock = os.path.join(work, "luod.sock")
    env = dict(os.environ, LUO_SOCKET=sock, LUO_QEMU_STATE=os.path.join(work, "vms"))
    luod_log = open(os.path.join(work, "luod.log"), "w")
    luod = subprocess.Popen([os.environ["LUOD"], "--socket", sock, "--state-dir",
                             os.path.join(work, "state")], stdout=luod_log, stderr=luod_log,
                            env=env)
    serial = os.path.join(work, "serial.log")
    guest = Guest(serial)
    base = guestvm.qemu_args(vmlinuz, initrd, serial, PATTERN_MIB)

    def luoctl(*args):
        return subprocess.run([os.environ["LUOCTL"], *args], capture_output=True, text=True,
                              env=env)

    def tool(*args, hook=None):
        e = dict(env, LUO_QEMU_BEFORE_BLACKOUT=hook) if hook else env
        r = subprocess.run([os.environ["LUO_QEMU"], "--json", *args], capture_output=True,
                           text=True, env=e)
        out = None
        if r.returncode == 0 and r.stdout.strip():
            out = json.loads(r.stdout.strip().splitlines()[-1])
        return r.returncode, out, r.stderr

    def session():
        r = luoctl("show", "qemu-vm", "--json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    try:
        deadline = time.monotonic() + 30
        while luoctl("status").returncode != 0:
            if time.monotonic() > deadline or luod.poll() is not None:
                bail("luod did not start")
            time.sleep(0.05)

        rc, out, err = tool("start", "vm", "--ram", "256M", "--qemu", qemu, "--", *base)
        ok(rc == 0, "luo-qemu start", err)
        if rc != 0:
            bail("the guest did not start")
        pid = out["qemu_pid"]
        s = session()
        ok(s is not None and s["files"] == 1 and s["file_list"][0]["handler"] == "memfd"
           and s["file_list"][0]["size"] == 256 << 20,
           "guest RAM (a 256 MiB memfd) is in luo session qemu-vm", s)
        booted = guest.wait(lambda: guest.last()[1] >= 1, "boot", BOOT_TIMEOUT)
        ok(booted, "the guest booted and checked its pattern once",
           "\n".join(guest.lines()[-10:]))
        if not booted:
            bail("no guest")

        def upgrade(label, *args, binary=None, flags=(), hook=None):
            """One upgrade that must work; then the new QEMU checks the whole pattern."""
            nonlocal pid
            before = guest.last()
            extra = (["--qemu", binary] if binary else []) + list(flags)
            rc, out, err = tool("upgrade", "vm", *extra, *(["--", *args] if args else []),
                                hook=hook)
            if not ok(rc == 0, f"{label}: luo-qemu upgrade", err):
                return None
            ok(out["old_pid"] == pid and out["qemu_pid"] != pid and gone(pid),
               f"{label}: a new QEMU (pid {out['qemu_pid']}), the old one ({pid}) gone", out)
            pid = out["qemu_pid"]
            # the guest runs on in the new QEMU: ticks, and a whole pass over the pattern
            cont = guest.wait(lambda: guest.last()[1] >= before[1] + 2, "passes", 120)
            ok(cont and guest.last()[0] > before[0],
               f"{label}: the guest runs on (tick {before[0]} -> {guest.last()[0]}), the whole "
               f"pattern checked again", "\n".join(guest.lines()[-5:]))
            print(f"# {label}: blackout {out['blackout_ms']} ms (STOP -> RESUME), successor ready "
                  f"in {out['prestart_ms']} ms", flush=True)
            return out

        def held():
            return guest.wait(lambda: (session() or {}).get("attached") is True, "held", 30)

        # luod updated while it holds the guest RAM on its own (frozen, nobody attached)
        gen0 = json.loads(luoctl("status", "--json").stdout)["generation"]
        r = luoctl("update")
        ok(r.returncode == 0 and (session() or {}).get("incoming") is True,
           "luoctl update while luod holds the guest RAM: the session comes back incoming",
           r.stderr + str(session()))
        upgrade("upgrade 1 (same QEMU)")
        ok(held(), "upgrade 1: the new QEMU's luoctl exec holds the session", session())

        gen = json.loads(luoctl("status", "--json").stdout)["generation"]
        r = luoctl("update")
        ok(r.returncode == 0, "luoctl update while the guest runs", r.stderr)
        ok(held(), "after luoctl update: luoctl exec took the session back from luod's successor",
           session())
        st = luoctl("status", "--json")
        ok(st.returncode == 0 and json.loads(st.stdout)["generation"] == gen + 1,
           "luod is its successor (generation + 1)", st.stdout)

        # another binary, another configuration
        # a copy in a tree of its own: QEMU finds its modules and firmware relative to itself
        os.makedirs(os.path.join(work, "v2", "bin"))
        qemu2 = os.path.join(work, "v2", "bin", os.path.basename(qemu))
        shutil.copy2(qemu, qemu2)
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(qemu)))
        for d in ("lib", "share"):
            os.symlink(os.path.join(prefix, d), os.path.join(work, "v2", d))
        v2 = [*base, "-name", "luo-v2", "-device", "virtio-rng-pci"]
        out = upgrade("upgrade 2 (another binary, another configuration)", *v2, binary=qemu2)
        exe = os.readlink(f"/proc/{pid}/exe") if out else ""
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
        ok(exe == qemu2 and b"luo-v2" in cmdline and b"virtio-rng-pci" in cmdline,
           "upgrade 2: the guest runs in the new binary with the new configuration",
           f"{exe} {cmdline[:3]}")

        # a new QEMU that does not start: refused, the old one never stopped
        before = guest.last()
        rc, out, err = tool("upgrade", "vm", "--qemu", os.path.join(work, "no-such-qemu"))
        ok(rc == 1 and "did not start" in err and "rolled back" in err,
           "a QEMU that cannot start: exit 1, said so, rolled back", err)
        ok(not gone(pid), "the old QEMU still runs the guest")
        ok(guest.wait(lambda: guest.last()[0] > before[0] + 5, "ticks", 60),
           "and the guest ticks on", guest.lines()[-3:])
        s = session()
        ok(s is not None and s["files"] == 1, "guest RAM still in the session", s)

        # a new QEMU whose configuration cannot load the guest: the old one resumes
        before = guest.last()
        rc, out, err = tool("upgrade", "vm", "--qemu", qemu2, "--", *base)
        ok(rc == 1 and "did not take the guest" in err and "rolled back" in err and
           "resumed" in err, "a QEMU that cannot load the guest: exit 1, rolled back, resumed",
           err)
        ok("Unknown savevm section" in err or "load of migration failed" in err,
           "the error shows the new QEMU's own reason", err)
        ok(not gone(pid), "the old QEMU still runs the guest")
        ok(guest.wait(lambda: guest.last()[1] >= before[1] + 2, "passes", 120),
           "and the guest runs on with its pattern intact", guest.lines()[-3:])
        st = subprocess.run([os.environ["LUO_QEMU"], "status", "vm"], capture_output=True,
                            text=True, env=env)
        ok(st.returncode == 0 and f"pid {pid}" in st.stdout and "running" in st.stdout,
           "luo-qemu status: the old QEMU, running", st.stdout + st.stderr)

        # and onwards: the session comes from luod this time (the failed ones left it there)
        upgrade("upgrade 3 (after two rollbacks, luod updated while both QEMUs run)", *v2,
                binary=qemu2, hook=f"{os.environ['LUOCTL']} update >/dev/null")
        st = luoctl("status", "--json")
        ok(st.returncode == 0 and json.loads(st.stdout)["generation"] == gen0 + 3,
           "three luod updates in all", st.stdout)
        upgrade("upgrade 4 (--stop-first: QMP stop, migrate, cont)", *v2, flags=["--stop-first"])
        ok(held(), "upgrade 4: the new QEMU's luoctl exec holds the session", session())

        guest.check("across 4 upgrades, 2 rollbacks and 3 luod updates")
        rc, out, err = tool("stop", "vm")
        ok(rc == 0 and gone(pid) and out["ram_released"] and session() is None,
           "luo-qemu stop: QEMU gone, the guest RAM released from luod", err + str(session()))
        ok(luod.poll() is None, "luod still runs")
        print(f"# serial log: {len(guest.lines())} lines, last: {guest.lines()[-1]}", flush=True)
        print(f"1..{n_test}", flush=True)
        return 1 if failed else 0
    finally:
        # nothing of ours may outlive the test
        for line in subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True,
                                   text=True).stdout.splitlines():
            p, _, args = line.strip().partition(" ")
            if work in args and int(p) != os.getpid():
                try:
                    os.kill(int(p), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        luod.terminate()
        try:
            luod.wait(30)
        except subprocess.TimeoutExpired:
            luod.kill()
        luod_log.close()


if __name__ == "__main__":
    sys.exit(main())
