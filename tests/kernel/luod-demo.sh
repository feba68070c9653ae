#!/bin/sh
# The kernel backend in the reference VM (run by init.sh as a step): one
# hybrid session "vm-workload" with a 64 MiB memfd, a TCP listener on
# 127.0.0.1:7070 and a pipe (tests/kernel/workload.c).
#   luod-demo.sh 1 NEXT  luod on the real /dev/liveupdate; the workload makes
#                        its session and exits; `luoctl update` replaces luod;
#                        the restarted workload finds all three intact and
#                        hands them on; bad input is refused; then `luoctl
#                        update --kernel` kexecs into boot NEXT
#   luod-demo.sh 2 NEXT  after the kexec: luod again; `luoctl show` says per
#                        file where it lives; a client connects to the port
#                        before the workload runs; the workload gets its memfd
#                        back (same checksum), accepts that connection on the
#                        re-created listener, and is told ENOLINK for the pipe.
#                        Then luod as under a unit with LUOSession=: started
#                        by `kernel-workload sd-exec` with kernel session
#                        "luod-sd" as fd 3 (what systemd 262 does), the
#                        workload again, luod's own update (the session
#                        crosses it), and a kexec into boot NEXT
#   luod-demo.sh 3       after it: luod given the incoming "luod-sd" the same
#                        way restores from it; the same checks
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

# start_luod [sd-exec NAME create|retrieve]: directly, or handed a kernel session
start_luod() {
	mkdir -p /run/luo /tmp/luo-state
	if [ -n "$1" ]; then
		kernel-workload "$@" /luo/luod --state-dir /tmp/luo-state 2>/tmp/luod.log &
	else
		luod --state-dir /tmp/luo-state 2>/tmp/luod.log &
	fi
	luod_pid=$!
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

stop_luod() {
	kill "$luod_pid"
	i=0
	while kill -0 "$luod_pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "luod did not stop"
		sleep 0.1
	done
	rm -f "$LUO_SOCKET"
}

show() {
	st=$(luoctl show vm-workload --json) || fail "luoctl show"
	say "SHOW$1 $(echo "$st" | tr -d '\n')"
}

# kexec_into BOOT: pack the initramfs up again, luoctl update --kernel; never returns
kexec_into() {
	cmd=""
	for w in $(cat /proc/cmdline); do
		case $w in luo.boot=*) ;; *) cmd="$cmd $w" ;; esac
	done
	cd / && find . -xdev | cpio -o -H newc 2>/dev/null | gzip -1 >/tmp/next.cpio.gz ||
		fail "packing the initramfs"
	say "UPDATE $1"
	out=$(luoctl update --kernel /luo/bzImage --initrd /tmp/next.cpio.gz \
		--append "${cmd# } luo.boot=$1" 2>&1) || fail "luoctl update --kernel: $out"
	# answered: luod reboots into the next kernel now; this machine has seconds left
	sleep 60
	fail "luod answered the update ($out) but did not reboot"
}

# after_kexec TAG: what the kexec brought, checked by the workload
after_kexec() {
	status
	show "3$1"
	out=$(kernel-workload client) || fail "client: $out"
	say "CLIENT$1 $out"
	want=$(cat /luo/expected-checksum) || fail "no expected checksum"
	out=$(kernel-workload verify "$want") || fail "workload verify: $out"
	echo "$out" | while IFS= read -r l; do say "VERIFIED$1 $l"; done
	status
}

# the listener is on 127.0.0.1: the loopback interface must be up
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

case $1 in
1)
	start_luod
	status
	out=$(kernel-workload create) || fail "workload create: $out"
	sum=${out#CHECKSUM }
	say "CREATED $sum"
	echo "$sum" >/luo/expected-checksum
	show 1
	out=$(luoctl update 2>&1) || fail "luoctl update (luod's own): $out"
	say "LUOD-UPDATED"
	out=$(kernel-workload again "$sum") || fail "workload again: $out"
	say "AGAIN $out"
	# luod killed: the keeper gives the session back, luod makes a new kernel session
	kill -9 "$luod_pid"
	wait "$luod_pid" 2>/dev/null
	rm -f "$LUO_SOCKET"
	start_luod
	status
	out=$(kernel-workload again "$sum") || fail "workload again after the crash: $out"
	say "CRASH-AGAIN $out"
	# a socket-activated server's listener, held by luod while no server runs
	out=$(luoctl exec --session web --create --listen tcp:127.0.0.1:8080 -- true 2>&1) ||
		fail "luoctl exec: $out"
	say "EXEC-HELD"
	# bad input is refused and costs luod nothing: the session stays held
	out=$(luoctl update --kernel /luo/luod-demo.sh 2>&1) &&
		fail "a shell script was loaded as a kernel"
	say "REFUSED $out"
	out=$(kernel-workload create) && fail "a second session of the same name"
	say "EEXIST $out"
	show 2
	status
	kexec_into "$2"
	;;
2)
	start_luod
	after_kexec ""
	# the luoctl exec server comes back on the same port: a client is already waiting
	out=$(kernel-workload client 8080) || fail "client of the exec server: $out"
	st=$(luoctl show web --json) && say "SHOW-WEB $(echo "$st" | tr -d '\n')"
	out=$(luoctl exec --session web -- kernel-workload serve 2>&1) || fail "luoctl exec: $out"
	say "EXEC $out"
	luoctl history --json >/tmp/h 2>&1 && say "HISTORY $(tr -d '\n' </tmp/h)"
	# now as systemd 262 runs a unit with LUOSession=luod-sd
	stop_luod
	start_luod sd-exec luod-sd create
	status
	out=$(kernel-workload create) || fail "workload create, luod given a session: $out"
	sum=${out#CHECKSUM }
	echo "$sum" >/luo/expected-checksum
	say "SD-CREATED $sum"
	# luod's own update keeps the session systemd gave it
	out=$(luoctl update 2>&1) || fail "luoctl update, luod given a session: $out"
	status
	out=$(kernel-workload again "$sum") || fail "workload again, luod given a session: $out"
	say "SD-AGAIN $out"
	kexec_into "$2"
	;;
3)
	start_luod sd-exec luod-sd retrieve
	after_kexec "-SD"
	;;
esac
