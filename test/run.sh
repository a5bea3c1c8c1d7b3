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
#   1. the simulator's own self-test (test/sim_selftest.py);
#   2. the pg_regress suite (sql/, expected/) against a throwaway cluster
#      preloaded with agentphone and pointed at the simulator;
#   3. the isolation specs (test/isolation) on that cluster, its worker
#      paused;
#   4. the TAP tests (test/t/*.pl), each starting its own cluster and
#      simulator;
#   5. the demo (test/demo.sh), checked for the whole life of its calls;
#   6. a workload with every server process under valgrind
#      (test/valgrind.sh): any error in agentphone's code fails it.
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

# 1. the simulator's self-test (unittest: one line per test with -v)
if [ -z "$only" ]; then
say "simulator self-test"
out=$(cd "$scratch" && as_pg $PY test/sim_selftest.py -v 2>&1)
echo "$out" | grep -E '\.\.\. (ok|FAIL|ERROR)' >&2
count "$(echo "$out" | grep -cE '\.\.\. ok$')" "$(echo "$out" | grep -cE '\.\.\. (FAIL|ERROR)$')"

# 2. pg_regress against a throwaway cluster
say "pg_regress suite"
start_sim "$scratch" && start_cluster "$scratch"
out=$(cd "$scratch" && as_pg make -s installcheck PG_CONFIG=$PG_BIN/pg_config TAP_TESTS= \
	REGRESS_OPTS="--use-existing --dbname=postgres --host=$scratch --port=$PGPORT" 2>&1)
echo "$out" | grep -E '\.\.\. ' >&2
count "$(echo "$out" | grep -cE '\.\.\. +ok')" "$(echo "$out" | grep -cE '\.\.\. +FAILED')"
if echo "$out" | grep -qE '\.\.\. +FAILED'; then
	cat "$scratch/regression.diffs" >&2 2>/dev/null
fi

# 3. isolation specs (test/isolation) on the same cluster, restarted with
# the worker paused: the specs' sessions play the worker's claim themselves
say "isolation specs"
as_pg psql -X -q -d postgres -c "ALTER SYSTEM SET agentphone.enabled = off" &&
	as_pg pg_ctl -D "$scratch/data" -l "$scratch/server.log" -w restart >/dev/null
specs=$(cd "$scratch/test/isolation/specs" && ls *.spec | sed 's/\.spec$//')
out=$(cd "$scratch" && as_pg /usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/isolation/pg_isolation_regress \
	--inputdir=test/isolation --outputdir=output_iso --bindir=$PG_BIN \
	--use-existing --dbname=postgres --host="$scratch" --port=$PGPORT $specs 2>&1)
echo "$out" | grep -E '\.\.\. ' >&2
count "$(echo "$out" | grep -cE '\.\.\. +ok')" "$(echo "$out" | grep -cE '\.\.\. +FAILED')"
if ! echo "$out" | grep -qE '\.\.\. +ok'; then
	count 0 1
	echo "$out" | tail -n 20 >&2
fi
if echo "$out" | grep -qE '\.\.\. +FAILED'; then
	cat "$scratch/output_iso/regression.diffs" >&2 2>/dev/null
fi
stop_all "$scratch"
fi

# 4. TAP tests, one file at a time so that a file that dies still counts
say "TAP tests"
for t in "$scratch"/test/t/*.pl; do
	name=$(basename "$t")
	case "$name" in *"$only"*) ;; *) continue ;; esac
	as_pg mkdir -p "$scratch/tap/${name%.pl}"
	out=$(cd "$scratch" && as_pg env PERL5LIB="/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/perl:$scratch/test/t" \
		PG_REGRESS=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress \
		TESTDIR="$scratch/tap/${name%.pl}" perl "$t" 2>&1)
	rc=$?
	ok=$(echo "$out" | grep -cE '^ok [0-9]+')
	notok=$(echo "$out" | grep -cE '^not ok [0-9]+')
	echo "$out" | grep -E '^(ok|not ok) [0-9]+' | sed "s|^|$name: |" >&2
	if [ $rc -ne 0 ] && [ "$notok" = 0 ]; then
		notok=1
		echo "$name: died (exit $rc):" >&2
		echo "$out" | tail -n 20 >&2
	fi
	if [ "$notok" != 0 ]; then
		echo "$out" | grep -E '^#' | head -n 40 >&2
		ls "$scratch/tap/${name%.pl}/tmp_check/log/" >&2 2>/dev/null
	fi
	count "$ok" "$notok"
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
