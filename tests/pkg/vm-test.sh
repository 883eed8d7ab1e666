#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# vm-test.sh — runs inside the booted arm64 Debian 12 system (boot-vm.sh),
# as a oneshot unit once the system is up, with tbgw installed from its
# package and configured with one GPIO device "Relays" (line "pump" =
# PL061 line 0). mosquitto on 127.0.0.1 stands in for ThingsBoard; this
# script is the test client on it. Every line it prints starts with
# "TBGW-VM: " (a TAP line or a comment); then it powers the system off.
set -uo pipefail
export LC_ALL=C.UTF-8

n=0
say () { echo "TBGW-VM: $*"; }
check () {
	local name=$1
	shift
	n=$((n + 1))
	if "$@"; then say "ok $n - $name"; else say "not ok $n - $name"; fi
}
# wait_for SECONDS CMD...: polls CMD (the timeout is generous: TCG is slow)
wait_for () {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.5
	done
}
finish () {
	say "1..$n"
	kill %1 2> /dev/null
	systemctl poweroff --no-block
	exit 0
}
trap finish EXIT

main_pid () { systemctl show -P MainPID tbgwd; }
name_owner_pid () {
	local r
	r=$(busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
		GetConnectionUnixProcessID s org.tbgw.Gateway1 2> /dev/null) || return 0
	echo "${r#u }"
}
owns_name () { local p; p=$(main_pid); [ "$p" != 0 ] && [ "$(name_owner_pid)" = "$p" ]; }
is_active () { [ "$(systemctl is-active tbgwd)" = active ]; }
connected () { local s; s=$(tbgwctl status 2> /dev/null); [[ $s =~ (^|$'\n')Connected:\ *yes ]]; }

# The level the kernel reads on PL061 line $1, from debugfs (independent of
# libgpiod; the base system has no awk):
#   gpiochip0: GPIOs 512-519, parent: platform/9030000.pl061, 9030000.pl061:
#    gpio-512 (                    |tbgwd               ) out hi
level () {
	local line base=-1 num
	while IFS= read -r line; do
		if [[ $line =~ ^gpiochip([0-9]+):\ GPIOs\ ([0-9]+)- ]]; then
			base=-1
			[ "${BASH_REMATCH[1]}" = 0 ] && base=${BASH_REMATCH[2]}
		elif [ "$base" -ge 0 ] && [[ $line =~ ^\ gpio-([0-9]+)\ .*\)\ *(in|out)\ +(hi|lo) ]]; then
			num=${BASH_REMATCH[1]}
			[ $((num - base)) -eq "$1" ] && { echo "${BASH_REMATCH[3]}"; return; }
		fi
	done < /sys/kernel/debug/gpio
}
# Everything on the broker, as the test client sees it.
broker=/tmp/broker.log
mosquitto_sub -h 127.0.0.1 -t 'v1/#' -t 'tbgw-test/#' -v > "$broker" 2>&1 &
# subscribed once a probe of ours comes back
probe () { mosquitto_pub -h 127.0.0.1 -t tbgw-test/probe -m x && grep -q '^tbgw-test/probe' "$broker"; }
answered () { grep '^v1/gateway/rpc ' "$broker" | grep -v '"method"' | grep "\"id\": *$1[,}]" > /dev/null; }
# rpc ID METHOD VALUE: a ThingsBoard server-side RPC to the device "Relays"
# through the gateway API; succeeds when tbgwd's answer reaches the broker
rpc () {
	mosquitto_pub -h 127.0.0.1 -q 1 -t v1/gateway/rpc -m \
		"{\"device\":\"Relays\",\"data\":{\"id\":$1,\"method\":\"$2\",\"params\":{\"line\":\"pump\",\"value\":$3}}}" &&
		wait_for 60 answered "$1"
}

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug

check "tbgwd.service is active" wait_for 120 is_active
user=$(ps -o user= -p "$(main_pid)" 2> /dev/null)
check "tbgwd runs as _tbgw (it runs as \"$user\")" [ "$user" = _tbgw ]
check "tbgwd owns org.tbgw.Gateway1 on the system bus" wait_for 60 owns_name
check "/dev/gpiochip0 is group gpio (60-tbgw-gpio.rules)" [ "$(stat -c %G /dev/gpiochip0)" = gpio ]
check "tbgwctl status: connected to the broker" wait_for 120 connected
check "the test client is subscribed on the broker" wait_for 60 probe
tbgwctl status 2>&1 | while IFS= read -r l; do say "# tbgwctl status: $l"; done

check "an RPC from the broker switches PL061 line 0 on (debugfs: hi)" eval 'rpc 1 setValue 1 && [ "$(level 0)" = hi ]'
check "an RPC switches it off again (debugfs: lo)" eval 'rpc 2 setValue 0 && [ "$(level 0)" = lo ]'
grep '^v1/gateway/' "$broker" | while IFS= read -r l; do say "# broker: $l"; done
grep -E '^ *gpio-' /sys/kernel/debug/gpio | while IFS= read -r l; do say "# debugfs: $l"; done

journal=$(journalctl -b -u tbgwd --no-pager -o cat 2> /dev/null)
check "the token file root:_tbgw 0640 is read without a warning" eval '[[ $journal != *"access token file is readable"* ]]'

pid=$(main_pid)
systemctl reload tbgwd
say "# systemctl reload: $?"
# the reloaded daemon still answers, then nothing has stopped it
check "after systemctl reload an RPC is answered" eval 'wait_for 60 owns_name && rpc 3 setValue 1'
check "systemctl reload kept tbgwd running (same PID $pid, active)" \
	eval '[ "$(main_pid)" = "$pid" ] && is_active && owns_name'

# (the base system has no useradd)
systemd-sysusers --inline 'u alice - "outside tbgw"' 'u bob - "member of tbgw"' 'm bob tbgw' > /dev/null 2>&1
check "a user outside tbgw may read the status" eval 'runuser -u alice -- tbgwctl status > /dev/null'
out=$(runuser -u alice -- tbgwctl reconnect 2>&1)
rc=$?
say "# alice: tbgwctl reconnect: $out"
# (dbus-daemon's AccessDenied text)
check "the policy refuses a user outside tbgw (tbgwctl reconnect)" eval '[ $rc -ne 0 ] && [[ $out == *"Rejected send message"* ]]'
check "the policy accepts a member of tbgw (tbgwctl reconnect)" runuser -u bob -- tbgwctl reconnect
check "tbgwd still active after the test" is_active
# D-Bus activation: a stopped service is started by the client's call
systemctl stop tbgwd
check "tbgwctl starts a stopped tbgwd through D-Bus activation" \
	eval 'runuser -u bob -- tbgwctl status > /dev/null && is_active'

systemd-analyze security tbgwd 2> /dev/null | tail -n 1 | while IFS= read -r l; do say "# $l"; done
journalctl -b -u tbgwd --no-pager -o cat 2> /dev/null | tail -n 15 | while IFS= read -r l; do say "# journal: $l"; done
