#!/usr/bin/env bash
# test/bench/upgrade.sh: what ALTER EXTENSION agentphone UPDATE TO '1.6', '1.7' and '1.9'
# costs on a busy install (1.6 makes transcripts and call_events
# partitioned tables), against copying those two tables once, measured in
# the same run on the same rows.
#
#   bash test/bench/upgrade.sh [CALLS]     (default 1000000; two turns and
#                                           two events per call)
#
# The upgrade renames each table to its default partition and attaches it
# under a new parent, copying no row; the baseline is the least a rewrite
# of the tables would read and write (CREATE TABLE AS of each).
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. test/lib.sh
calls=${1:-1000000}

throwaway_setup "$here"
restart_with_settings <<CONF
agentphone.enabled = off
max_wal_size = '4GB'
checkpoint_timeout = '30min'
CONF

say "a 1.5 install with $calls calls, $((2 * calls)) turns and $((2 * calls)) events"
scratch_sql <<SQL
DROP EXTENSION IF EXISTS agentphone CASCADE;
CREATE EXTENSION agentphone VERSION '1.5';
ALTER TABLE agentphone.calls DISABLE TRIGGER USER;
INSERT INTO agentphone.calls (agent_id, to_number, status, created_by)
  SELECT 'agt_1', '+1415' || lpad(g::text, 7, '0'), 'completed', 'postgres'
    FROM generate_series(1, $calls) g;
ALTER TABLE agentphone.calls ENABLE TRIGGER USER;
INSERT INTO agentphone.transcripts (call_id, seq, role, content)
  SELECT c.id, s, CASE WHEN s = 1 THEN 'agent' ELSE 'user' END, 'turn ' || s || ' of call ' || c.id
    FROM agentphone.calls c, generate_series(1, 2) s;
INSERT INTO agentphone.call_events (call_id, from_status, to_status)
  SELECT id, 'queued', 'dispatching' FROM agentphone.calls
  UNION ALL SELECT id, 'dispatching', 'completed' FROM agentphone.calls;
VACUUM ANALYZE;
CHECKPOINT;
SQL

seconds() {
	local t0 t1
	t0=$(date +%s.%N)
	scratch_sql -c "$1" >/dev/null
	t1=$(date +%s.%N)
	awk "BEGIN { print $t1 - $t0 }"
}
copy=$(seconds "CREATE TABLE copy_t AS TABLE agentphone.transcripts; CREATE TABLE copy_e AS TABLE agentphone.call_events")
scratch_sql -c 'DROP TABLE copy_t, copy_e; CHECKPOINT'
upgrade=$(seconds "ALTER EXTENSION agentphone UPDATE TO '1.6'")
rows=$(scratch_sql -c "SELECT (SELECT count(*) FROM agentphone.transcripts) + (SELECT count(*) FROM agentphone.call_events)")
[ "$rows" = $((4 * calls)) ] || { echo "the upgrade lost rows: $rows of $((4 * calls))" >&2; exit 1; }
printf 'copying transcripts and call_events once (baseline): %.2f s\n' "$copy"
printf 'ALTER EXTENSION agentphone UPDATE TO 1.6:           %.2f s (%.2fx the copy)\n' "$upgrade" "$(awk "BEGIN { print $upgrade / $copy }")"

# update_against_copy VERSION CHECK: time ALTER EXTENSION agentphone UPDATE
# TO VERSION against copying agentphone.calls once, each after a
# checkpoint; CHECK, a query, must then count every call
update_against_copy() {
	local version=$1 check=$2 copy_calls upgrade kept
	scratch_sql -c 'CHECKPOINT'
	copy_calls=$(seconds "CREATE TABLE copy_c AS TABLE agentphone.calls")
	scratch_sql -c 'DROP TABLE copy_c; CHECKPOINT'
	upgrade=$(seconds "ALTER EXTENSION agentphone UPDATE TO '$version'")
	kept=$(scratch_sql -c "$check")
	[ "$kept" = "$calls" ] || { echo "the $version update lost or changed calls: $kept of $calls kept" >&2; exit 1; }
	printf 'copying calls once (baseline):                       %.2f s\n' "$copy_calls"
	printf 'ALTER EXTENSION agentphone UPDATE TO %s:           %.2f s (%.2fx the copy)\n' \
		"$version" "$upgrade" "$(awk "BEGIN { print $upgrade / $copy_calls }")"
}

# 1.7 stores roles by OID (agentphone.calls and do_not_call rewritten,
# their indexes rebuilt) and rebuilds the full-text index of
# transcripts_default
update_against_copy 1.7 "SELECT count(*) FROM agentphone.calls WHERE created_by = 'postgres'::regrole"

# 1.9 checks every call's status against agentphone's states (an UPDATE of
# the rows whose status is an API word, none here, and two CHECK
# constraints validated over the table)
scratch_sql -c "ALTER EXTENSION agentphone UPDATE TO '1.8'" >/dev/null
update_against_copy 1.9 "SELECT count(*) FROM agentphone.calls WHERE status = 'completed' AND api_status IS NULL"
