#!/usr/bin/env bash
# tools/package.sh: the release as PGXN takes it.  META.json is checked
# against the PGXN Meta Spec and the tree (tools/meta_check.py); "make
# dist" makes agentphone-<version>.zip of the committed tree; the unpacked
# archive builds and installs with PGXS (into a staging directory) every
# file a server needs.  One "ok - ..." or "not ok - ..." line per check.
#
#   bash tools/package.sh        (run.sh runs it; needs the build packages)
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib.sh"
PG_CONFIG=${PG_CONFIG:-$PG_BIN/pg_config}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

CHECK_OUT=$work/out

python3 "$here/tools/meta_check.py" "$here"

version=$(sed -n 's/^   "version": "\(.*\)",$/\1/p' "$here/META.json")
zip="agentphone-$version.zip"
check "make dist makes $zip" make -s -C "$here" dist
mv "$here/$zip" "$work/" 2>/dev/null
check "the archive unpacks" python3 -m zipfile -e "$work/$zip" "$work/src"
top="$work/src/agentphone-$version"
check "everything is under agentphone-$version/, with META.json" test -f "$top/META.json" -a -f "$top/Makefile"
check "nothing built is in it" \
	bash -c "! python3 -m zipfile -l '$work/$zip' | grep -E '\\.(o|so|zip)\$'"
check "the unpacked archive builds with PGXS" make -s -C "$top" PG_CONFIG="$PG_CONFIG"
check "and installs with make install" make -s -C "$top" PG_CONFIG="$PG_CONFIG" install DESTDIR="$work/root"
pkglib=$work/root$("$PG_CONFIG" --pkglibdir)
share=$work/root$("$PG_CONFIG" --sharedir)/extension
check "the library and the control file are installed" test -f "$pkglib/agentphone.so" -a -f "$share/agentphone.control"
missing=""
for f in $(sed -n 's/^DATA = //p' "$top/Makefile"); do
	[ -f "$share/${f#sql/}" ] || missing="$missing $f"
done
check "every script of the Makefile's DATA is installed" test -z "$missing"
