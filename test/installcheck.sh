#!/usr/bin/env bash
# test/installcheck.sh: PGXS's "make installcheck" (the Makefile's REGRESS,
# ISOLATION and TAP_TESTS), self-provisioned: it needs agentphone built and
# installed, nothing else running.  "make installcheck" with no server named
# runs it; test/run.sh runs it after building.
#
#   bash test/installcheck.sh         every part
#   bash test/installcheck.sh 002     only the TAP tests whose name contains 002
#
# As the postgres OS user (when run as root; as the user running it
# otherwise) in a scratch copy of the project:
#   1. the pg_regress suite (sql/, expected/) against a throwaway cluster
#      preloaded with agentphone and pointed at a simulator it starts;
#   2. the isolation specs (test/isolation) on that cluster, its worker
#      paused;
#   3. the TAP tests (test/t/*.pl), each starting its own cluster and
#      simulator.
# Each part is "make installcheck-server" with the other parts' variables
# emptied.  It stops everything it started, keeps the scratch directory
# (logs, data) only when a test failed, and ends with "N passed, N failed";
# its exit status is 0 when none failed.  AGENTPHONE_PG_BIN names another
# PostgreSQL 15 bin directory to test with (see test/lib.sh).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. test/lib.sh

scratch=$(make_scratch "$here")
passed=0
failed=0
trap 'stop_all "$scratch"' EXIT
only=${1:-}

# installcheck WHAT VAR=VALUE...: run PGXS's "make installcheck" in the
# scratch copy, as the postgres OS user, with the Makefile's test variables
# overridden as given (an empty REGRESS, ISOLATION or TAP_TESTS leaves that
# part out); its output is in $out, its exit status in $rc
installcheck() {
	say "$1"
	shift
	out=$(cd "$scratch" && as_pg make -s installcheck-server PG_CONFIG=$PG_BIN/pg_config "$@" 2>&1)
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

if [ -z "$only" ]; then
# 1. pg_regress (REGRESS) against a throwaway cluster
start_sim "$scratch" && start_cluster "$scratch"
server="--host=$scratch --port=$PGPORT"
installcheck "pg_regress suite" ISOLATION= TAP_TESTS= EXTRA_REGRESS_OPTS="$server"
count_regress "$scratch/regression.diffs"

# 2. the isolation specs (ISOLATION, test/isolation) on the same cluster,
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

# 3. the TAP tests (TAP_TESTS, test/t/*.pl, or those whose name contains
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

finish_run
