#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The README's demo as a newcomer runs it: demo/run-demo --once against a
# broker of its own on a free 127.0.0.1 port. The simulated sensor must be
# announced, its telemetry and attributes must reach the broker, and the
# RPC that run-demo sends as ThingsBoard must come back answered — all read
# from what the broker delivered (run-demo's mosquitto_sub log).
set -u
srcdir=${TBG_TEST_SRCDIR:-$(dirname "$0")}/..
build=$(dirname "${TBGWD:-./src/tbgwd}")/..
echo "1..6"
n=0
check () {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
accepts () { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
for _ in $(seq 20); do
	port=$(shuf -i 20000-60000 -n 1)
	accepts "$port" || break
done

out=$(TBGW_DEMO_BUILD=$build TBGW_DEMO_PORT=$port "$srcdir/demo/run-demo" --once 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check $rc "run-demo --once exits 0"
mqtt=$build/demo/mqtt.log
grep -q -x 'v1/gateway/connect {"device":"Demo sensor","type":"Demo sensor"}' "$mqtt"
check $? "the sensor is announced on v1/gateway/connect with its type"
grep -q -E '^v1/gateway/telemetry \{"Demo sensor":\[\{"ts":[0-9]+,"values":\{"temperature":[0-9.]+,"humidity":[0-9.]+,"led":false\}\}' "$mqtt"
check $? "its telemetry reaches the broker, typed as numbers"
grep -q -F 'v1/gateway/attributes {"Demo sensor":{"model":"tbgw demo sensor","firmware":"1.0","interval":2}}' "$mqtt"
check $? "its client attributes reach the broker"
grep -q -x 'v1/gateway/rpc {"device":"Demo sensor","id":1,"data":{"led":true}}' "$mqtt"
check $? "the RPC is answered with its id and the sensor's result"
grep -q -x 'v1/gateway/disconnect {"device":"Demo sensor"}' "$mqtt"
check $? "a stopped demo disconnects the sensor"
