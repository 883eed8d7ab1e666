#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Generates ./configure from a git checkout; release tarballs ship it.
set -e
srcdir=$(dirname "$0")
test -n "$srcdir" || srcdir=.
cd "$srcdir"
autoreconf --force --install --verbose
cd - >/dev/null
if [ -z "$NOCONFIGURE" ]; then
	exec "$srcdir"/configure "$@"
fi
