#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Renders every man page as man(1) shows it (80 columns) and fails on what
# a reader would trip over: groff warnings, and option words run together
# with their argument ("--typeTYPE", "[--secretSECRET]", "]["), which
# groff does not warn about. TAP output; TBG_MAN_PAGES lists the pages.
set -u
pages=${TBG_MAN_PAGES:-$(ls "$(dirname "$0")"/../data/*.[0-9])}
n=0
failed=0
echo "1..$(echo $pages | wc -w)"
for page in $pages; do
	n=$((n + 1))
	name=$(basename "$page")
	problems=""
	# groff's own warnings, all of them (-ww), without output (-z)
	warnings=$(groff -k -Tutf8 -man -ww -z "$page" 2>&1)
	[ -n "$warnings" ] && problems="$problems
groff: $warnings"
	err=$(mktemp)
	text=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" 2>"$err")
	[ -s "$err" ] && problems="$problems
man: $(cat "$err")"
	rm -f "$err"
	if [ -z "$text" ]; then
		problems="$problems
man rendered nothing"
	fi
	# an option running into its capitalised argument (--typeTYPE), an
	# argument into a bracket (COMMAND[ARGS]) or brackets into each other
	joined=$(printf '%s\n' "$text" | grep -nE -- '--[a-z][a-z-]*[A-Z]|\]\[|[A-Z]\[[A-Z]' || true)
	[ -n "$joined" ] && problems="$problems
run together:
$joined"
	if [ -n "$problems" ]; then
		failed=$((failed + 1))
		echo "not ok $n - $name"
		printf '%s\n' "$problems" | sed 's/^/# /'
	else
		echo "ok $n - $name"
	fi
done
exit 0
