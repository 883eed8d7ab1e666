#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run.sh — the Debian package, tested the way a user gets it (a test of
# `make check-pkg`; TAP on stdout). Needs root, the network to the Debian
# archive the host's apt sources name, and the packages in
# .ci/debian-packages-pkg.
#
#   1. the native package, built with its tests; lintian --pedantic clean;
#      the maintainer scripts create the user and enable and start the unit
#   2. arm64 and armhf cross builds (-Pcross,nocheck) in one clean bookworm
#      chroot made by mmdebstrap
#   3. the package built in a clean trixie chroot
#   4. a booted system: an arm64 Debian 12 rootfs with the arm64 package
#      installed, booted under qemu-system-aarch64 -M virt with systemd as
#      PID 1 (tests/pkg/vm-test.sh runs in it and prints the TAP lines)
#
# TBGW_PKG_SRC    the source tree (default: two levels above this script)
# TBGW_PKG_OUT    where everything is built (required)
# TBGW_PKG_CACHE  chroots and kernel kept between runs (default $TBGW_PKG_OUT/cache);
#                 a chroot is reused only while debian/control is unchanged
# TBGW_PKG_TIMEOUT seconds the VM may run (default 900)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${TBGW_PKG_SRC:-$(cd "$here/../.." && pwd)}
out=${TBGW_PKG_OUT:?TBGW_PKG_OUT must name a work directory}
cache=${TBGW_PKG_CACHE:-$out/cache}
vm_timeout=${TBGW_PKG_TIMEOUT:-900}
jobs=$(nproc 2>/dev/null || echo 2)
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

n=0
failed=0
bail () { echo "Bail out! $*"; exit 1; }
# result NAME RC [LOG]: one TAP line; a failure shows the end of its log
result () {
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then
		echo "ok $n - $1"
	else
		failed=$((failed + 1))
		echo "not ok $n - $1"
		[ -n "${3:-}" ] && [ -f "$3" ] && tail -n 40 "$3" | sed 's/^/# /'
	fi
}
skip () { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# timed NAME CMD...: runs CMD, says how long it took (the budget is watched)
timed () {
	local name=$1 t0=$SECONDS rc
	shift
	"$@"
	rc=$?
	echo "# $name: $((SECONDS - t0)) s"
	return $rc
}

[ "$(id -u)" -eq 0 ] || bail "needs root (mmdebstrap, chroot, binfmt_misc)"
for tool in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian mmdebstrap:mmdebstrap \
            arch-test:arch-test qemu-aarch64-static:qemu-user-static \
            qemu-system-aarch64:qemu-system-arm cpio:cpio; do
	command -v "${tool%%:*}" > /dev/null || bail "${tool%%:*} is missing (Debian package ${tool#*:})"
done
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version) || bail "no debian/changelog"
mkdir -p "$out" "$cache"
jobs_bg=()
cleanup () {
	local j d
	for j in "${jobs_bg[@]}"; do kill "$j" 2> /dev/null; done
	wait 2> /dev/null
	for d in "$cache"/*/proc; do mountpoint -q "$d" && umount -l "$d"; done
}
trap cleanup EXIT

# The tree as git has it (no build output of the developer's), else as is.
copy_tree () {
	rm -rf --one-file-system "$1" && mkdir -p "$1" || return 1
	if git -C "$src" rev-parse --git-dir > /dev/null 2>&1; then
		(cd "$src" && git ls-files -z -c -o --exclude-standard | tar --null -cf - -T -) | tar -xf - -C "$1"
	else
		(cd "$src" && tar --exclude=./_build --exclude=./.git -cf - .) | tar -xf - -C "$1"
	fi
}

# ---- foreign architectures: qemu-user through binfmt_misc --------------------
# (containers often have binfmt_misc neither mounted nor registered)
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || bail "cannot mount binfmt_misc"
fi
for a in aarch64 arm; do
	[ -e /proc/sys/fs/binfmt_misc/qemu-$a ] ||
		/usr/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-$a.conf ||
		bail "cannot register qemu-$a with binfmt_misc"
done

# The host's Debian sources (deb822 or one-line) for SUITE, without the
# security suite: this archive has served a broken armhf index for it, and
# the Multi-Arch: same libraries of all architectures must come from the
# same suites. Another release than bookworm: its main suite alone.
sources () {
	local suite=$1 f
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		[ -s "$f" ] || continue
		case $f in
		*.sources)
			awk -v suite="$suite" '
				BEGIN { RS = ""; ORS = "\n\n" }
				/(^|\n)Suites:[^\n]*bookworm/ && !/-security/ {
					if (suite != "bookworm") sub(/Suites:[^\n]*/, "Suites: " suite)
					print
				}' "$f" ;;
		*)
			if [ "$suite" = bookworm ]; then
				sed -n '/-security/ d; /^deb .* bookworm/ p' "$f"
			else
				sed -n '/^deb .* bookworm\( \|$\)/ { s/ bookworm/ '"$suite"'/; p; q }' "$f"
			fi ;;
		esac
		return 0
	done
	return 1
}
# chroot_run DIR CMD...: with a /proc of its own, for this command only
# (mmdebstrap made /dev; nothing of the host's is bound in, so removing a
# chroot never reaches into the host)
chroot_run () {
	local dir=$1 rc
	shift
	mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc" || return 1
	chroot "$dir" "$@"
	rc=$?
	umount "$dir/proc" 2> /dev/null
	return $rc
}
# make_chroot NAME SUITE ARCHS BUILD-DEP-ARCHS PROFILES [INCLUDE]: a buildd
# chroot with tbgw's build dependencies, kept in the cache under a key of
# debian/control and the arguments
make_chroot () {
	local name=$1 suite=$2 archs=$3 depsfor=$4 profiles=$5 include=${6:-} key a
	local dir=$cache/$name
	sources "$suite" > "$cache/$name.sources.new" || { echo "no apt sources on the host"; return 1; }
	key=$( (cat "$src/debian/control" "$cache/$name.sources.new"; echo "$*") | sha256sum | cut -c1-16)
	if [ -f "$dir/.tbgw-key" ] && [ "$(cat "$dir/.tbgw-key")" = "$key" ]; then
		echo "# $name: cached chroot"
		return 0
	fi
	rm -rf --one-file-system "$dir"
	mv "$cache/$name.sources.new" "$cache/$name.sources"
	mmdebstrap --variant=buildd --architectures="${archs// /,}" --include="ca-certificates${include:+,$include}" \
		--skip=cleanup/apt/lists "$suite" "$dir" "$cache/$name.sources" || return 1
	mkdir -p "$dir/build" && copy_tree "$dir/build/tbgw" || return 1
	for a in $depsfor; do
		chroot_run "$dir" apt-get build-dep -y -q --no-install-recommends \
			${a:+$( [ "$a" = native ] || echo "-a$a")} ${profiles:+-P$profiles} ./build/tbgw/ || return 1
	done
	echo "$key" > "$dir/.tbgw-key"
}
# build_in CHROOT NAME ARGS...: dpkg-buildpackage in the chroot's copy of the tree
build_in () {
	local dir=$1 name=$2
	shift 2
	copy_tree "$dir/build/tbgw" || return 1
	rm -f "$dir"/build/*.deb "$dir"/build/*.changes
	(cd "$dir/build/tbgw" && chroot_run "$dir" sh -c "cd /build/tbgw && DEB_BUILD_OPTIONS='parallel=$jobs${nocheck:+ nocheck}' dpkg-buildpackage $* -b -us -uc")
}

# make_rootfs: the arm64 base system the VM boots, kept in the cache: what a
# fresh Debian 12 with a broker has, plus the libraries tbgw links (so that
# installing the package is quick); and the kernel, from the cross chroot's
# arm64 package lists
make_rootfs () {
	local base=$cache/rootfs-arm64 key kernel_pkg
	local include=systemd-sysv,udev,dbus,mosquitto,mosquitto-clients,procps,libglib2.0-0,libgpiod2,libgudev-1.0-0,libjansson4,libmosquitto1,libsqlite3-0
	key=$(echo "$include" | sha256sum | cut -c1-16)
	if [ -f "$base/.tbgw-key" ] && [ "$(cat "$base/.tbgw-key")" = "$key" ]; then
		echo "# arm64 rootfs: cached"
	else
		rm -rf --one-file-system "$base"
		timed "arm64 rootfs (mmdebstrap, qemu-user)" mmdebstrap --arch=arm64 --variant=apt \
			--include="$include" --skip=cleanup/apt/lists bookworm "$base" "$cache/bookworm-cross.sources" ||
			return 1
		echo "$key" > "$base/.tbgw-key"
	fi
	kernel_pkg=$(chroot "$cross" apt-cache depends linux-image-arm64:arm64 |
	             awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$kernel_pkg" ] || { echo "no linux-image-arm64:arm64 in the cross chroot's lists"; return 1; }
	kernel=$cache/kernel-${kernel_pkg%%:*}
	if [ ! -d "$kernel/boot" ]; then
		rm -rf "$kernel" "$cross/tmp/kernel" && mkdir -p "$cross/tmp/kernel" &&
			chroot "$cross" sh -c "cd /tmp/kernel && apt-get download -q $kernel_pkg" &&
			dpkg-deb -x "$cross"/tmp/kernel/*.deb "$kernel" || return 1
	fi
	ln -sfn "${kernel##*/}" "$cache/kernel-arm64"
}

# The chroots and the VM's base system are made while the native package
# builds: their downloads and unpacking overlap the compiler and the tests'
# waits for brokers and buses.
cross=$cache/bookworm-cross
trixie=$cache/trixie
rm -f "$out"/*.rc
(
	timed "bookworm cross chroot" make_chroot bookworm-cross bookworm "amd64 arm64 armhf" "arm64 armhf" \
		cross,nocheck crossbuild-essential-arm64,crossbuild-essential-armhf > "$out/cross-chroot.log" 2>&1
	rc=$?
	echo $rc > "$out/cross-chroot.rc"
	[ $rc -eq 0 ] && make_rootfs > "$out/rootfs.log" 2>&1
	echo $? > "$out/rootfs.rc"
) &
jobs_bg+=($!)
(
	timed "trixie chroot" make_chroot trixie trixie amd64 native nocheck > "$out/trixie-chroot.log" 2>&1
	echo $? > "$out/trixie-chroot.rc"
) &
jobs_bg+=($!)
# bg_result NAME: the exit status the background step NAME left
bg_result () {
	while [ ! -f "$out/$1.rc" ]; do
		kill -0 "${jobs_bg[0]}" 2> /dev/null || kill -0 "${jobs_bg[1]}" 2> /dev/null || break
		sleep 1
	done
	cat "$out/$1.rc" 2> /dev/null || echo 1
}

# ---- 1. the native package ---------------------------------------------------
native=$out/native
copy_tree "$native/tbgw" || bail "cannot copy the tree"
rm -f "$native"/*.deb "$native"/*.changes "$native"/*.buildinfo
(cd "$native/tbgw" && DEB_BUILD_OPTIONS="parallel=$jobs" \
	timed "native build with tests" dpkg-buildpackage -b -us -uc > "$native/build.log" 2>&1)
result "native package builds and its tests pass (dpkg-buildpackage)" $? "$native/build.log"
deb=$native/tbgw_${version}_$(dpkg --print-architecture).deb
if [ -f "$deb" ]; then
	lintian --pedantic --fail-on error,warning "$native"/tbgw_*.changes > "$native/lintian.log" 2>&1
	rc=$?
	sed 's/^/# lintian: /' "$native/lintian.log"
	result "lintian --pedantic: no error or warning" $rc
	rm -rf "$native/control" && dpkg-deb -e "$deb" "$native/control"
	grep -q "deb-systemd-helper enable 'tbgwd.service'" "$native/control/postinst" &&
		grep -q "deb-systemd-invoke \$_dh_action 'tbgwd.service'" "$native/control/postinst"
	result "postinst enables and starts tbgwd.service" $?
	grep -q '^ *systemd-sysusers .*tbgw.conf' "$native/control/postinst"
	result "postinst creates _tbgw (systemd-sysusers)" $?
	grep -qx /etc/tbgw/tbgw.conf "$native/control/conffiles"
	result "/etc/tbgw/tbgw.conf is a conffile" $?
	dpkg-deb -c "$deb" > "$native/contents"
	grep -q ' \./usr/share/dbus-1/interfaces/org\.tbgw\.Gateway1\.xml$' "$native/contents" &&
		grep -q ' \./usr/share/dbus-1/system\.d/org\.tbgw\.Gateway1\.conf$' "$native/contents" &&
		grep -q ' \./usr/lib/udev/rules\.d/60-tbgw-gpio\.rules$' "$native/contents"
	result "the package has the API XML, the system bus policy and the GPIO udev rule" $?
else
	for t in lintian postinst-enable postinst-sysusers conffile contents; do
		skip "$t" "no native package"
	done
fi

# ---- 2. cross builds ---------------------------------------------------------
rc=$(bg_result cross-chroot)
grep '^# ' "$out/cross-chroot.log"
result "a clean bookworm chroot with the arm64 and armhf build dependencies (mmdebstrap)" $rc "$out/cross-chroot.log"
for arch in arm64 armhf; do
	if [ $rc -ne 0 ]; then skip "cross build $arch" "no chroot"; continue; fi
	nocheck=1 timed "cross build $arch" build_in "$cross" "$arch" -a"$arch" -Pcross,nocheck > "$out/cross-$arch.log" 2>&1
	crossdeb=$cross/build/tbgw_${version}_$arch.deb
	[ -f "$crossdeb" ] && cp "$crossdeb" "$out/" &&
		[ "$(dpkg-deb -f "$crossdeb" Architecture)" = "$arch" ] &&
		dpkg-deb --fsys-tarfile "$crossdeb" | tar -xOf - ./usr/sbin/tbgwd > "$out/tbgwd-$arch" &&
		# ELF e_machine: 0xb7 aarch64, 0x28 arm
		od -An -tx1 -j18 -N2 "$out/tbgwd-$arch" | grep -q "$( [ "$arch" = arm64 ] && echo b7 || echo 28) 00"
	result "cross build $arch (-Pcross,nocheck): an $arch package with an $arch tbgwd" $? "$out/cross-$arch.log"
done
grep -h '^# ' "$out"/cross-arm*.log 2> /dev/null

# ---- 3. trixie (while the VM's base system may still be in the making) ------
rc=$(bg_result trixie-chroot)
grep '^# ' "$out/trixie-chroot.log"
result "a clean trixie chroot with the build dependencies (mmdebstrap)" $rc "$out/trixie-chroot.log"
if [ $rc -eq 0 ]; then
	# The GPIO backend for libgpiod 2 (trixie's) may not be in this tree yet:
	# then the package is built without GPIO and that check is skipped.
	profile=
	grep -q 'written for libgpiod 1.x' "$src/configure.ac" && profile=,pkg.tbgw.nogpio
	nocheck=1 timed "trixie build" build_in "$trixie" trixie -Pnocheck$profile > "$out/trixie-build.log" 2>&1
	tdeb=$trixie/build/tbgw_${version}_amd64.deb
	[ -f "$tdeb" ] && cp "$tdeb" "$out/tbgw_${version}_amd64-trixie.deb"
	result "trixie: the package builds${profile:+ (without GPIO)}" $? "$out/trixie-build.log"
	if [ -n "$profile" ]; then
		skip "trixie: tbgwd uses libgpiod 2" "this tree has no libgpiod 2 backend"
	else
		dpkg-deb -f "$out/tbgw_${version}_amd64-trixie.deb" Depends | grep -q 'libgpiod3'
		result "trixie: tbgwd uses libgpiod 2 (the package depends on libgpiod3)" $?
	fi
	dpkg-deb -c "$out/tbgw_${version}_amd64-trixie.deb" > "$out/trixie-contents"
	grep -q ' \./usr/lib/systemd/system/tbgwd\.service$' "$out/trixie-contents" &&
		dpkg-deb -e "$out/tbgw_${version}_amd64-trixie.deb" "$out/trixie-control" &&
		grep -q "deb-systemd-helper enable 'tbgwd.service'" "$out/trixie-control/postinst"
	result "trixie: the unit in /usr/lib/systemd/system, enabled by the postinst" $?
fi

# ---- 4. the booted arm64 system ----------------------------------------------
armdeb=$out/tbgw_${version}_arm64.deb
rc=$(bg_result rootfs)
grep '^# ' "$out/rootfs.log" 2> /dev/null
result "the arm64 base system and kernel for the VM" "$rc" "$out/rootfs.log"
if [ -f "$armdeb" ] && [ "$rc" -eq 0 ]; then
	timed "arm64 VM" "$here/boot-vm.sh" "$armdeb" "$out/vm" "$cache/rootfs-arm64" "$cache/kernel-arm64" \
		"$vm_timeout" > "$out/vm.log" 2>&1
	rc=$?
	# its TAP lines, renumbered into ours
	while IFS= read -r line; do
		case $line in
		"ok "*|"not ok "*)
			n=$((n + 1))
			[ "${line#not ok}" != "$line" ] && failed=$((failed + 1))
			echo "$line" | sed -E "s/^(not ok|ok) [0-9]+/\1 $n/; s/ - / - VM: /" ;;
		"# "*) echo "$line" ;;
		esac
	done < <(sed -n 's/^.*TBGW-VM: //p' "$out/vm.log" | tr -d '\r')
	grep '^# ' "$out/vm.log"
	result "the VM booted, ran every check and powered off" $rc "$out/vm.log"
else
	skip "booted arm64 system" "no arm64 package"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
