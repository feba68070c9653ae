# SPDX-License-Identifier: GPL-2.0-or-later
"""The small Linux guest of tests/qemu and bench/qemu.sh: Debian's kernel
(get-kernel.sh, cached) and an initramfs holding only guest.c as /init
(static), written here in the kernel's newc cpio format (no root needed
for its /dev/console node). What QEMU needs to boot it is qemu_args()."""
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


class Unavailable(Exception):
    """Something the guest needs cannot be had here: the reason."""


def qemu_binary():
    q = os.environ.get("LUO_QEMU_BINARY") or shutil.which("qemu-system-x86_64")
    if not q or not os.access(q, os.X_OK):
        raise Unavailable(f"{q or 'qemu-system-x86_64'} not found (Debian: qemu-system-x86)")
    return q


def kernel():
    r = subprocess.run(["sh", os.path.join(HERE, "get-kernel.sh")], capture_output=True,
                       text=True)
    if r.returncode == 77:
        raise Unavailable(r.stderr.strip().splitlines()[-1] if r.stderr.strip()
                          else "no kernel")
    if r.returncode != 0 or not r.stdout.strip():
        raise Unavailable(f"get-kernel.sh failed: {r.stderr.strip()}")
    return r.stdout.strip().splitlines()[-1]


def _cpio(entries, out):
    """newc archive of (name, mode, data, rdev major, rdev minor)."""
    blob = bytearray()

    def add(ino, name, mode, data, rmaj, rmin):
        hdr = "070701" + "".join("%08x" % v for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, rmaj, rmin, len(name) + 1, 0))
        blob.extend(hdr.encode() + name.encode() + b"\0")
        blob.extend(b"\0" * (-len(blob) % 4))
        blob.extend(data)
        blob.extend(b"\0" * (-len(blob) % 4))

    for i, (name, mode, data, rmaj, rmin) in enumerate(entries, 1):
        add(i, name, mode, data, rmaj, rmin)
    add(0, "TRAILER!!!", 0, b"", 0, 0)
    with open(out, "wb") as f:
        f.write(blob)


def initrd(work):
    """Build guest.c statically and pack it as /init; returns the initrd's path."""
    cc = os.environ.get("CC", "gcc")
    init = os.path.join(work, "init")
    r = subprocess.run([cc, "-std=gnu17", "-O2", "-static", "-Wall", "-Wextra", "-Werror",
                        "-o", init, os.path.join(HERE, "guest.c")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        if "cannot find -lc" in r.stderr or "static" in r.stderr:
            raise Unavailable(f"{cc} cannot link statically (libc6-dev's libc.a?)")
        raise RuntimeError(f"guest.c does not build:\n{r.stderr}")
    with open(init, "rb") as f:
        data = f.read()
    out = os.path.join(work, "initrd.cpio")
    _cpio([("dev", 0o40755, b"", 0, 0), ("dev/console", 0o20600, b"", 5, 1),
           ("proc", 0o40555, b"", 0, 0), ("init", 0o100755, data, 0, 0)], out)
    return out


def qemu_args(vmlinuz, initrd_path, serial, pattern_mib, extra_append=""):
    """The guest's QEMU arguments, RAM and QMP aside (luo-qemu adds those)."""
    return ["-accel", "tcg", "-cpu", "max", "-machine", "q35", "-smp", "1",
            "-display", "none", "-no-reboot", "-monitor", "none", "-nodefaults",
            "-kernel", vmlinuz, "-initrd", initrd_path,
            "-append", f"console=ttyS0 quiet panic=-1 luo.pattern_mib={pattern_mib} "
                       f"{extra_append}".strip(),
            "-chardev", f"file,id=ser,path={serial},append=on", "-serial", "chardev:ser"]
