#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
luod.service's SystemCallFilter= against what luod really calls.

systemd is not PID 1 on the machines that test luo, so the unit's seccomp
filter never runs here; a syscall added to luod outside it would pass every
other test and kill luod (EPERM) only under systemd. This runs end-to-end
test binaries under `strace -f`, takes every syscall made by a luod process
(from its execve on: the fresh start, each re-exec of an update, the
keeper), expands the filter's groups with `systemd-analyze syscall-filter`,
and fails on any syscall the filter would refuse. Prints TAP.

usage: check-syscalls.py UNIT_FILE LUOD TEST_BINARY...
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile


def tap_skip_all(why):
    print(f"1..0 # SKIP {why}")
    sys.exit(0)


def filter_groups(unit):
    """The allow-list of SystemCallFilter= lines (a ~deny-list is not used by luod.service)."""
    names = []
    with open(unit) as f:
        for line in f:
            m = re.match(r"\s*SystemCallFilter\s*=\s*(.*)", line)
            if m:
                value = m.group(1).split("#")[0].strip()
                if value.startswith("~"):
                    raise SystemExit(f"Bail out! deny-list filter not handled: {line.strip()}")
                names += value.split()
    return names


def expand(names):
    """Every syscall the groups and names allow, groups expanded recursively."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                         check=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = line.split()[0]
            groups[cur] = []
        elif cur and line.strip() and not line.strip().startswith("#"):
            groups[cur].append(line.strip())
    allowed, todo, seen = set(), list(names), set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        if n.startswith("@"):
            if n not in groups:
                raise SystemExit(f"Bail out! unknown syscall group {n}")
            todo += groups[n]
        else:
            allowed.add(n)
    return allowed


def luod_syscalls(trace_dir, prefix_names, luod):
    """
    syscall -> one trace file that shows it, for processes that exec'd luod
    (from that execve on) and everything they forked (whole: the filter is
    inherited across fork and execve).
    """
    execs = (os.path.realpath(luod), "/proc/self/exe")
    traces = {}
    for name in os.listdir(trace_dir):
        m = re.match(r"(.*)\.(\d+)$", name)
        if m and m.group(1) in prefix_names:
            with open(os.path.join(trace_dir, name), errors="replace") as f:
                traces[int(m.group(2))] = (name, f.read().splitlines())
    todo = []
    for pid, (name, lines) in traces.items():
        for i, line in enumerate(lines):
            m = re.match(r'execve\("([^"]*)"', line)
            if m and os.path.realpath(m.group(1)) in execs and line.rstrip().endswith("= 0"):
                todo.append((pid, i))
                break
    used, done = {}, set()
    while todo:
        pid, start = todo.pop()
        if pid in done or pid not in traces:
            continue
        done.add(pid)
        name, lines = traces[pid]
        for line in lines[start:]:
            m = re.match(r"([a-z0-9_]+)\(", line)
            if not m:
                continue
            used.setdefault(m.group(1), name)
            child = re.match(r"(clone3?|fork|vfork)\(.*\)\s+=\s+(\d+)", line)
            if child:
                todo.append((int(child.group(2)), 0))
    return used, len(done)


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    unit, luod, tests = sys.argv[1], sys.argv[2], sys.argv[3:]
    for tool in ("strace", "systemd-analyze"):
        if not shutil.which(tool):
            tap_skip_all(f"{tool} not installed")
    allowed = expand(filter_groups(unit))
    n, failed = 0, False
    with tempfile.TemporaryDirectory(prefix="luo-syscalls.") as tmp:
        for t in tests:
            name = os.path.basename(t)
            if not os.access(t, os.X_OK):
                n += 1
                failed = True
                print(f"not ok {n} - {t}: no such test binary")
                continue
            prefix = os.path.join(tmp, name)
            # LeakSanitizer cannot run under ptrace; the tests' own runs keep it
            env = dict(os.environ)
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
            with open(prefix + ".out", "w") as out:
                p = subprocess.Popen(["strace", "-f", "-ff", "-qq", "-o", prefix, t], env=env,
                                     stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
                try:
                    status = p.wait(timeout=300)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    status = p.wait()
            n += 1
            # the test's own verdict belongs to its own meson test; here it only drives luod
            print(f"ok {n} - {name} ran under strace (exit {status})")
        used, processes = luod_syscalls(tmp, {os.path.basename(t) for t in tests}, luod)
        n += 1
        if processes == 0:
            print(f"not ok {n} - no luod process was traced")
            failed = True
        else:
            print(f"ok {n} - {processes} luod processes traced, {len(used)} distinct syscalls")
        refused = False
        for sc in sorted(used):
            if sc in allowed:
                continue
            n += 1
            failed = refused = True
            print(f"not ok {n} - luod calls {sc} (seen in {used[sc]}), "
                  f"which SystemCallFilter= in {os.path.basename(unit)} refuses")
        n += 1
        print(f"ok {n} - every syscall of luod is in SystemCallFilter= "
              f"({len(allowed)} allowed)" if not refused else
              f"not ok {n} - luod needs syscalls outside SystemCallFilter=")
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
