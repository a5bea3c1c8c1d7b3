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
#      release as PGXN takes it (test/package.sh: META.json, make dist);
#   2. the pg_regress suite (sql/, expected/) against a throwaway cluster
#      preloaded with agentphone and pointed at the simulator;
#   3. the isolation specs (test/isolation) on that cluster, its worker
#      paused;
#   4. the TAP tests (test/t/*.pl), each starting its own cluster and
#      simulator;
#   5. the demo (test/demo.sh), checked for the whole life of its calls,
#      and the Debian package (test/deb.sh), built and installed on a
#      brand-new Debian 12 root where a call goes through;
#   6. a workload with every server process under valgrind
#      (test/valgrind.sh): any error in agentphone's code fails it.
# 2 to 4 are PGXS's "make installcheck" (the Makefile's REGRESS, ISOLATION
# and TAP_TESTS), one part at a time against the scratch cluster.
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

# count OKS FAILS: add to the totals and print what happened
count() {
	passed=$((passed + $1))
	failed=$((failed + $2))
}

only=${1:-}

# installcheck WHAT VAR=VALUE...: run PGXS's "make installcheck" in the
# scratch copy, as the postgres OS user, with the Makefile's test variables
# overridden as given (an empty REGRESS, ISOLATION or TAP_TESTS leaves that
# part out); its output is in $out, its exit status in $rc
installcheck() {
	say "$1"
	shift
	out=$(cd "$scratch" && as_pg make -s installcheck PG_CONFIG=$PG_BIN/pg_config "$@" 2>&1)
	rc=$?
}

# count_regress DIFFS: count the tests pg_regress or pg_isolation_regress
# reported in $out ("test NAME ... ok"); one failure more when it ran none
# (it could not start), and the diffs shown when a test failed
count_regress() {
	echo "$out" | grep -E '\.\.\. ' >&2
	count "$(echo "$out" | grep -cE '\.\.\. +ok')" "$(echo "$out" | grep -cE '\.\.\. +FAILED')"
	if ! echo "$out" | grep -qE '\.\.\. +(ok|FAILED)'; then
		count 0 1
		echo "$out" | tail -n 20 >&2
	fi
	if echo "$out" | grep -qE '\.\.\. +FAILED'; then
		cat "$1" >&2 2>/dev/null
	fi
}

# 1. the simulator's self-test (unittest: one line per test with -v)
if [ -z "$only" ]; then
say "simulator self-test"
out=$(cd "$scratch" && as_pg $PY test/sim_selftest.py -v 2>&1)
echo "$out" | grep -E '\.\.\. (ok|FAIL|ERROR)' >&2
count "$(echo "$out" | grep -cE '\.\.\. ok$')" "$(echo "$out" | grep -cE '\.\.\. (FAIL|ERROR)$')"

# 1b. the release as PGXN takes it: META.json, make dist, the archive
# built and installed (test/package.sh)
say "packaging"
out=$(bash test/package.sh 2>&1)
echo "$out" | grep -E '^(not )?ok - |^#' >&2
count "$(echo "$out" | grep -cE '^ok - ')" "$(echo "$out" | grep -cE '^not ok - ')"

# 2. pg_regress (REGRESS) against a throwaway cluster
start_sim "$scratch" && start_cluster "$scratch"
server="--host=$scratch --port=$PGPORT"
installcheck "pg_regress suite" ISOLATION= TAP_TESTS= EXTRA_REGRESS_OPTS="$server"
count_regress "$scratch/regression.diffs"

# 3. the isolation specs (ISOLATION, test/isolation) on the same cluster,
# restarted with the worker paused (and its sweep, which notes in the due
# calls that they are paused, an hour apart): the specs' sessions play
# the worker's claim themselves
as_pg psql -X -q -d postgres -c "ALTER SYSTEM SET agentphone.enabled = off" \
	-c "ALTER SYSTEM SET agentphone.sweep_interval = '1h'" &&
	as_pg pg_ctl -D "$scratch/data" -l "$scratch/server.log" -w restart >/dev/null
installcheck "isolation specs" REGRESS= TAP_TESTS= EXTRA_REGRESS_OPTS="$server"
count_regress "$scratch/output_iso/regression.diffs"
stop_all "$scratch"
fi

# 4. the TAP tests (TAP_TESTS, test/t/*.pl, or those whose name contains
# $only) through PGXS's prove_installcheck, one file per prove so that a
# file that bails out (a crashed node) stops only itself; each starts its
# own cluster and simulator.  Every "ok N"/"not ok N" counts (PROVE_FLAGS
# has -v); a file that prove failed without a failed test (it died, or its
# plan is wrong) or that ran none counts one failure.  A file's logs are
# kept in tap/NAME.
for t in $(cd "$scratch" && ls test/t/*.pl); do
	name=${t##*/}
	case "$name" in *"$only"*) ;; *) continue ;; esac
	installcheck "TAP test $name" REGRESS= ISOLATION= PROVE_TESTS="$t"
	echo "$out" | grep -E '^(not )?ok [0-9]+' | sed "s|^|$name: |" >&2
	ok=$(echo "$out" | grep -cE '^ok [0-9]+')
	notok=$(echo "$out" | grep -cE '^not ok [0-9]+')
	died=0
	if [ "$notok" = 0 ] && { [ $rc -ne 0 ] || [ "$ok" = 0 ]; }; then
		died=1
		echo "$name: died or ran nothing (exit $rc)" >&2
	fi
	if [ "$notok" != 0 ] || [ "$died" != 0 ]; then
		# the diagnostics, what a dying file said, prove's summary, the logs
		echo "$out" | grep -E '^#' | head -n 40 >&2
		echo "$out" | sed '/^Test Summary Report/,$d' |
			grep -vE '^(not )?ok [0-9]+|^#|^1\.\.[0-9]+$|^test/t/[^ ]+\.pl \.\. $' | head -n 40 >&2
		echo "$out" | sed -n '/^Test Summary Report/,$p' | head -n 40 >&2
		ls "$scratch/tmp_check/log/" >&2 2>/dev/null
		# what a dying file said is in its regress log only
		[ "$died" = 0 ] || tail -n 30 "$scratch"/tmp_check/log/regress_log_* >&2 2>/dev/null
	fi
	as_pg mkdir -p "$scratch/tap" && as_pg mv "$scratch/tmp_check" "$scratch/tap/${name%.pl}" 2>/dev/null
	count "$ok" $((notok + died))
done

# 5. the demo, as README.md tells a new user to run it: every call it
# places ends "completed" with its transcript shown and announced, and the
# rolled-back call is never POSTed (it reports how long it took: under 30 s)
if [ -z "$only" ]; then
	say "demo"
	t0=$(date +%s)
	out=$(bash test/demo.sh 2>&1)
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

# 5b. the Debian package (test/deb.sh): built with dpkg-buildpackage, its
# pg_regress suite run at build time, then installed on a brand-new Debian
# 12 root file system where a call goes through (about a minute)
if [ -z "$only" ]; then
	say "Debian package"
	out=$(bash test/deb.sh 2>&1)
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

# keep the scratch directory (logs, data) only when something failed
if [ "$failed" = 0 ]; then
	rm -rf "$scratch"
else
	echo "logs kept in $scratch" >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
