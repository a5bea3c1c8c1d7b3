#!/usr/bin/env bash
# test/check.sh: "make check", the tests of "make installcheck" without
# agentphone installed: PostgreSQL 15's files (its bin, lib and share
# directories) are copied under a temporary directory, this build is
# installed into the copy (make install DESTDIR=...), and
# test/installcheck.sh runs with the copy's binaries, which find their
# libraries and extensions beside them (PostgreSQL's installations are
# relocatable).  Nothing outside the temporary directory is written; it
# is removed at the end.  Arguments are test/installcheck.sh's.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. test/lib.sh
pg_config=${PG_CONFIG:-$PG_BIN/pg_config}
bindir=$($pg_config --bindir)
pkglibdir=$($pg_config --pkglibdir)
sharedir=$($pg_config --sharedir)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/agentphone-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for dir in "$bindir" "$pkglibdir" "$sharedir"; do
	mkdir -p "$tmp$dir"
	cp -a "$dir/." "$tmp$dir/"
done
make -s install DESTDIR="$tmp" PG_CONFIG="$pg_config" >/dev/null
chmod -R a+rX "$tmp"
chmod 755 "$tmp"
AGENTPHONE_PG_BIN="$tmp$bindir" bash test/installcheck.sh "$@"
