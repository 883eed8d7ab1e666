#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run-vm.sh — runs the cross-built hardware tests in an arm64 VM and passes
# their TAP output through (it is a test of `make check-hw`).
#
# There is no GPIO on the build host, so Debian's arm64 kernel boots under
# qemu-system-aarch64 -M virt (TCG), whose PL061 is a real gpiochip0 with 8
# lines; line 3 is the machine's power button. The initramfs holds busybox,
# mosquitto, the test programs and the shared libraries they load, all
# arm64 Debian packages. When a test prints TBGW-HW-PRESS the QEMU monitor
# gets "system_powerdown", which holds line 3 high for 100 ms.
#
# The userspace is the host's Debian release (bookworm: libgpiod 1.6), or
# with TBGW_HW_SUITE=trixie Debian 13's (libgpiod 2.x, GLib 2.84, ...),
# every library from that suite's arm64 packages; the kernel is the
# host's either way.
#
# TBGW_HW_BUILD   the --host=aarch64-linux-gnu build tree (required)
# TBGW_HW_SUITE   host (default) or a Debian suite such as trixie
# TBGW_HW_CACHE   where downloaded packages are kept (default: $TBGW_HW_BUILD/hw-cache)
# TBGW_HW_KERNEL_CACHE  where the kernel package is kept (default: $TBGW_HW_CACHE/kernel)
# TBGW_HW_TIMEOUT seconds the VM may run (default 600)
set -euo pipefail

build=${TBGW_HW_BUILD:?TBGW_HW_BUILD must name the arm64 build tree}
suite=${TBGW_HW_SUITE:-host}
cache=${TBGW_HW_CACHE:-$build/hw-cache}
timeout_s=${TBGW_HW_TIMEOUT:-600}
tests=(tests/hw/test-gpio-hw)

bail () { echo "Bail out! $*"; exit 1; }

for tool in qemu-system-aarch64:qemu-system-arm aarch64-linux-gnu-readelf:binutils-aarch64-linux-gnu \
            cpio:cpio dpkg-deb:dpkg apt-get:apt; do
	command -v "${tool%%:*}" > /dev/null || bail "${tool%%:*} is missing (Debian package ${tool#*:})"
done
for t in "${tests[@]}"; do
	[ -x "$build/$t" ] || bail "$build/$t is not built"
done

# ---- the arm64 packages: kernel, busybox, mosquitto and the libraries it needs
# beyond those the :arm64 -dev packages brought (host), or every library (suite)
kernel_pkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
             awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kernel_pkg" ] || bail "no linux-image-arm64:arm64 in apt's lists (dpkg --add-architecture arm64 && apt-get update)"
fetch=$(dirname "$0")/fetch-debs.sh
kcache=${TBGW_HW_KERNEL_CACHE:-$cache/kernel}
"$fetch" host "$kcache" "$kernel_pkg" || bail "fetching the kernel failed"
if [ "$suite" = host ]; then
	pkgs=(busybox-static:arm64 mosquitto:arm64 libcjson1:arm64 libdlt2:arm64 libwrap0:arm64
	      libcap2:arm64 libsystemd0:arm64 liblzma5:arm64 libzstd1:arm64 liblz4-1:arm64 libgcrypt20:arm64
	      libgpg-error0:arm64)
	lib_dirs=(/usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu)
else
	pkgs=(busybox-static:arm64 mosquitto:arm64 libc6:arm64 libgcc-s1:arm64 libatomic1:arm64
	      libglib2.0-0t64:arm64 libffi8:arm64 libpcre2-8-0:arm64 zlib1g:arm64 libmount1:arm64
	      libblkid1:arm64 libselinux1:arm64 libjansson4:arm64 libmosquitto1:arm64 libssl3t64:arm64
	      libcjson1:arm64 libgudev-1.0-0:arm64 libudev1:arm64 libsqlite3-0:arm64 libgpiod3:arm64
	      libsystemd0:arm64 libcap2:arm64 liblz4-1:arm64 liblzma5:arm64 libzstd1:arm64
	      libgcrypt20:arm64 libgpg-error0:arm64 libdlt2:arm64 libwrap0:arm64 libwebsockets19t64:arm64)
	# nothing from the host: the programs must run on that suite's libraries
	lib_dirs=()
fi
"$fetch" "$suite" "$cache" "${pkgs[@]}" || bail "fetching the $suite packages failed"
root=$cache/root
vmlinuz=$(compgen -G "$kcache/root/boot/vmlinuz-*-arm64" | head -n 1) || true
[ -n "$vmlinuz" ] || bail "no kernel in $kcache/root/boot"

# ---- the initramfs
work=$(mktemp -d)
qemu_pid=
cleanup () {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2> /dev/null
	rm -rf "$work"
}
trap cleanup EXIT
rd=$work/rd
mkdir -p "$rd"/{bin,sbin,lib,etc,proc,sys,dev,tmp,run,usr/sbin,tests}
busybox=$(compgen -G "$root/bin/busybox" || compgen -G "$root/usr/bin/busybox") || bail "no busybox in $root"
cp "$busybox" "$rd/bin/"
for applet in sh mount mkdir cat echo ip poweroff sleep ls; do
	ln -s busybox "$rd/bin/$applet"
done
cp "$build/${tests[0]}" "$rd/tests/"
for t in "${tests[@]:1}"; do cp "$build/$t" "$rd/tests/"; done
cp "$root/usr/sbin/mosquitto" "$rd/usr/sbin/"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rd/etc/passwd"
printf 'root:x:0:\n' > "$rd/etc/group"

# every shared library the programs load, found as the arm64 loader would
find_lib () {
	local d
	for d in "$root/lib/aarch64-linux-gnu" "$root/usr/lib/aarch64-linux-gnu" "${lib_dirs[@]}"; do
		[ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}
queue=("$rd"/tests/* "$rd/usr/sbin/mosquitto")
while [ ${#queue[@]} -gt 0 ]; do
	elf=${queue[0]}
	queue=("${queue[@]:1}")
	for lib in $(aarch64-linux-gnu-readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -e "$rd/lib/$lib" ] && continue
		path=$(find_lib "$lib") || bail "$lib (needed by ${elf##*/}) is in no arm64 package here"
		cp -L "$path" "$rd/lib/$lib"
		queue+=("$rd/lib/$lib")
	done
done
path=$(find_lib ld-linux-aarch64.so.1) || bail "no ld-linux-aarch64.so.1"
cp -L "$path" "$rd/lib/"
# glibc dlopen()s libgcc_s for pthread_cancel (the test's MQTT peer stops its
# network thread that way), so no NEEDED entry names it
path=$(find_lib libgcc_s.so.1) || bail "libgcc_s.so.1 is in no arm64 package here"
cp -L "$path" "$rd/lib/"
ln -s lib "$rd/lib64"
# the backend configure chose for this build, and that suite's library for it
if [ "$suite" != host ]; then
	for t in "$rd"/tests/*; do
		aarch64-linux-gnu-readelf -d "$t" | grep -q 'libgpiod\.so\.3' ||
			bail "${t##*/} is not built on libgpiod 2 (libgpiod.so.3)"
	done
fi

cat > "$rd/init" <<'EOF'
#!/bin/sh
mount -t devtmpfs dev /dev
exec > /dev/console 2>&1 < /dev/console
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
mount -t debugfs debugfs /sys/kernel/debug
ip link set lo up
export LD_LIBRARY_PATH=/lib PATH=/bin:/usr/sbin MOSQUITTO=/usr/sbin/mosquitto TMPDIR=/tmp
rc=0
for t in /tests/*; do
	"$t" --tap || rc=$?
done
echo "TBGW-HW-EXIT $rc"
poweroff -f
EOF
chmod +x "$rd/init"
(cd "$rd" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

# ---- boot and drive it
# The monitor reads QEMU's stdin: a FIFO this script holds open both ways,
# so that writing a command never blocks.
mkfifo "$work/monitor"
exec 5<> "$work/monitor"
start=$SECONDS
timeout "$timeout_s" qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 1 -m 512 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyAMA0 rdinit=/init quiet loglevel=3 panic=-1" \
	-nodefaults -monitor stdio -serial file:"$work/console" \
	<&5 > "$work/monitor.out" 2>&1 &
qemu_pid=$!
touch "$work/console"
# (no filter between tail and the loop: a pipe's buffering would hold the
# press request back)
tail -n +1 -F --pid="$qemu_pid" "$work/console" 2> /dev/null | while IFS= read -r line; do
	line=${line%$'\r'}
	echo "$line"
	case $line in
	*TBGW-HW-PRESS*) echo system_powerdown >&5 ;;
	esac
done
wait "$qemu_pid" || true
qemu_pid=
exec 5>&-
grep -v '^QEMU .* monitor\|^(qemu)' "$work/monitor.out" | sed 's/^/# qemu: /' || true
echo "# VM ran for $((SECONDS - start)) s"
exit_seen=$(tr -d '\r' < "$work/console" | sed -n 's/.*TBGW-HW-EXIT \([0-9]*\).*/\1/p' | tail -n 1)
[ -n "$exit_seen" ] || bail "the VM stopped before the tests finished (timeout ${timeout_s} s?)"
exit "$exit_seen"
