#!/bin/sh
# The kernel backend in the reference VM (run by init.sh as a step).
#   luod-demo.sh 1   luod on the real /dev/liveupdate; a workload keeps a
#                    64 MiB memfd in a session through luod and exits; a
#                    restarted workload gets the session back; then
#                    `luoctl update --kernel` kexecs into the next boot
#   luod-demo.sh 2   after the kexec: luod again, `luoctl status` tells the
#                    backend and the kernel's live-update number, and the
#                    restarted workload gets its memfd back, same checksum
# Lines for the host start with "LUOT D ". The expected checksum crosses
# the kexec in the initramfs, which the update packs up again.
export PATH=/bin:/sbin:/luo
export LUO_SOCKET=/run/luo/luod.sock
say() { echo "LUOT D $*" >/dev/console; }
fail() {
	say "FAIL $*"
	[ -f /tmp/luod.log ] && while IFS= read -r l; do say "luod: $l"; done </tmp/luod.log
	exit 1
}

start_luod() {
	mkdir -p /run/luo /tmp/luo-state
	luod --state-dir /tmp/luo-state 2>/tmp/luod.log &
	i=0
	while [ ! -S "$LUO_SOCKET" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "luod did not come up"
		sleep 0.1
	done
}

status() {
	st=$(luoctl status --json) || fail "luoctl status"
	say "STATUS $(echo "$st" | tr -d '\n')"
}

case $1 in
1)
	start_luod
	status
	out=$(kernel-workload create) || fail "workload create: $out"
	sum=${out#CHECKSUM }
	say "CREATED $sum"
	echo "$sum" >/luo/expected-checksum
	out=$(kernel-workload again) || fail "workload again: $out"
	say "AGAIN $out"
	# bad input is refused and costs luod nothing: the session stays held
	out=$(luoctl update --kernel /luo/luod-demo.sh 2>&1) &&
		fail "a shell script was loaded as a kernel"
	say "REFUSED $out"
	out=$(kernel-workload create) && fail "a second session of the same name"
	say "EEXIST $out"
	cmd=""
	for w in $(cat /proc/cmdline); do
		case $w in luo.boot=*) ;; *) cmd="$cmd $w" ;; esac
	done
	cd / && find . -xdev | cpio -o -H newc 2>/dev/null | gzip -1 >/tmp/next.cpio.gz ||
		fail "packing the initramfs"
	say "UPDATE"
	out=$(luoctl update --kernel /luo/bzImage --initrd /tmp/next.cpio.gz \
		--append "${cmd# } luo.boot=$2" 2>&1) || fail "luoctl update --kernel: $out"
	# answered: luod reboots into the next kernel now; this machine has seconds left
	sleep 60
	fail "luod answered the update ($out) but did not reboot"
	;;
2)
	start_luod
	status
	want=$(cat /luo/expected-checksum) || fail "no expected checksum"
	out=$(kernel-workload verify "$want") || fail "workload verify: $out"
	say "VERIFIED $out"
	status
	;;
esac
