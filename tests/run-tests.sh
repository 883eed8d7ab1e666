#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every check CI runs, each in its own build directory under _build/:
#   1. build with -Werror and `make check`, `make check-hw` (the GPIO
#      backend on a real chip in an arm64 VM), `make check-bluez` (BLE
#      against the real bluetoothd in an amd64 VM) and `make check-pkg` (the
#      Debian package: tests/pkg/run.sh)
#   2. the same tests built with AddressSanitizer + UBSan
#   3. the core tests under valgrind (no definite leaks)
#   4. each libFuzzer target for FUZZ_SECONDS (default 20)
#   5. make distcheck: the tarball builds, installs and uninstalls (its test
#      suite is the one steps 1 and 2 already ran, so it is not run a third
#      time: CI's time goes to the VMs instead)
# and ends with one line "N passed, N failed" counted from automake's test
# logs (a step that fails outside the test suite counts as a failure too).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${TBGW_BUILD_DIR:-$top/_build}
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${FUZZ_SECONDS:-20}
failed_steps=()

step () {
	local name=$1
	shift
	echo "==> $name"
	local t0=$SECONDS
	if "$@"; then
		echo "    ok ($((SECONDS - t0)) s)"
	else
		echo "    FAILED: $name ($((SECONDS - t0)) s)"
		failed_steps+=("$name")
	fi
}

build () {
	local dir=$out/$1
	shift
	rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" &&
	"$top/configure" --quiet --enable-werror "$@" > configure.out &&
	make -j"$jobs" > make.out 2>&1 || { tail -n 40 "$dir"/make.out "$dir"/configure.out 2>/dev/null; return 1; }
}

check () {
	local dir=$out/$1
	shift
	make -C "$dir" -j"$jobs" check "$@" > "$dir/check.out" 2>&1
	local rc=$?
	grep -E '^(# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR)|FAIL:|ERROR:)' "$dir/check.out"
	if [ $rc -ne 0 ]; then
		for log in $(grep -l -E '^(not ok|Bail out)' "$dir"/tests/*.log 2>/dev/null); do
			echo "---- $log"; tail -n 60 "$log"
		done
	fi
	return $rc
}

mkdir -p "$out"
# Every build here is out of tree; configure refuses that while the source
# tree itself is configured ("source directory already configured").
if [ -f "$top/config.status" ]; then
	echo "==> the source tree was configured in place: make distclean there first"
	make -C "$top" distclean > "$out/distclean-srcdir.out" 2>&1 ||
		{ tail -n 20 "$out/distclean-srcdir.out"; rm -f "$top/config.status"; }
fi
step "autogen" bash -c "cd '$top' && NOCONFIGURE=1 ./autogen.sh > '$out/autogen.out' 2>&1"
step "build (-Werror)" build plain
step "make check" check plain
step "make check-hw (arm64 VM)" bash -c "make -C '$out/plain' check-hw > '$out/plain/check-hw.out' 2>&1; rc=\$?; grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL):' '$out/plain/check-hw.out'; [ \$rc -eq 0 ] || tail -n 60 '$out/plain/check-hw.out'; exit \$rc"
step "make check-bluez (amd64 VM, real bluetoothd)" bash -c "make -C '$out/plain' check-bluez > '$out/plain/check-bluez.out' 2>&1; rc=\$?; grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL):' '$out/plain/check-bluez.out'; [ \$rc -eq 0 ] || tail -n 150 '$out/plain/check-bluez.out'; exit \$rc"
step "make check-pkg (.deb: native, cross, arm64 VM, trixie)" bash -c "make -C '$out/plain' check-pkg TBGW_PKG_CACHE='$out/pkg-cache' > '$out/plain/check-pkg.out' 2>&1; rc=\$?; grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL):' '$out/plain/check-pkg.out' | grep -v '^PASS' ; [ \$rc -eq 0 ] || tail -n 60 '$out/plain/check-pkg.out'; exit \$rc"
step "build (ASan/UBSan)" build asan --enable-sanitizers CFLAGS="-O1 -g"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
step "make check (ASan/UBSan)" check asan
unset ASAN_OPTIONS UBSAN_OPTIONS
# The fuzzers run for a fixed time, one core at a time: beside the valgrind
# and distcheck steps rather than after them. Their output and failures
# are collected once both are done.
fuzz_pid=
if command -v clang > /dev/null; then
	step "build (clang, fuzzers)" build fuzz CC=clang --enable-fuzzing CFLAGS="-O1 -g"
	(
		failed_steps=()
		step "fuzz (${fuzz_seconds} s each)" make -C "$out/fuzz" fuzz FUZZ_SECONDS="$fuzz_seconds"
		printf '%s\n' "${failed_steps[@]}" > "$out/fuzz.failed"
	) > "$out/fuzz-step.out" 2>&1 &
	fuzz_pid=$!
else
	failed_steps+=("fuzz (clang missing)")
fi
step "valgrind" make -C "$out/plain" check-valgrind
step "distcheck" bash -c "make -C '$out/plain' -j'$jobs' distcheck TESTS= > '$out/distcheck.out' 2>&1 || { tail -n 60 '$out/distcheck.out'; exit 1; }"
if [ -n "$fuzz_pid" ]; then
	wait "$fuzz_pid"
	cat "$out/fuzz-step.out"
	while IFS= read -r name; do
		[ -n "$name" ] && failed_steps+=("$name")
	done < "$out/fuzz.failed"
fi

passed=0
failed=0
skipped=0
for trs in "$out"/plain/tests/*.trs "$out"/plain/tests/hw/*.trs "$out"/plain/tests/bluez/*.trs "$out"/plain/tests/pkg/*.trs "$out"/asan/tests/*.trs; do
	[ -f "$trs" ] || continue
	p=$(grep -c -E '^:test-result: (PASS|XFAIL)' "$trs")
	f=$(grep -c -E '^:test-result: (FAIL|XPASS|ERROR)' "$trs")
	s=$(grep -c -E '^:test-result: SKIP' "$trs")
	passed=$((passed + p))
	skipped=$((skipped + s))
	failed=$((failed + f))
done
# The failing tests by name, and the assertion each one stopped at (the
# package builds' own test suites included), next to the summary so that a
# shortened CI log still says what failed.
digest=$(for log in "$out"/plain/check*.out "$out"/asan/check.out "$out"/plain/pkg/*.log "$out"/plain/pkg/native/build.log; do
	[ -f "$log" ] || continue
	grep -h -E '^(FAIL|ERROR|XPASS):|^not ok|Bail out|ERROR:.*(assertion|failed)|did not|timed out' "$log" |
		grep -v -E '^# (FAIL|ERROR|XPASS):' | sed "s|^|  ${log#"$out"/}: |"
done | head -n 40)
if [ -n "$digest" ]; then
	echo "failing tests:"
	echo "$digest"
fi
if [ ${#failed_steps[@]} -gt 0 ]; then
	echo "failed steps: ${failed_steps[*]}"
	failed=$((failed + ${#failed_steps[@]}))
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
