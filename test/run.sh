#!/usr/bin/env bash
# test/run.sh: run every test of agentphone, offline, on a Debian 12 machine.
#
#   bash test/run.sh            (as root on a fresh machine, or as a user
#                                who has the packages listed in lib.sh)
#   bash test/run.sh 002        only the TAP tests whose name contains 002
#
# It installs what is missing (the PostgreSQL server included), builds with
# -Wall -Wextra -Werror, installs the extension, then as the postgres OS
# user in a scratch directory:
#   1. the simulator's own self-test (test/sim_selftest.py), and the
#      release as PGXN takes it (tools/package.sh: META.json, make dist);
#   2. the pg_regress suite (sql/, expected/) against a throwaway cluster
#      preloaded with agentphone and pointed at the simulator;
#   3. the isolation specs (test/isolation) on that cluster, its worker
#      paused;
#   4. the TAP tests (test/t/*.pl), each starting its own cluster and
#      simulator;
#   5. the demo (tools/demo.sh), checked for the whole life of its calls,
#      and the Debian package (tools/deb.sh), built and installed on a
#      brand-new Debian 12 root where a call goes through;
#   6. a workload with every server process under valgrind
#      (test/valgrind.sh): any error in agentphone's code fails it.
# 2 to 4 are PGXS's "make installcheck" (the Makefile's REGRESS, ISOLATION
# and TAP_TESTS), self-provisioned by test/installcheck.sh.
# It stops everything it started and ends with "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. test/lib.sh

install_deps || exit 1
build_install || { echo "0 passed, 1 failed"; exit 1; }

scratch=$(make_scratch "$here")
passed=0
failed=0
trap 'stop_all "$scratch"' EXIT

only=${1:-}

# 1. the simulator's self-test (unittest: one line per test with -v)
if [ -z "$only" ]; then
say "simulator self-test"
out=$(cd "$scratch" && as_pg $PY test/sim_selftest.py -v 2>&1)
echo "$out" | grep -E '\.\.\. (ok|FAIL|ERROR)' >&2
count "$(echo "$out" | grep -cE '\.\.\. ok$')" "$(echo "$out" | grep -cE '\.\.\. (FAIL|ERROR)$')"

# 1b. the release as PGXN takes it: META.json, make dist, the archive
# built and installed (tools/package.sh)
say "packaging"
out=$(bash tools/package.sh 2>&1)
echo "$out" | grep -E '^(not )?ok - |^#' >&2
count "$(echo "$out" | grep -cE '^ok - ')" "$(echo "$out" | grep -cE '^not ok - ')"
fi

# 2 to 4: pg_regress, the isolation specs and the TAP tests
# (test/installcheck.sh, "make installcheck" self-provisioned)
out=$(bash test/installcheck.sh "$only")
last=$(echo "$out" | tail -n 1)
case "$last" in
*" passed, "*" failed") count "${last%% passed*}" "$(echo "$last" | sed 's/.* passed, \([0-9]*\) failed/\1/')" ;;
*) count 0 1; echo "installcheck ended without its count: $last" >&2 ;;
esac

# 5. the demo, as README.md tells a new user to run it: every call it
# places ends "completed" with its transcript shown and announced, and the
# rolled-back call is never POSTed (it reports how long it took: under 30 s)
if [ -z "$only" ]; then
	say "demo"
	t0=$(date +%s)
	out=$(bash tools/demo.sh 2>&1)
	rc=$?
	if [ $rc -eq 0 ] &&
		[ "$(echo "$out" | grep -cE '^ +[0-9]+ \| \+1415555010[0-3] \| completed$')" = 3 ] &&
		echo "$out" | grep -q 'Yes, I will be there.' &&
		echo "$out" | grep -qF '"transcript" : "stored"}' &&
		[ "$(echo "$out" | grep -cE '^  POST /v1/calls -> 200')" = 3 ] &&
		! echo "$out" | grep -q '14155550199.*->'; then
		count 1 0
		echo "demo: ok, in $(( $(date +%s) - t0 )) s" >&2
	else
		count 0 1
		echo "demo: failed (exit $rc):" >&2
		echo "$out" | tail -n 60 >&2
	fi
fi

# 5b. the Debian package (tools/deb.sh): built with dpkg-buildpackage, its
# pg_regress suite run at build time, then installed on a brand-new Debian
# 12 root file system where a call goes through (about a minute)
if [ -z "$only" ]; then
	say "Debian package"
	out=$(bash tools/deb.sh 2>&1)
	echo "$out" | grep -E '^(not )?ok - |^#' >&2
	count "$(echo "$out" | grep -cE '^ok - ')" "$(echo "$out" | grep -cE '^not ok - ')"
	echo "$out" | grep -qE '^(not )?ok - ' || { count 0 1; echo "$out" | tail -n 20 >&2; }
fi

# 6. the worker under valgrind (one test: no error in agentphone's code);
# AGENTPHONE_NO_VALGRIND=1 skips it (test/sanitize.sh: valgrind and
# AddressSanitizer do not mix)
if [ -z "$only" ] && [ -z "${AGENTPHONE_NO_VALGRIND:-}" ]; then
	say "valgrind"
	if bash test/valgrind.sh 100 >"$scratch/valgrind.out" 2>&1; then
		count 1 0
	else
		count 0 1
		tail -n 60 "$scratch/valgrind.out" >&2
	fi
	tail -n 1 "$scratch/valgrind.out" >&2
fi

finish_run
