#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Blackout of an unmodified QEMU's upgrade under its running guest, side by
side in one run: luo's handover (examples/qemu/luo-qemu: guest RAM shared
through the luo session, only device state migrated) against QEMU's own
migration to a file (`luo-qemu upgrade --copy-ram`: the same prestarted
successor, but guest RAM written to a file by the old QEMU and read back by
the new one), at several guest RAM sizes, the two methods alternating on the
same guest. The guest (tests/qemu: Debian's kernel, a static /init) fills
all but RESERVE MiB of its RAM with a pattern and keeps checking it; the
run fails when the guest reboots or finds its pattern changed.

Blackout: the old QEMU's STOP event to the new QEMU's RESUME event (QEMU's
own timestamps: the guest's vCPUs stopped -> running again). The machine is
shared: the 1-minute load average is recorded with every sample.

Writes OUT/qemu.csv, OUT/qemu.md and OUT/qemu.png (gnuplot). Environment:
LUOD, LUOCTL (set by bench/qemu.sh), QEMU_BENCH_SIZES (MiB, default
"256 2048 4096"), QEMU_BENCH_REPS (default 3), QEMU_BENCH_COPY_DIR (where
the migration file goes, default /var/tmp), LUO_BENCH_OUT.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "qemu"))
import guestvm  # noqa: E402

TOOL = os.path.join(ROOT, "examples", "qemu", "luo-qemu")
OUT = os.environ.get("LUO_BENCH_OUT", os.path.join(ROOT, "bench", "results"))
SIZES = [int(x) for x in os.environ.get("QEMU_BENCH_SIZES", "256 2048 4096").split()]
REPS = int(os.environ.get("QEMU_BENCH_REPS", "3"))
COPY_DIR = os.environ.get("QEMU_BENCH_COPY_DIR", "/var/tmp")
RESERVE = 384  # MiB of guest RAM left to the guest's kernel (its init is alone: OOM panics)
# luo: the migration stops the guest, the new QEMU starts it (luo-qemu's default);
# luo-stop: QMP stop / migrate / cont (--stop-first); file: RAM copied (--copy-ram)
METHODS = ("luo", "luo-stop", "file")


def say(msg):
    print(f"qemu-bench: {msg}", file=sys.stderr, flush=True)


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def main():
    try:
        qemu = guestvm.qemu_binary()
        vmlinuz = guestvm.kernel()
    except guestvm.Unavailable as e:
        say(f"unavailable: {e}")
        return 77
    work = tempfile.mkdtemp(prefix="luo-qemu-bench.")
    os.makedirs(OUT, exist_ok=True)
    sock = os.path.join(work, "luod.sock")
    env = dict(os.environ, LUO_SOCKET=sock, LUO_QEMU_STATE=os.path.join(work, "vms"),
               LUO_QEMU_LOAD_TIMEOUT="600")
    initrd = guestvm.initrd(work)
    luod_log = open(os.path.join(work, "luod.log"), "w")
    luod = subprocess.Popen([os.environ["LUOD"], "--socket", sock, "--state-dir",
                             os.path.join(work, "state")], stdout=luod_log, stderr=luod_log)
    rows = []
    checks = []
    t0 = time.monotonic()
    try:
        for _ in range(300):
            if subprocess.run([os.environ["LUOCTL"], "--socket", sock, "status"],
                              capture_output=True, env=env).returncode == 0:
                break
            time.sleep(0.05)
        for mib in SIZES:
            run_size(env, work, qemu, vmlinuz, initrd, mib, checks, rows)
    finally:
        if rows:  # what was measured is kept, whatever failed after
            write(rows, checks, time.monotonic() - t0, qemu)
        luod.terminate()
        luod.wait()
        luod_log.close()
    subprocess.run(["rm", "-rf", work])
    return 0 if all(c[1] for c in checks) else 1


def tool(env, *args):
    r = subprocess.run([TOOL, "--json", *args], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"luo-qemu {' '.join(args[:3])}: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def serial_lines(path):
    with open(path, errors="replace") as f:
        return f.read().splitlines()


TICK = re.compile(r"^luo-guest: tick \d+ passes (\d+)")


def last_passes(path):
    for line in reversed(serial_lines(path)):
        m = TICK.match(line)  # the last line may be half written
        if m:
            return int(m.group(1))
    return -1


def run_size(env, work, qemu, vmlinuz, initrd, mib, checks, rows):
    name = f"b{mib}"
    serial = os.path.join(work, f"serial-{mib}.log")
    pattern = max(mib - RESERVE, mib // 2)
    args = guestvm.qemu_args(vmlinuz, initrd, serial, pattern)
    say(f"{mib} MiB guest ({pattern} MiB pattern): booting")
    pid = tool(env, "start", name, "--ram", f"{mib}M", "--qemu", qemu, "--", *args)["qemu_pid"]
    try:
        measure(env, name, serial, mib, pid, checks, rows)
    finally:  # the guest goes whatever happened: nothing of the run outlives it
        subprocess.run([TOOL, "stop", name], capture_output=True, env=env)


def measure(env, name, serial, mib, pid, checks, rows):
    deadline = time.monotonic() + 1200
    while not any(l.startswith("luo-guest: boot") for l in serial_lines(serial)):
        if time.monotonic() > deadline or not os.path.exists(f"/proc/{pid}"):
            raise RuntimeError(f"the {mib} MiB guest did not boot; its console:\n"
                               + "\n".join(serial_lines(serial)[-20:]))
        time.sleep(0.5)
    time.sleep(1)
    copy = os.path.join(COPY_DIR, f"luo-qemu-bench-{os.getpid()}.mig")
    for rep in range(1, REPS + 1):
        for method in METHODS:
            extra = {"luo": [], "luo-stop": ["--stop-first"], "file": ["--copy-ram", copy]}[method]
            load = load1()
            out = tool(env, "upgrade", name, *extra)
            rows.append((method, mib, rep, out["blackout_ms"], out["qmp_ms"],
                         out["prestart_ms"], out["teardown_ms"], load, out["save_ms"],
                         out["load_ms"], out["resume_ms"]))
            say(f"{mib} MiB {method} #{rep}: blackout {out['blackout_ms']:.1f} ms "
                f"(load {load:.1f})")
            time.sleep(1)  # the guest runs a little between upgrades
    # the guest is still the one that booted, its pattern intact and checked since
    before = last_passes(serial)
    deadline = time.monotonic() + 600
    while last_passes(serial) <= before and time.monotonic() < deadline:
        time.sleep(0.5)
    lines = serial_lines(serial)
    boots = sum(l.startswith("luo-guest: boot") for l in lines)
    bad = sum("BAD" in l for l in lines)
    checks.append((f"{mib} MiB: one boot, pattern intact across {len(METHODS) * REPS} upgrades "
                   f"(passes {before} -> {last_passes(serial)})",
                   boots == 1 and bad == 0 and last_passes(serial) > before))


def med(rows, method, mib, col):
    v = [r[col] for r in rows if r[0] == method and r[1] == mib and r[col] is not None]
    return statistics.median(v) if v else float("nan")


def write(rows, checks, elapsed, qemu):
    csv = os.path.join(OUT, "qemu.csv")
    with open(csv, "w") as f:
        f.write("method,ram_mib,rep,blackout_ms,qmp_ms,prestart_ms,teardown_ms,load1,save_ms,"
                "load_ms,resume_ms\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")
    sizes = sorted(m for m in {r[1] for r in rows}
                   if all(any(r[0] == x and r[1] == m for r in rows) for x in METHODS))
    with open(os.path.join(OUT, "qemu.dat"), "w") as f:
        f.write("# ram_mib, then median min max for each of: " + " ".join(METHODS) + "\n")
        for mib in sizes:
            f.write(str(mib))
            for m in METHODS:
                v = [r[3] for r in rows if r[0] == m and r[1] == mib]
                f.write(f" {statistics.median(v)} {min(v)} {max(v)}")
            f.write("\n")
    ver = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    loads = [r[7] for r in rows]
    md = []
    md.append("# QEMU upgraded under its running guest: luo vs QEMU's own migration to a file")
    md.append("")
    md.append(f"Generated by `bench/qemu.sh` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"{os.uname().release}, {os.cpu_count()} CPUs, {ver}, TCG, {REPS} upgrades per "
              f"method and size, the methods alternating on one guest; {elapsed:.0f} s; load "
              f"average {min(loads):.1f}-{max(loads):.1f} during the samples: the machine is "
              f"shared). Blackout: the old QEMU's STOP event -> the new QEMU's RESUME event "
              f"(QEMU's own timestamps). All methods prestart the successor (`-incoming defer`) "
              f"and tear the old QEMU down after the resume.")
    md.append("")
    md.append("| guest RAM | luo ms, median (min-max) | luo, QMP stop/cont ms | file: RAM copied, ms "
              "| file / luo |")
    md.append("|---|---|---|---|---|")
    for mib in sizes:
        lv = sorted(r[3] for r in rows if r[0] == "luo" and r[1] == mib)
        sv = sorted(r[3] for r in rows if r[0] == "luo-stop" and r[1] == mib)
        fv = sorted(r[3] for r in rows if r[0] == "file" and r[1] == mib)
        sz = f"{mib // 1024} GiB" if mib >= 1024 else f"{mib} MiB"
        lm, sm, fm = statistics.median(lv), statistics.median(sv), statistics.median(fv)
        md.append(f"| {sz} | {lm:.1f} ({lv[0]:.1f}-{lv[-1]:.1f}) | {sm:.1f} ({sv[0]:.1f}-{sv[-1]:.1f}) "
                  f"| {fm:.0f} ({fv[0]:.0f}-{fv[-1]:.0f}) | {fm / lm:.0f}x |")
    md.append("")
    md.append("Where luo's blackout goes (medians, ms, QEMU's timestamps): save = guest stopped -> "
              "old QEMU done sending; load = -> new QEMU done loading; resume = -> guest running "
              "(negative: the new QEMU started the guest just before it reported the load done).")
    md.append("")
    md.append("| guest RAM | method | save | load | resume |")
    md.append("|---|---|---|---|---|")
    for mib in sizes:
        sz = f"{mib // 1024} GiB" if mib >= 1024 else f"{mib} MiB"
        for m in ("luo", "luo-stop"):
            md.append(f"| {sz} | {m} | {med(rows, m, mib, 8):.1f} | {med(rows, m, mib, 9):.1f} | "
                      f"{med(rows, m, mib, 10):.1f} |")
    md.append("")
    if len(sizes) > 1:
        a, b = med(rows, "luo", sizes[0], 3), med(rows, "luo", sizes[-1], 3)
        lv = [r[3] for r in rows if r[0] == "luo"]
        md.append(f"luo, median at {sizes[-1]} MiB / median at {sizes[0]} MiB: {b / a:.2f}x (goal: "
                  f"within 1.2x); luo samples {min(lv):.1f}-{max(lv):.1f} ms, "
                  f"{sum(v <= 20 for v in lv)} of {len(lv)} at or under 20 ms (goal: <= 20 ms).")
        md.append("")
    md.append("Successor start (luoctl exec --take-over to QMP ready, outside the blackout), "
              "medians ms: " + ", ".join(f"{m} MiB {med(rows, 'luo', m, 5):.0f}" for m in sizes)
              + "; old QEMU gone after the resume: "
              + ", ".join(f"{m} MiB {med(rows, 'luo', m, 6):.0f}" for m in sizes) + ".")
    md.append("")
    for what, good in checks:
        md.append(f"- {'ok' if good else 'FAILED'}: {what}")
    md.append("")
    with open(os.path.join(OUT, "qemu.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))
    gp = f"""set terminal pngcairo size 900,560 font "DejaVu Sans,11"
set output "{os.path.join(OUT, 'qemu.png')}"
set title "QEMU 7.2 (TCG) upgraded under its guest: blackout vs guest RAM"
set xlabel "guest RAM (MiB)"
set ylabel "blackout, STOP -> RESUME (ms)"
set logscale xy
set yrange [1:*]
set xrange [{sizes[0] / 1.5}:{sizes[-1] * 1.5}]
set grid xtics ytics mytics lc rgb "#dddddd"
set key top left box opaque
set xtics ({", ".join(f'"{m}" {m}' for m in sizes)})
plot "{os.path.join(OUT, 'qemu.dat')}" using 1:2:3:4 with yerrorlines lw 2 pt 7 title "luo: RAM shared, device state only", \\
     "" using 1:5:6:7 with yerrorlines lw 1 pt 6 title "luo, QMP stop / cont around the migration", \\
     "" using 1:8:9:10 with yerrorlines lw 2 pt 5 title "QEMU migration to a file (RAM copied)", \\
     20 with lines dt 2 lc rgb "#888888" title "20 ms"
"""
    try:
        r = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True)
        if r.returncode != 0:
            say(f"no plot: {r.stderr.strip() or 'gnuplot failed'}")
    except FileNotFoundError:
        say("no plot: gnuplot not found (gnuplot-nox)")


if __name__ == "__main__":
    sys.exit(main())
