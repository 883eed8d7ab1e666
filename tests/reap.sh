#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs one test program in a process group of its own and, once it has
# exited, ends whatever it left behind in that group. A test that dies
# half-way (g_error, a crash) cannot stop its GTestDBus dbus-daemon,
# brokers or tbgwd; they would keep the TAP driver's pipe open and make
# `make check` wait for ever instead of reporting the failure.
set -m
"$@" &
pid=$!
wait "$pid"
rc=$?
kill -TERM -- "-$pid" 2> /dev/null
exit "$rc"
