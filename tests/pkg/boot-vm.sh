#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boot-vm.sh DEB WORK BASE KERNEL TIMEOUT — installs the arm64 package on
# a copy of BASE (a Debian 12 arm64 rootfs: tests/pkg/run.sh) and boots it under
# qemu-system-aarch64 -M virt with systemd as PID 1; tests/pkg/vm-test.sh
# runs in it as a unit and prints "TBGW-VM: <TAP line>" on the console,
# which is copied to stdout. Called by tests/pkg/run.sh.
#
# Debian's arm64 kernel has ext4 and virtio_blk as modules, so the rootfs
# is the initramfs (rdinit=/sbin/init): no disk image, no modules to load.
# The PL061 of -M virt is gpiochip0 (8 lines; line 3 is the power button).
set -euo pipefail

deb=$1 work=$2 base=$3 kernel=$4 timeout_s=$5
bail () { echo "TBGW-VM: Bail out! $*"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$base/.tbgw-key" ] || bail "no base system in $base"
vmlinuz=$(compgen -G "$kernel/boot/vmlinuz-*" | head -n 1) || bail "no kernel in $kernel"

# ---- this run's system: the package installed as a user would
root=$work/root
rm -rf --one-file-system "$work" && mkdir -p "$work"
cp -a "$base" "$root" && rm -f "$root/.tbgw-key"
cp "$deb" "$root/tmp/"
t0=$SECONDS
mount -t proc proc "$root/proc"
rc=0
chroot "$root" apt-get install -y -q --no-install-recommends "/tmp/${deb##*/}" > "$work/install.log" 2>&1 || rc=$?
umount "$root/proc"
[ $rc -eq 0 ] || { tail -n 30 "$work/install.log"; bail "apt install ./${deb##*/} failed"; }
echo "# apt install ./${deb##*/} (qemu-user): $((SECONDS - t0)) s"
rm -f "$root/tmp/${deb##*/}"
# what the user does: a configuration (one GPIO device on the PL061) and
# the token file root:_tbgw 0640
cat > "$root/etc/tbgw/tbgw.conf" <<'EOF'
[server]
host=127.0.0.1
port=1883
access-token-file=/etc/tbgw/access-token

[gpio:Relays]
chip=gpiochip0
line.pump=output 0 initial=0
EOF
echo vm-test-token > "$root/etc/tbgw/access-token"
chroot "$root" chown root:_tbgw /etc/tbgw/access-token
chmod 0640 "$root/etc/tbgw/access-token"
# the test, as a unit that runs once the system is up; no getty on the
# console it prints on
install -m 0755 "$here/vm-test.sh" "$root/usr/local/sbin/tbgw-vm-test"
cat > "$root/etc/systemd/system/tbgw-vm-test.service" <<'EOF'
[Unit]
Description=tbgw package test
After=tbgwd.service mosquitto.service dbus.service systemd-udev-settle.service systemd-user-sessions.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/tbgw-vm-test
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyAMA0

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/tbgw-vm-test.service "$root/etc/systemd/system/multi-user.target.wants/"
for u in serial-getty@ttyAMA0.service getty@tty1.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done
echo tbgw-vm > "$root/etc/hostname"

# (the package lists are of no use in the VM, and the initramfs is in RAM)
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
(cd "$root" && find . -xdev | cpio -o -H newc --quiet) > "$work/rootfs.cpio"

# ---- boot
t0=$SECONDS
timeout "$timeout_s" qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 2 -m 2048 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$work/rootfs.cpio" \
	-append "console=ttyAMA0 rdinit=/sbin/init panic=-1 quiet loglevel=3 systemd.show_status=0" \
	-nodefaults -serial file:"$work/console.log" -monitor none > "$work/qemu.log" 2>&1 || true
echo "# VM ran for $((SECONDS - t0)) s"
tr -d '\r' < "$work/console.log"
grep -q 'TBGW-VM: 1\.\.[0-9]' "$work/console.log" || bail "the VM stopped before the test finished (timeout ${timeout_s} s?)"
