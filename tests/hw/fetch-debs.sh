#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# fetch-debs.sh SUITE DIR PACKAGE... — downloads Debian packages of SUITE
# ("host" for the host's own APT lists, or a suite name such as trixie)
# into DIR/debs and unpacks each into DIR/root, once: what is already in
# DIR/debs is reused. Another suite is read through an APT configuration
# of its own in DIR/apt, made from the host's sources with the suite
# changed, so the host's APT state is never touched.
set -euo pipefail

suite=$1 dir=$2
shift 2
mkdir -p "$dir/debs" "$dir/root"
apt_opts=()
if [ "$suite" != host ]; then
	apt=$dir/apt
	mkdir -p "$apt/sources.d" "$apt/lists/partial" "$apt/cache/archives/partial"
	apt_opts=(-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$apt/sources.d"
	          -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache"
	          -o Dir::State::status=/dev/null)
	# only the indexes of the architectures asked for (the first call's)
	for arch in $(printf '%s\n' "$@" | sed -n 's/.*:\(.*\)/\1/p' | sort -u); do
		apt_opts+=(-o APT::Architectures::="$arch")
	done
	if [ ! -f "$apt/updated" ]; then
		# the host's main archive (the first deb822 stanza, or the first
		# one-line entry), with the suite replaced; no security suite
		if [ -f /etc/apt/sources.list.d/debian.sources ]; then
			awk -v suite="$suite" 'BEGIN { RS = "" } NR == 1 {
				n = split($0, l, "\n")
				for (i = 1; i <= n; i++) {
					if (l[i] ~ /^Suites:/) l[i] = "Suites: " suite
					if (l[i] !~ /^#/) print l[i]
				} }' /etc/apt/sources.list.d/debian.sources > "$apt/sources.d/suite.sources"
		else
			grep -h -m1 '^deb ' /etc/apt/sources.list |
				awk -v suite="$suite" '{ $3 = suite; print }' > "$apt/sources.d/suite.list"
		fi
		apt-get "${apt_opts[@]}" update -qq > "$apt/update.log" 2>&1 ||
			{ cat "$apt/update.log" >&2; exit 1; }
		touch "$apt/updated"
	fi
fi
# one apt-get call for all that is missing: each call reads the indexes anew
missing=()
for p in "$@"; do
	name=${p%%:*}
	arch=${p#*:}
	[ "$arch" = "$p" ] && arch=$(dpkg --print-architecture)
	compgen -G "$dir/debs/${name}_*_${arch}.deb" > /dev/null || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
echo "# downloading ${missing[*]} ($suite)"
(cd "$dir/debs" && apt-get "${apt_opts[@]}" download "${missing[@]}" > "$dir/download.log" 2>&1) ||
	{ cat "$dir/download.log" >&2; echo "apt-get download ($suite) failed" >&2; exit 1; }
for p in "${missing[@]}"; do
	name=${p%%:*}
	arch=${p#*:}
	[ "$arch" = "$p" ] && arch=$(dpkg --print-architecture)
	dpkg-deb -x "$dir"/debs/"${name}"_*_"${arch}".deb "$dir/root"
done
