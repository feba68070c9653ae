#!/bin/sh
# PID 1 of the reference VM (tests/kernel/check-kernel.py builds the
# initramfs around it). Boot N (luo.boot=N on the command line, 1 if absent)
# runs the steps in /luo/boot.N, one per line:
#   stage CASE [ARG]   compat-stage under the real /dev/liveupdate, with its
#                      transcript
#   selftest NAME ARGS one of the kernel's own liveupdate selftests
#   sh COMMAND         anything else (the luod backend demo)
# and, when /luo/boot.N+1 exists, live-updates into it: the initramfs packs
# itself up again (nothing of it changes between boots) and kexec loads
# the same kernel with kexec_file_load and jumps. Processes that hold
# session fds (stage 1's holders) are alive at that moment, as the kernel
# needs them to be.
#
# Everything the host parses is a line starting with "LUOT ", written to
# the serial console; kernel messages are kept quiet by the command line.
export PATH=/bin:/sbin:/luo
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
exec </dev/console >/dev/console 2>&1

say() { echo "LUOT $*"; }
halt_vm() {
	sync
	reboot -f # QEMU runs with -no-reboot: this ends it
	sleep 5
	exit 1
}

cmdline=$(cat /proc/cmdline)
boot=1
for w in $cmdline; do
	case $w in luo.boot=*) boot=${w#luo.boot=} ;; esac
done
say "BOOT $boot"
[ -c /dev/liveupdate ] || { say "NODEVICE"; halt_vm; }
ulimit -n 4096 2>/dev/null

n=0
while read -r kind name args; do
	[ -n "$kind" ] || continue
	n=$((n + 1))
	case $kind in
	stage)
		rm -f /tmp/transcript
		COMPAT_TRANSCRIPT=/tmp/transcript /luo/compat-stage "$name" $args >/tmp/out 2>/tmp/err
		rc=$?
		while IFS= read -r l; do say "T $l"; done </tmp/transcript
		while IFS= read -r l; do say "E $name: $l"; done </tmp/err
		say "R stage $name $args: exit $rc"
		;;
	selftest)
		"/luo/selftests/$name" $args >/tmp/out 2>&1
		rc=$?
		while IFS= read -r l; do say "O $name: $l"; done </tmp/out
		say "R selftest $name $args: exit $rc"
		;;
	sh)
		sh -c "$name $args" >/tmp/out 2>&1
		rc=$?
		while IFS= read -r l; do say "O sh: $l"; done </tmp/out
		say "R sh $name $args: exit $rc"
		;;
	esac
done <"/luo/boot.$boot"

next=$((boot + 1))
if [ ! -f "/luo/boot.$next" ]; then
	say "DONE"
	halt_vm
fi

cd / || halt_vm
find . -xdev | cpio -o -H newc 2>/dev/null | gzip -1 >/tmp/next.cpio.gz || {
	say "KEXEC pack failed"
	halt_vm
}
newcmd=""
for w in $cmdline; do
	case $w in luo.boot=*) ;; *) newcmd="$newcmd $w" ;; esac
done
kexec -l -s /luo/bzImage --initrd=/tmp/next.cpio.gz --command-line="${newcmd# } luo.boot=$next" ||
	{ say "KEXEC load failed"; halt_vm; }
say "KEXEC $next"
kexec -e
say "KEXEC exec failed"
halt_vm
