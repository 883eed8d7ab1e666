#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run-vm.sh — runs tests/bluez/guest-test.py against the real bluetoothd in an
# amd64 VM and passes its TAP output through (it is the test of
# `make check-bluez`).
#
# No radio here, so the kernel's hci_vhci and btvirt (bluez-test-tools) make
# virtual LE controllers that see each other, and Debian's own bluetoothd
# manages them. The guest is Debian 12 amd64 like the host, so the freshly
# built tbgwd and tbgwctl run in it as they are: the rootfs (mmdebstrap, the
# packages below plus the ones that hold their libraries) is booted as the
# initramfs with systemd as PID 1. The rootfs and the kernel are cached in
# TBGW_BLUEZ_CACHE; the test, its units and the binaries go into a small
# second cpio archive appended to the cached one, so they are fresh every run.
#
# The guest prints its TAP lines prefixed with "TBGW-BLUEZ " on the serial
# console; everything else on the console becomes a "#" comment.
#
# TBGW_BUILD          the build tree with src/tbgwd and cli/tbgwctl (required)
# TBGW_SRCDIR         the source tree (required)
# TBGW_BLUEZ_CACHE    kernel and rootfs cache (default: $TBGW_BUILD/bluez-vm)
# TBGW_BLUEZ_TIMEOUT  seconds the VM may run before it is killed (default 480)
# TBGW_BLUEZ_SOURCES  the APT sources file the rootfs is built from (default:
#                     the host's own, /etc/apt/sources.list.d/debian.sources
#                     or /etc/apt/sources.list)
set -euo pipefail

build=${TBGW_BUILD:?TBGW_BUILD must name the build tree}
srcdir=${TBGW_SRCDIR:?TBGW_SRCDIR must name the source tree}
cache=${TBGW_BLUEZ_CACHE:-$build/bluez-vm}
timeout_s=${TBGW_BLUEZ_TIMEOUT:-480}
suite=bookworm

bail () { echo "Bail out! $*"; exit 1; }

for tool in qemu-system-x86_64:qemu-system-x86 mmdebstrap:mmdebstrap cpio:cpio depmod:kmod \
            dpkg-deb:dpkg dpkg-query:dpkg apt-get:apt apt-cache:apt; do
	command -v "${tool%%:*}" > /dev/null ||
		bail "${tool%%:*} is missing (Debian package ${tool#*:}; see .ci/debian-packages-bluez)"
done
[ "$(id -u)" -eq 0 ] || bail "building the guest's rootfs needs root (mmdebstrap, device nodes)"
[ "$(dpkg --print-architecture)" = amd64 ] || bail "the guest is amd64 and runs this host's binaries: an amd64 host is needed"
for b in src/tbgwd cli/tbgwctl; do
	[ -x "$build/$b" ] || bail "$build/$b is not built"
done
sources=${TBGW_BLUEZ_SOURCES:-}
if [ -z "$sources" ]; then
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		[ -f "$f" ] && { sources=$f; break; }
	done
fi
if [ -z "$sources" ] || [ ! -f "$sources" ]; then
	bail "no APT sources file for the guest (TBGW_BLUEZ_SOURCES)"
fi
mkdir -p "$cache"
t0=$SECONDS

# ---- the kernel: Debian's, whose hci_vhci makes the virtual controllers
kernel_pkg=$(apt-cache depends linux-image-amd64 2> /dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kernel_pkg" ] || bail "no linux-image-amd64 in apt's lists (apt-get update)"
kver=${kernel_pkg#linux-image-}
kdir=$cache/kernel-$kver
if [ ! -e "$kdir/.complete" ]; then
	echo "# downloading $kernel_pkg-unsigned"
	rm -rf "$kdir" "$cache/deb"
	mkdir -p "$cache/deb"
	(cd "$cache/deb" && apt-get download "$kernel_pkg-unsigned" > /dev/null 2>&1) ||
		bail "apt-get download $kernel_pkg-unsigned failed"
	dpkg-deb -x "$cache"/deb/*.deb "$kdir"
	rm -rf "$cache/deb"
	touch "$kdir/.complete"
fi
vmlinuz=$kdir/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || bail "no $vmlinuz in $kernel_pkg-unsigned"

# ---- the rootfs: what the test uses, and the packages that hold the
# libraries of the binaries under test (so a new dependency needs no edit here)
# (python3-cryptography: AES-CCM for the encrypted advertisements the test sends)
pkgs=(systemd-sysv udev dbus kmod procps bluez bluez-test-tools python3 python3-dbus python3-gi
      python3-cryptography mosquitto mosquitto-clients)
libpkgs=$(for b in src/tbgwd cli/tbgwctl; do ldd "$build/$b"; done | awk '/=> \// { print $3 }' | sort -u |
          while read -r lib; do
		real=$(readlink -f "$lib")
		{ dpkg-query -S "$lib" || dpkg-query -S "$real" || dpkg-query -S "${real#/usr}"; } 2> /dev/null |
			head -n 1 | cut -d: -f1
          done | sort -u)
[ -n "$libpkgs" ] || bail "cannot tell which packages hold tbgwd's libraries"
# shellcheck disable=SC2206
pkgs+=($libpkgs)
key=$(printf '%s\n' 1 "$suite" "$kernel_pkg" "${pkgs[@]}" | sha256sum | cut -c1-16)
base=$cache/rootfs-$key.cpio
if [ ! -f "$base" ]; then
	rm -f "$cache"/rootfs-*.cpio
	root=$cache/rootfs.tmp
	rm -rf "$root"
	echo "# building the rootfs: ${pkgs[*]}"
	# shellcheck disable=SC2016 # $1 is mmdebstrap's, in the hook
	mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "${pkgs[*]}")" \
		--customize-hook='chroot "$1" apt-get clean' \
		"$suite" "$root" "$sources" > "$cache/mmdebstrap.log" 2>&1 ||
		{ tail -n 30 "$cache/mmdebstrap.log" | sed 's/^/# /'; bail "mmdebstrap failed"; }
	# Bluetooth, its crypto and what they need: hci_vhci ← bluetooth ←
	# ecdh_generic, rfkill, crc16; SMP's cmac and ecb
	mods=$root/lib/modules/$kver
	for d in crypto lib net/bluetooth net/rfkill drivers/bluetooth arch/x86/crypto; do
		mkdir -p "$mods/kernel/$d"
		cp -a "$kdir/lib/modules/$kver/kernel/$d/." "$mods/kernel/$d/"
	done
	cp "$kdir/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$mods/"
	depmod -b "$root" "$kver"
	echo hci_vhci > "$root/etc/modules-load.d/bt-vhci.conf"
	(cd "$root" && find . -xdev | cpio -o -H newc --quiet) > "$base.tmp"
	mv "$base.tmp" "$base"
	rm -rf "$root"
	echo "# rootfs built in $((SECONDS - t0)) s"
fi

# ---- what changes every run: the binaries, the test, its units
work=$(mktemp -d "$cache/run.XXXXXX")
qemu_pid=
# shellcheck disable=SC2317 # (a trap)
cleanup () {
	if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2> /dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
ov=$work/overlay
install -D -m 755 "$build/src/tbgwd" "$ov/usr/local/sbin/tbgwd"
install -D -m 755 "$build/cli/tbgwctl" "$ov/usr/local/bin/tbgwctl"
install -D -m 644 "$srcdir/dbus/org.tbgw.Gateway1.conf" "$ov/etc/dbus-1/system.d/org.tbgw.Gateway1.conf"
for f in guest-test.py peripheral.py; do
	install -D -m 755 "$srcdir/tests/bluez/$f" "$ov/usr/local/lib/tbgw-bluez/$f"
done
sd=$ov/etc/systemd/system
install -D -m 644 "$srcdir/tests/bluez/tbgw-bluez-test.service" "$sd/tbgw-bluez-test.service"
install -D -m 644 "$srcdir/tests/bluez/bluetooth-experimental.conf" "$sd/bluetooth.service.d/experimental.conf"
mkdir -p "$sd/multi-user.target.wants"
ln -s ../tbgw-bluez-test.service "$sd/multi-user.target.wants/tbgw-bluez-test.service"
# gettys would cut the test's console output; the test runs its own broker
for unit in serial-getty@ttyS0.service getty@tty1.service mosquitto.service; do
	ln -s /dev/null "$sd/$unit"
done
(cd "$ov" && find . | cpio -o -H newc --quiet) > "$work/overlay.cpio"
# the kernel unpacks both archives, the later one over the earlier
cat "$base" "$work/overlay.cpio" > "$work/initrd"

# ---- boot it; the console is the test's output
console=$work/console
touch "$console"
start=$SECONDS
timeout "$timeout_s" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
	-nographic -no-reboot -kernel "$vmlinuz" -initrd "$work/initrd" \
	-append "console=ttyS0 rdinit=/sbin/init panic=-1 quiet" \
	-nodefaults -serial file:"$console" -monitor none > "$work/qemu.out" 2>&1 &
qemu_pid=$!
tail -n +1 -F --pid="$qemu_pid" "$console" 2> /dev/null | while IFS= read -r line; do
	line=${line%$'\r'}
	case $line in
	*"TBGW-BLUEZ "*) echo "${line#*TBGW-BLUEZ }" ;;
	# the test is over: no need to wait for the guest's poweroff
	*"TBGW-BLUEZ-EXIT "*) echo "# | $line"; kill "$qemu_pid" 2> /dev/null || true ;;
	*) echo "# | $line" ;;
	esac
done
rc=0
wait "$qemu_pid" || rc=$?
qemu_pid=
sed 's/^/# qemu: /' "$work/qemu.out"
echo "# VM ran for $((SECONDS - start)) s (whole run $((SECONDS - t0)) s)"
exit_seen=$(tr -d '\r' < "$console" | sed -n 's/.*TBGW-BLUEZ-EXIT \([0-9]*\).*/\1/p' | tail -n 1)
if [ -z "$exit_seen" ]; then
	[ "$rc" -ne 124 ] || bail "the VM was killed after ${timeout_s} s (TBGW_BLUEZ_TIMEOUT)"
	bail "the guest test did not run to its end (console above)"
fi
exit "$exit_seen"
