#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The real kernel as referee: the reference VM harness and the
differential test (TAP on stdout).

1. tests/kernel/build-kernel.sh builds (or reuses from its cache) a kernel
   with KEXEC_HANDOVER, LIVEUPDATE and LIVEUPDATE_MEMFD from Debian's newest
   linux-source package.
2. An initramfs is made of busybox, kexec, a static compat-stage (the raw
   /dev/liveupdate program of tests/compat/), the kernel's own liveupdate
   selftests and tests/kernel/init.sh; QEMU (TCG) boots it, and the VM runs
   SCHEDULE: boot 1, a real kexec live update, boot 2, another, boot 3,
   and from there two live updates driven by luod's kernel backend
   (`luoctl update --kernel`) into boots 4 and 5: a workload's hybrid
   session (a 64 MiB memfd, a TCP listener, a pipe) crosses a luod update
   and a restart whole, and each kexec with its memfd carried, its
   listener re-created and its pipe reported not carried; before the
   second one luod is handed its kernel session as systemd's LUOSession=
   does. Results come back on the serial console as "LUOT " lines.
3. The same SCHEDULE runs on the host against luod through the LD_PRELOAD
   layer, with `luoctl update` (and the holders killed) where the VM kexecs.
4. Both transcripts are compared case by case: every errno, every retrieved
   content, every exit status must be equal, except the differences listed
   with their reasons in tests/kernel/differences.txt (doc/kernel-differences.md).

Skips (TAP "1..0 # SKIP") when QEMU, the compiler's static libc or the
kernel package cannot be had. Environment: LUOD, LUOCTL, COMPAT_LIB,
COMPAT_STAGE (the host's binaries, as in tests/compat/); LUO_KERNEL_CACHE
(default /var/cache/luo-kernel); LUO_KERNEL_KEEP=1 keeps the work dir.
"""
import collections
import difflib
import errno
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
ROOT = os.path.dirname(os.path.dirname(HERE))
BOOT_TIMEOUT = int(os.environ.get("LUO_KERNEL_VM_TIMEOUT", "900"))

# What runs where, in one place. Each inner list is one boot; between two
# boots the VM kexecs and the host runs `luoctl update`. Stage 1 cases leave
# a holder of their session fds, which the update ends.
SCHEDULE = [
    [
        ("selftest", "liveupdate", ""),
        ("stage", "device", ""),
        ("stage", "sessions", ""),
        ("stage", "abi", ""),
        ("stage", "literal", ""),
        ("stage", "preserve", ""),
        ("stage", "many-sessions", ""),
        ("stage", "many-files", ""),
        ("stage", "handles", ""),
        ("stage", "passthrough", ""),
        ("stage", "extensions", ""),
        ("stage", "signal", ""),
        ("stage", "cancel", ""),
        ("stage", "shared", ""),
        ("stage", "stray", ""),
        ("stage", "node", ""),
        ("stage", "fd-limit", ""),
        ("stage", "stage1-basic", ""),
        ("stage", "cycle", "0"),
        ("stage", "stage1-many", ""),
        ("selftest", "luo_kexec_simple", "--stage 1"),
        ("selftest", "luo_multi_session", "--stage 1"),
    ],
    [
        ("stage", "stage2-basic", ""),
        ("stage", "cycle", "1"),
        ("stage", "stage2-many", ""),
        ("selftest", "luo_kexec_simple", "--stage 2"),
        ("selftest", "luo_multi_session", "--stage 2"),
    ],
    [
        ("stage", "stage3-basic", ""),
        ("stage", "cycle-last", "2"),
        # luod's kernel backend; ends with `luoctl update --kernel` into boot 4
        ("sh", "/luo/luod-demo.sh", "1 4"),
    ],
    [
        # what the kexec brought; then luod handed its kernel session, as by
        # LUOSession=, and `luoctl update --kernel` into boot 5
        ("sh", "/luo/luod-demo.sh", "2 5"),
    ],
    [
        ("sh", "/luo/luod-demo.sh", "3"),
    ],
]

SELFTESTS = ["liveupdate", "luo_kexec_simple", "luo_multi_session"]


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print(("ok" if cond else "not ok") + " %d - %s" % (self.n, desc))
        if diag and not cond:
            for line in diag.splitlines():
                print("# " + line)
        sys.stdout.flush()

    def skip(self, desc, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, desc, why))
        sys.stdout.flush()

    def note(self, text):
        for line in text.splitlines():
            print("# " + line)
        sys.stdout.flush()

    def done(self):
        print("1..%d" % self.n)
        return 1 if self.failed else 0


def skip_all(why):
    print("1..0 # SKIP %s" % why)
    sys.exit(0)


def log(msg):
    print("# " + msg)
    sys.stdout.flush()


# ---- the kernel and the initramfs ----

def build_kernel():
    p = subprocess.run([os.path.join(HERE, "build-kernel.sh")], stdout=subprocess.PIPE,
                       stderr=None, text=True)
    if p.returncode == 77:
        skip_all("no reference kernel (see the messages above)")
    if p.returncode != 0:
        print("Bail out! building the reference kernel failed")
        sys.exit(1)
    return p.stdout.strip().splitlines()[-1]


def copy_libs(binary, root):
    """Copy the libraries ldd names for binary (a program or a library)."""
    out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    for m in re.finditer(r"(/\S+\.so[.\d]*)", out):
        lib = m.group(1)
        target = os.path.join(root, lib.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.realpath(lib), target)


# Opened with dlopen(), so ldd does not name them: luod's libsystemd.so.0
# when the environment names a manager (daemon/base/systemd.c), as the
# LUOSession= step's LISTEN_FDS does
DLOPENED = {"luod": ["libsystemd.so.0"]}


def copy_with_libs(binary, root, dest):
    """Copy a dynamically linked program, the libraries ldd names and those it dlopen()s."""
    shutil.copy2(binary, os.path.join(root, dest.lstrip("/")))
    copy_libs(binary, root)
    cache = subprocess.run(["ldconfig", "-p"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True).stdout
    for soname in DLOPENED.get(os.path.basename(dest), []):
        m = re.search(r"^\s*%s \(.*x86-64.*\) => (\S+)$" % re.escape(soname), cache, re.M)
        if not m:
            continue  # luod says why in its log, and the step that needs it fails
        target = os.path.join(root, m.group(1).lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.realpath(m.group(1)), target)
        copy_libs(m.group(1), root)


def static_stage(work):
    """compat-stage without ASan and without libc.so: the VM has neither."""
    out = os.path.join(work, "compat-stage")
    cmd = ["gcc", "-std=gnu17", "-O2", "-static", "-Wall", "-Wextra", "-Werror",
           "-D_GNU_SOURCE",
           "-I", os.path.join(ROOT, "include"),
           os.path.join(ROOT, "tests", "compat", "stage.c"), "-o", out]
    probe = subprocess.run(["gcc", "-static", "-x", "c", "-", "-o", out], text=True,
                           input="int main(void) { return 0; }\n",
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        skip_all("gcc cannot link statically (libc6-dev's libc.a?)")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print("Bail out! compat-stage does not build statically:")
        print("\n".join("# " + l for l in p.stdout.splitlines()))
        sys.exit(1)
    return out


def vm_binaries():
    """luod, luoctl and kernel-workload without sanitizers (the VM has no libasan)."""
    build = os.environ.get("LUO_VM_BUILD") or os.path.join(ROOT, "build-vm")
    if not os.path.exists(os.path.join(build, "build.ninja")):
        p = subprocess.run(["meson", "setup", build, ROOT, "-Dbuildtype=debugoptimized",
                            "-Db_sanitize=none"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            return None, p.stdout
    p = subprocess.run(["meson", "compile", "-C", build, "-j", "2", "luod", "luoctl",
                        "kernel-workload"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode != 0:
        return None, p.stdout
    found = {}
    for name in ("luod", "luoctl", "kernel-workload"):
        for dirpath, _, files in os.walk(build):
            if name in files and os.access(os.path.join(dirpath, name), os.X_OK):
                found[name] = os.path.join(dirpath, name)
                break
    if len(found) != 3:
        return None, "built, but not found: %s" % sorted(set(("luod", "luoctl",
                                                             "kernel-workload")) - set(found))
    return found, ""


def make_initramfs(work, kdir, stage, binaries):
    root = os.path.join(work, "root")
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "sbin", "luo/selftests", "proc", "sys", "dev", "tmp", "run",
              "lib64", "lib/x86_64-linux-gnu", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    busybox = shutil.which("busybox")
    shutil.copy2(busybox, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list"], stdout=subprocess.PIPE, text=True).stdout
    for a in applets.split():
        if a in ("busybox", "kexec"):
            continue
        os.symlink("busybox", os.path.join(root, "bin", a))
    copy_with_libs(shutil.which("kexec") or "/usr/sbin/kexec", root, "/sbin/kexec")
    shutil.copy2(os.path.join(HERE, "init.sh"), os.path.join(root, "init"))
    os.chmod(os.path.join(root, "init"), 0o755)
    shutil.copy2(stage, os.path.join(root, "luo", "compat-stage"))
    for name, path in (binaries or {}).items():
        copy_with_libs(path, root, "/luo/" + name)
    shutil.copy2(os.path.join(HERE, "luod-demo.sh"), os.path.join(root, "luo", "luod-demo.sh"))
    os.chmod(os.path.join(root, "luo", "luod-demo.sh"), 0o755)
    shutil.copy2(os.path.join(kdir, "bzImage"), os.path.join(root, "luo", "bzImage"))
    for t in SELFTESTS:
        src = os.path.join(kdir, "selftests", t)
        if os.path.exists(src):
            shutil.copy2(src, os.path.join(root, "luo", "selftests", t))
    for i, boot in enumerate(SCHEDULE, 1):
        with open(os.path.join(root, "luo", "boot.%d" % i), "w") as f:
            for kind, name, args in boot:
                f.write("%s %s %s\n" % (kind, name, args))
    img = os.path.join(work, "initramfs.cpio.gz")
    with open(img, "wb") as out:
        find = subprocess.Popen(["find", "."], cwd=root, stdout=subprocess.PIPE)
        cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                                stdin=find.stdout, stdout=subprocess.PIPE)
        gz = subprocess.Popen(["gzip", "-1"], stdin=cpio.stdout, stdout=out)
        find.stdout.close()
        cpio.stdout.close()
        if gz.wait() or cpio.wait() or find.wait():
            print("Bail out! packing the initramfs failed")
            sys.exit(1)
    return img


def run_vm(work, kdir, img):
    serial = os.path.join(work, "serial.log")
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "2G",
           "-nographic", "-no-reboot", "-kernel", os.path.join(kdir, "bzImage"),
           "-initrd", img, "-serial", "file:" + serial, "-monitor", "none",
           "-append", "console=ttyS0 kho=on liveupdate=on panic=-1 quiet loglevel=1 luo.boot=1"]
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=BOOT_TIMEOUT, text=True)
        rc = p.returncode
        extra = p.stdout
    except subprocess.TimeoutExpired:
        rc = "timeout"
        extra = ""
    log("VM ran %.0f s (exit %s)" % (time.monotonic() - start, rc))
    with open(serial, errors="replace") as f:
        text = f.read()
    return text, extra


def parse_vm(text):
    """LUOT lines -> (transcripts by case key, results by step, boots seen, other lines)."""
    lines = []
    for raw in text.splitlines():
        i = raw.find("LUOT ")
        if i >= 0:
            lines.append(raw[i + 5:].rstrip("\r"))
    return lines


# ---- the host side ----

def host_run(work):
    env_need = ["LUOD", "LUOCTL", "COMPAT_LIB", "COMPAT_STAGE"]
    for e in env_need:
        if not os.environ.get(e):
            print("Bail out! $%s is not set (run through meson test)" % e)
            sys.exit(1)
    d = tempfile.mkdtemp(prefix="luo-kernel-host.")
    sock = os.path.join(d, "luod.sock")
    logf = open(os.path.join(d, "luod.log"), "w")
    env = dict(os.environ, LUO_SOCKET=sock)
    luod = subprocess.Popen([os.environ["LUOD"], "--socket", sock, "--state-dir",
                             os.path.join(d, "state")], stderr=logf, env=env)
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    out = []
    holders = []
    asan = os.environ.get("ASAN_OPTIONS", "")
    stage_env = dict(env, LD_PRELOAD=os.environ["COMPAT_LIB"], LUO_DEVICE="/dev/liveupdate",
                     ASAN_OPTIONS=(asan + ":" if asan else "") + "verify_asan_link_order=0")
    try:
        for i, boot in enumerate(SCHEDULE, 1):
            out.append("BOOT %d" % i)
            for kind, name, args in boot:
                if kind != "stage":
                    continue
                tr = os.path.join(d, "transcript")
                if os.path.exists(tr):
                    os.unlink(tr)
                argv = [os.environ["COMPAT_STAGE"], name] + args.split()
                # a holder keeps stderr open: a file, not a pipe, or we would wait for it
                with open(os.path.join(d, "stderr"), "w+") as err:
                    p = subprocess.run(argv, env=dict(stage_env, COMPAT_TRANSCRIPT=tr),
                                       stdout=subprocess.PIPE, stderr=err, text=True)
                    err.seek(0)
                    errs = ["E %s: %s" % (name, l.rstrip("\n")) for l in err]
                if os.path.exists(tr):
                    with open(tr) as f:
                        out += ["T " + l.rstrip("\n") for l in f]
                out += errs
                m = re.match(r"HOLDER (\d+)", p.stdout)
                if m:
                    holders.append(int(m.group(1)))
                out.append("R stage %s %s: exit %d" % (name, args, p.returncode))
            if i < len(SCHEDULE):
                p = subprocess.run([os.environ["LUOCTL"], "--socket", sock, "update"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                if p.returncode != 0:
                    out.append("UPDATE failed: " + p.stdout.strip())
                # a kexec ends every process: the holders die with it
                for h in holders:
                    try:
                        os.kill(h, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                holders = []
    finally:
        for h in holders:
            try:
                os.kill(h, signal.SIGKILL)
            except ProcessLookupError:
                pass
        luod.terminate()
        luod.wait()
        logf.close()
        if not os.environ.get("LUO_KERNEL_KEEP"):
            shutil.rmtree(d, ignore_errors=True)
    return out


# ---- comparing ----

def by_case(lines):
    """Transcript lines and the result line of every stage, keyed by 'boot/case arg'."""
    cases = collections.OrderedDict()
    boot = 0
    cur = []
    for l in lines:
        if l.startswith("BOOT "):
            boot = int(l.split()[1])
        elif l.startswith("T "):
            cur.append(l[2:])
        elif l.startswith("R stage "):
            m = re.match(r"R stage (\S+) ?(.*): (exit \S+)$", l)
            key = "%s %s" % (m.group(1), m.group(2)) if m.group(2) else m.group(1)
            cases[key.strip()] = (boot, cur + ["%s: %s" % (m.group(1), m.group(3))])
            cur = []
    return cases


def load_differences():
    """tests/kernel/differences.txt: {case: {'-': Counter, '+': Counter, 'all': reason}}."""
    known = {}
    reason = []
    case = None
    with open(os.path.join(HERE, "differences.txt")) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip():
                reason, case = [], None
                continue
            if line.startswith("#"):
                if case is not None:
                    reason, case = [], None
                reason.append(line[1:].strip())
            elif line.startswith("@ "):
                parts = line[2:].split(" ", 1)
                case = parts[0].strip() if len(parts) == 1 else line[2:].strip()
                entry = known.setdefault(case, {"-": collections.Counter(),
                                                "+": collections.Counter(), "all": None,
                                                "why": " ".join(reason)})
                if case.endswith(" *"):
                    base = case[:-2]
                    known[base] = dict(entry, all=" ".join(reason))
                    del known[case]
                    case = base
            elif line[:2] in ("- ", "+ ") and case is not None:
                known[case][line[0]][line[2:]] += 1
    return known


def compare(tap, host, vm, known):
    hc, vc = by_case(host), by_case(vm)
    used = set()
    for key in list(hc.keys()) + [k for k in vc if k not in hc]:
        h = hc.get(key, (0, ["(did not run on the host)"]))[1]
        v = vc.get(key, (0, ["(did not run in the VM)"]))[1]
        if h == v:
            tap.ok(True, "%s: luo and the kernel agree (%d lines)" % (key, len(h)))
            continue
        k = known.get(key)
        if k and k["all"]:
            used.add(key)
            tap.ok(True, "%s: differs as documented: %s" % (key, k["all"]))
            continue
        minus, plus = collections.Counter(), collections.Counter()
        for d in difflib.ndiff(h, v):
            if d.startswith("- "):
                minus[d[2:]] += 1
            elif d.startswith("+ "):
                plus[d[2:]] += 1
        unexplained = []
        if k:
            used.add(key)
        for sign, cnt in (("-", minus), ("+", plus)):
            allowed = k[sign] if k else collections.Counter()
            for line, c in cnt.items():
                if allowed[line] < c:
                    unexplained.append("%s %s" % (sign, line))
        diff = "\n".join(difflib.unified_diff(h, v, "luo", "kernel", lineterm="", n=1))
        if unexplained:
            tap.ok(False, "%s: luo and the kernel differ" % key,
                   "unexplained (- luo, + kernel):\n" + "\n".join(unexplained) +
                   "\nfull diff:\n" + diff)
        else:
            tap.ok(True, "%s: differs only as documented: %s" % (key, k["why"]))
    stale = [c for c in known if c not in used]
    tap.ok(not stale, "every listed difference still occurs",
           "listed in differences.txt but not seen: " + ", ".join(stale))


def check_backend(tap, vm, binaries):
    """The kernel backend's hybrid sessions, boots 3 to 5 (tests/kernel/luod-demo.sh)."""
    by_boot = collections.defaultdict(list)
    boot = 0
    for l in vm:
        if l.startswith("BOOT "):
            boot = int(l.split()[1])
        elif l.startswith("D "):
            by_boot[boot].append(l[2:])
    d = [l for b in sorted(by_boot) for l in by_boot[b]]
    log_tail = "\n".join(d[-40:])
    if not binaries:
        tap.ok(False, "luod kernel backend: luod, luoctl and the workload built for the VM")
        return

    def first(prefix, lines=d):
        return next((l[len(prefix):].strip() for l in lines if l.startswith(prefix)), None)

    def statuses(lines):
        out = []
        for l in lines:
            if l.startswith("STATUS "):
                try:
                    out.append(json.loads(l[len("STATUS "):]))
                except ValueError:
                    out.append({})
        return out

    def files(show):
        """token -> (where, retrieve_error) from a `luoctl show --json` line."""
        try:
            return {f["token"]: (f.get("where"), f["retrieve_error"])
                    for f in json.loads(show or "{}").get("file_list", [])}
        except ValueError:
            return {}

    b3, b4, b5 = by_boot[3], by_boot[4], by_boot[5]
    st3 = statuses(b3)
    created = first("CREATED ", b3)
    tap.ok(bool(st3) and st3[0].get("backend") == "kernel" and
           st3[0].get("kernel_mode") == "device" and st3[0].get("kernel_session") == "luod",
           "luod picks the kernel backend on a real /dev/liveupdate, its own kernel session "
           "\"luod\" through the device (luoctl status: backend, kernel_mode)", log_tail)
    tap.ok(bool(created), "a workload puts a 64 MiB memfd (checksum %s), a TCP listener and a "
           "pipe into one session through luod" % created, log_tail)
    want = {1: ("kernel", 0), 2: ("re-created", 0), 3: ("luod", 0)}
    tap.ok(files(first("SHOW1 ", b3)) == want,
           "luoctl show: the memfd lives in the kernel too, the listener is re-created after a "
           "kexec, the pipe lives in luod", "got %s\n%s" % (files(first("SHOW1 ", b3)), log_tail))
    again = first("AGAIN ", b3) or ""
    tap.ok("LUOD-UPDATED" in b3 and again.startswith("KEPT memfd %s" % created) and
           "pipe with 10 bytes" in again,
           "a luod update and a workload restart keep all three (memfd checksum, a connection "
           "accepted on the listener, the pipe's bytes)", log_tail)
    crash = first("CRASH-AGAIN ", b3) or ""
    st_crash = st3[1] if len(st3) >= 2 else {}
    tap.ok(crash.startswith("KEPT memfd %s" % created) and "pipe with 10 bytes" in crash and
           st_crash.get("kernel_mode") == "device" and st_crash.get("kernel_sessions") == 1,
           "luod killed (SIGKILL): the keeper gives all three back, and the new luod makes its "
           "kernel session again (kernel_mode %s)" % st_crash.get("kernel_mode"), log_tail)
    tap.ok("EXEC-HELD" in b3, "luoctl exec --create --listen tcp:127.0.0.1:8080 leaves its "
           "listener held by luod", log_tail)
    refused, eexist = first("REFUSED ", b3) or "", first("EEXIST ", b3) or ""
    tap.ok("Exec format error" in refused and "File exists" in eexist,
           "luod refuses a non-kernel for --kernel (ENOEXEC) and a second session of a held "
           "name (EEXIST), and keeps serving", log_tail)
    now = st3[-1].get("kexec_now") if st3 else None
    tap.ok(now == {"kernel": 1, "recreated": 2, "not_carried": 1},
           "luoctl status before the kexec: it would carry 1 memfd, re-create 2 listeners "
           "(the workload's and luoctl exec's), leave 1 file (got %s)" % now, log_tail)
    boots = [l for l in vm if l.startswith("BOOT ")]
    # init.sh kexecs by itself only after a step gave up ("KEXEC n"): not from boot 3 on
    tap.ok("UPDATE 4" in b3 and "UPDATE 5" in b4 and "BOOT %d" % len(SCHEDULE) in boots and
           not any("KEXEC %d" % n in vm for n in (4, 5)) and
           not any(l.startswith("FAIL") for l in d),
           "luoctl update --kernel kexecs into the next kernel, twice", log_tail)

    def after_kexec(lines, tag, want_sum, num, mode, what, recreated):
        st = statuses(lines)
        after = files(first("SHOW3%s " % tag, lines))
        tap.ok(after.get(1, (None,))[0] == "kernel" and
               after.get(2, (None,))[0] == "re-created" and
               after.get(3) == ("not carried", -errno.ENOLINK),
               "%s: luoctl show says per file: memfd carried by the kernel, listener re-created, "
               "pipe not carried (ENOLINK)" % what, "got %s\n%s" % (after, log_tail))
        tap.ok((first("CLIENT%s " % tag, lines) or "").startswith("CONNECTED"),
               "%s: a client connects to the port after the boot, before the workload runs" %
               what, log_tail)
        verified = [l[len("VERIFIED%s " % tag):] for l in lines
                    if l.startswith("VERIFIED%s " % tag)]
        tap.ok(want_sum is not None and "CHECKSUM " + want_sum in verified,
               "%s: the restarted workload gets its memfd back, same checksum" % what, log_tail)
        tap.ok(any(v.startswith("LISTENER re-created on port 7070") for v in verified),
               "%s: the listener is re-created on the same port and the client's connection "
               "waits in it" % what, log_tail)
        tap.ok(any(v.startswith("PIPE not carried") for v in verified),
               "%s: the pipe's retrieve answers ENOLINK (not carried), twice" % what, log_tail)
        s0 = st[0] if st else {}
        tap.ok(s0.get("kernel_liveupdate_num") == num and
               s0.get("last_kexec") == {"carried": 1, "recreated": recreated,
                                        "not_carried": 1} and
               s0.get("kernel_mode") == mode and
               s0.get("not_carried_files") == [{"session": "vm-workload", "token": 3}],
               "%s: luoctl status: kernel_liveupdate_num %s (want %d), last kexec %s (want 1 "
               "carried, %d re-created, 1 not carried), kernel_mode %s (want %s), not carried "
               "%s (want vm-workload token 3)" %
               (what, s0.get("kernel_liveupdate_num"), num, s0.get("last_kexec"), recreated,
                s0.get("kernel_mode"), mode, s0.get("not_carried_files")), log_tail)

    after_kexec(b4, "", created, len(SCHEDULE) - 2, "device", "after the kexec", 2)
    web = files(first("SHOW-WEB ", b4))
    tap.ok(web == {0: ("re-created", 0)} and
           (first("EXEC ", b4) or "").endswith("SERVED hello after the kexec"),
           "a luoctl exec server comes back on the same port after the kexec: its listener "
           "re-created, the client that connected during the boot served", "show %s\n%s" %
           (web, log_tail))
    try:
        hist = json.loads(first("HISTORY ", b4) or "{}").get("history", [])
    except ValueError:
        hist = []
    # (luod's own update before it is not there: a crash recovery starts the history anew)
    tap.ok(any(h.get("outcome") == "ok" and h.get("sessions") == 2 and h.get("files") == 3 and
               h.get("blackout_ms", 0) > 0 for h in hist),
           "luoctl history after the kexec: the kexec, 2 sessions, 3 files carried or "
           "re-created, its blackout", "%s\n%s" % (hist, log_tail))
    st4 = statuses(b4)
    given = st4[2] if len(st4) >= 4 else {}
    tap.ok(given.get("kernel_mode") == "systemd" and given.get("kernel_session") == "luod-sd",
           "luod handed a kernel session as systemd does for LUOSession= (fd 3, LISTEN_FDS) "
           "uses it and does not open the device (kernel_mode %s, session %s)" %
           (given.get("kernel_mode"), given.get("kernel_session")), log_tail)
    kept = st4[3] if len(st4) >= 4 else {}
    tap.ok(kept.get("kernel_mode") == "systemd" and kept.get("kernel_session") == "luod-sd" and
           kept.get("generation") == given.get("generation", -2) + 1 and
           (first("SD-AGAIN ", b4) or "").startswith("KEPT memfd"),
           "luod's own update keeps the session systemd gave it (kernel_mode %s, session %s), "
           "and the workload its three files" % (kept.get("kernel_mode"),
                                                kept.get("kernel_session")), log_tail)
    # back from the given session luod finishes it and makes its next one through the device
    after_kexec(b5, "-SD", first("SD-CREATED ", b4), len(SCHEDULE) - 1, "device",
                "after a kexec in the given session", 1)


def main():
    tap = Tap()
    if os.uname().machine != "x86_64":
        skip_all("the reference VM is x86_64")
    if not shutil.which("qemu-system-x86_64"):
        skip_all("qemu-system-x86_64 not found (scripts/install-deps.sh installs it)")
    if not shutil.which("busybox") or not (shutil.which("kexec") or
                                           os.path.exists("/usr/sbin/kexec")):
        skip_all("busybox or kexec not found (scripts/install-deps.sh installs it)")
    kdir = build_kernel()
    log("kernel: %s" % kdir)
    work = tempfile.mkdtemp(prefix="luo-kernel-vm.")
    try:
        stage = static_stage(work)
        binaries, why = vm_binaries()
        if not binaries:
            log("building luod for the VM failed:")
            tap.note(why[-3000:])
        img = make_initramfs(work, kdir, stage, binaries)
        text, extra = run_vm(work, kdir, img)
        vm = parse_vm(text)
        boots = [l for l in vm if l.startswith("BOOT ")]
        ok = "DONE" in vm and len(boots) == len(SCHEDULE)
        tap.ok(ok, "VM: %d boots, %d kexec live updates, ran to the end" %
               (len(boots), max(len(boots) - 1, 0)),
               "serial console (tail):\n" + "\n".join(text.splitlines()[-40:]) + extra)
        for kind, name, args in [s for b in SCHEDULE for s in b if s[0] == "selftest"]:
            want = "R selftest %s %s: exit 0" % (name, args)
            got = [l for l in vm if l.startswith("R selftest %s %s:" % (name, args))]
            out = "\n".join(l for l in vm if l.startswith("O %s:" % name))
            label = ("%s %s" % (name, args)).strip()
            if not os.path.exists(os.path.join(kdir, "selftests", name)):
                tap.skip("kernel selftest %s" % label, "did not build")
            else:
                tap.ok(want in got, "kernel selftest %s passes in the VM" % label,
                       (got[0] if got else "did not run") + "\n" + out)
        check_backend(tap, vm, binaries)
        host = host_run(work)
        compare(tap, host, vm, load_differences())
        with open(os.path.join(work, "transcript.kernel"), "w") as f:
            f.write("\n".join(vm) + "\n")
        with open(os.path.join(work, "transcript.luo"), "w") as f:
            f.write("\n".join(host) + "\n")
    finally:
        if os.environ.get("LUO_KERNEL_KEEP"):
            log("work dir kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
