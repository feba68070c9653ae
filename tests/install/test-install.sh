#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Packaging sanity, as a packager and a user would see it: `meson install
# --destdir` into a temporary tree; the tree has the binaries, libluo.so and
# libluo.a, libluo-compat.so, the headers, luo.pc, the man pages and the
# systemd units; `pkg-config --cflags --libs luo` against that tree gives
# what a client needs; a client (client.c) built with cc and pkg-config
# only, shared and static, runs against luod started from the tree, across
# a live update done by the tree's luoctl. Units are checked with
# systemd-analyze when it is there. Prints TAP.
#
#   test-install.sh BUILD_DIR CLIENT_C
# Environment: MESON, CC (the compiler command), PKG_CONFIG, SANITIZE
# (meson's b_sanitize: the client is built with the same sanitizers,
# which an instrumented libluo needs).
# shellcheck disable=SC2317 # functions run through check() and trap
set -u

BUILD=$1
CLIENT_C=$2
MESON=${MESON:-meson}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
SANITIZE=${SANITIZE:-none}

T=$(mktemp -d /tmp/luo-install.XXXXXX) || exit 1
D=$T/dest
LOG=$T/log
n=0
failed=0
luod_pid=

cleanup() {
	if [ -n "$luod_pid" ] && kill -0 "$luod_pid" 2>/dev/null; then
		kill -KILL "$luod_pid"
		wait "$luod_pid" 2>/dev/null
	fi
	if [ "$failed" -ne 0 ]; then
		echo "# log of the failed steps:"
		sed 's/^/#   /' "$LOG"
	fi
	[ -n "${LUO_TEST_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# check DESCRIPTION COMMAND...: run it, its output into the log
check() {
	desc=$1
	shift
	echo "== $desc: $*" >>"$LOG"
	if "$@" >>"$LOG" 2>&1; then ok "$desc"; else not_ok "$desc"; fi
}
# one installed file, found by name under the tree (paths depend on the prefix and libdir)
find_one() { find "$D" -name "$1" \( -type f -o -type l \) | head -n 1; }
has() {
	f=$(find_one "$1")
	if [ -n "$f" ] && { [ -s "$f" ] || [ -L "$f" ]; }; then ok "installed: $1 (${f#"$D"})"; else not_ok "installed: $1"; fi
}
bail() {
	echo "Bail out! $1"
	failed=1
	exit 1
}

check "meson install --destdir" "$MESON" install -C "$BUILD" --no-rebuild --destdir "$D"
[ -d "$D" ] || bail "nothing installed"

for f in luod luoctl libluo.so libluo.so.1 libluo.a libluo-compat.so luo.h liveupdate.h luo.pc luo.conf \
	luod.8 luoctl.8 libluo.3 luo.3 luo-compat.7 luod.service luod.socket; do
	has "$f"
done

SBIN=$(dirname "$(find_one luod)")
BIN=$(dirname "$(find_one luoctl)")
LIBDIR=$(dirname "$(find_one libluo.so)")
PCDIR=$(dirname "$(find_one luo.pc)")
UNITDIR=$(dirname "$(find_one luod.service)")
if ! [ -x "$SBIN/luod" ] || ! [ -x "$BIN/luoctl" ] || [ -z "$PCDIR" ]; then
	bail "incomplete tree"
fi
check "headers in include/luo/" test -f "$(dirname "$(find_one luo.h)")/liveupdate.h"
# every function luo.h declares is exported, and nothing else (the protocol stays private)
exports_match() {
	grep -o '^int luo_[a-z_]*(' "$(find_one luo.h)" | sed 's/^int //; s/($//' | sort >"$T/declared"
	nm -D --defined-only "$LIBDIR/libluo.so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort >"$T/exported"
	diff "$T/declared" "$T/exported" && [ -s "$T/declared" ]
}
check "libluo.so exports exactly the functions of luo.h" exports_match

# pkg-config as a user of the tree: only its .pc files, paths rebased on it
pc() { PKG_CONFIG_LIBDIR=$PCDIR PKG_CONFIG_PATH="" PKG_CONFIG_SYSROOT_DIR=$D "$PKG_CONFIG" "$@"; }
FLAGS=$(pc --cflags --libs luo 2>>"$LOG")
echo "== pkg-config --cflags --libs luo: $FLAGS" >>"$LOG"
flags_ok() {
	case " $FLAGS " in *" -I$D/"*) ;; *) return 1 ;; esac
	case " $FLAGS " in *" -L$LIBDIR "*) ;; *) return 1 ;; esac
	case " $FLAGS " in *" -lluo "*) ;; *) return 1 ;; esac
}
if flags_ok; then ok "pkg-config --cflags --libs luo: $FLAGS"; else not_ok "pkg-config --cflags --libs luo: $FLAGS"; fi
check "pkg-config --modversion luo" pc --modversion luo
# pkgconf rebases variables on the sysroot, pkg-config did not
pc_libdir() { v=$(pc --variable=libdir luo); [ "$v" = "$LIBDIR" ] || [ "$v" = "${LIBDIR#"$D"}" ]; }
check "luo.pc's libdir is where libluo.so is" pc_libdir

SAN=
[ "$SANITIZE" = none ] || SAN="-fsanitize=$SANITIZE"
# word splitting of $CC, $SAN and the flags is wanted
# shellcheck disable=SC2086,SC2046
check "cc client.c \$(pkg-config --cflags --libs luo)" \
	$CC $SAN -Wall -Wextra -Werror -o "$T/client" "$CLIENT_C" $(pc --cflags --libs luo)
# shellcheck disable=SC2086,SC2046
check "cc client.c against libluo.a" \
	$CC $SAN -Wall -Wextra -Werror -o "$T/client-static" "$CLIENT_C" $(pc --cflags luo) \
	"$LIBDIR/libluo.a"
check "the client uses the installed libluo.so" \
	sh -c "LD_LIBRARY_PATH='$LIBDIR' ldd '$T/client' | grep -q '$LIBDIR/libluo.so.1'"
check "the static client needs no libluo.so" \
	sh -c "! ldd '$T/client-static' | grep -q libluo"

# a real luod from the tree
export LD_LIBRARY_PATH="$LIBDIR"
SOCK=$T/luod.sock
"$SBIN/luod" --socket "$SOCK" --state-dir "$T/state" 2>>"$T/luod.log" &
luod_pid=$!
i=0
while [ $i -lt 500 ] && ! "$BIN/luoctl" --socket "$SOCK" status >/dev/null 2>&1; do
	kill -0 "$luod_pid" 2>/dev/null || break
	sleep 0.01
	i=$((i + 1))
done
check "installed luod serves, installed luoctl talks to it" "$BIN/luoctl" --socket "$SOCK" status
check "client (shared) keeps a memfd across a live update" "$T/client" "$SOCK" "$BIN/luoctl"
check "client (static) keeps a memfd across a live update" "$T/client-static" "$SOCK" "$BIN/luoctl"
check "installed luod re-executed itself: generation 2, same pid" \
	sh -c "'$BIN/luoctl' --socket '$SOCK' --json status | grep -q '\"generation\": 2,.*\"pid\": $luod_pid,'"
kill -TERM "$luod_pid"
wait "$luod_pid"
st=$?
luod_pid=
if [ $st -eq 0 ]; then ok "installed luod stops cleanly"; else not_ok "installed luod stops cleanly (status $st)"; fi
[ $st -eq 0 ] || cat "$T/luod.log" >>"$LOG"

for p in luod.8 luoctl.8 libluo.3 luo-compat.7; do
	name=${p%.*}
	sec=${p##*.}
	check "man page $p is roff from scdoc" grep -q "^\\.TH \"$name\" \"$sec\"" "$(find_one "$p")"
done
check "luo.3 points at libluo.3" grep -qx '.so man3/libluo.3' "$(find_one luo.3)"

# the units: paths point into the prefix; systemd-analyze checks them against the tree
check "luod.service runs the installed luod" grep -q "^ExecStart=${SBIN#"$D"}/luod\$" "$UNITDIR/luod.service"
check "luod.socket is SOCK_SEQPACKET" grep -q '^ListenSequentialPacket=' "$UNITDIR/luod.socket"
check "luod.socket's group is luo, which sysusers.d/luo.conf makes" sh -c \
	"grep -qx 'SocketGroup=luo' '$UNITDIR/luod.socket' && grep -qx 'g luo - -' '$(find_one luo.conf)' && case '$(find_one luo.conf)' in */sysusers.d/luo.conf) ;; *) exit 1 ;; esac"
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T/units"
	for u in luod.service luod.socket; do
		sed "s#=${SBIN#"$D"}/#=$SBIN/#; s#=${BIN#"$D"}/#=$BIN/#" "$UNITDIR/$u" >"$T/units/$u"
	done
	# verify exits 0 on unknown keys and bad values too: any message is a failure
	verify_quiet() {
		systemd-analyze verify --man=no "$T/units/luod.socket" "$T/units/luod.service" \
			>"$T/verify.out" 2>&1
		st=$?
		cat "$T/verify.out"
		[ "$st" -eq 0 ] && ! [ -s "$T/verify.out" ]
	}
	check "systemd-analyze verify luod.service luod.socket: no message" verify_quiet
	score=$(systemd-analyze security --offline=true "$T/units/luod.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for luod.service: \([0-9.]*\).*/\1/p')
	echo "== systemd-analyze security: exposure $score" >>"$LOG"
	if [ -z "$score" ]; then
		skip "systemd-analyze security" "no offline security analysis here"
	elif awk "BEGIN { exit !($score <= 5.0) }"; then
		ok "luod.service hardening: exposure $score (at most 5.0)"
	else
		not_ok "luod.service hardening: exposure $score (at most 5.0)"
	fi
else
	skip "systemd-analyze verify" "systemd-analyze not installed"
fi

echo "1..$n"
exit $failed
