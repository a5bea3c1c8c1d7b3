#!/usr/bin/env bash
# test/bench/scale.sh: the cost of a call with an empty table and with a
# year of history, each figure against a baseline measured in the same run.
#
#   bash test/bench/scale.sh [CALLS] [HISTORY]     (defaults 10000, 1000000)
#
# For each of "empty" and "history" (HISTORY finished calls over 100,000
# numbers and a year, one in four with two transcript turns, those of the
# last 30 days (agentphone.event_retention) with their event, inserted in
# bulk and analyzed):
#   1. enqueue by trigger: INSERT of CALLS rows into a table with
#      agentphone_dial_trigger, against the same INSERT into the same
#      table without the trigger (every dialing rule at its default);
#   2. enqueue by SELECT: SELECT agentphone_call(...) FROM
#      generate_series(1, CALLS), against INSERT ... SELECT of the same
#      rows into a plain table;
#   3. the whole life of the 2 x CALLS queued calls once the worker is let
#      go (pacing lifted, 64 in flight): claimed, POSTed, recorded, polled
#      until completed, a 4-turn transcript stored.  Drain rate (POSTs/s)
#      against what a plain Python client gets from the same simulator over
#      64 keep-alive connections; the worker's CPU per call (from /proc);
#      WAL bytes per call, from before the enqueue to the last transcript.
# The sink is the Python simulator (test/agentphone_sim.py) in both the
# measurement and its baseline.  Timings are server-side (clock_timestamp).
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. test/lib.sh
calls=${1:-10000}
history=${2:-1000000}

throwaway_setup "$here"
restart_with_settings <<CONF
agentphone.enabled = off
agentphone.max_calls_per_minute = 100000
agentphone.max_in_flight = 64
agentphone.poll_interval = '500ms'
agentphone.sweep_interval = '1s'
max_wal_size = '4GB'
checkpoint_timeout = '30min'
CONF
sim() { $PY -c "import sys, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$SIM_PORT' + sys.argv[1], data=sys.argv[2].encode(), method='POST', headers={'content-type': 'application/json'}))" "$@"; }
sim /_sim/config '{"default_script": {"outcome": "completed", "turn_interval": 0, "turns": [{"role": "agent", "content": "Hello"}, {"role": "user", "content": "Hi"}, {"role": "agent", "content": "Your appointment is at 9"}, {"role": "user", "content": "Thanks"}]}}'
scratch_sql <<'SQL'
CREATE EXTENSION agentphone;
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	RETURN extract(epoch FROM clock_timestamp() - t) * 1000;
END $$;
CREATE TABLE leads (phone text, name text);
CREATE TABLE leads_plain (phone text, name text);
CREATE TABLE calls_plain (agent_id text, to_number text, variables jsonb);
CREATE TRIGGER dial AFTER INSERT ON leads FOR EACH ROW
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'name');
SQL

# load_history: HISTORY finished calls, triggers off for the bulk load
load_history() {
	scratch_sql <<SQL
SET session_replication_role = replica;
INSERT INTO agentphone.calls (created_at, created_by, agent_id, to_number, status, api_call_id,
	started_at, ended_at, duration_seconds, transcript_complete, attempts, next_attempt_at,
	dispatched_at, updated_at)
SELECT t, 'postgres', 'agt_1', '+1212' || (2000000 + i % 100000)::text,
	(ARRAY['completed', 'completed', 'completed', 'completed', 'completed', 'failed', 'error', 'canceled'])[1 + i % 8],
	CASE WHEN i % 8 < 6 THEN 'call_h' || i END, t, t + interval '1 minute', 60, i % 8 < 6, 1, NULL, t, t
  FROM generate_series(1, $history) i,
	LATERAL (SELECT now() - (i % 365) * interval '1 day' - interval '1 hour' AS t) s;
-- events as the worker leaves them: those older than event_retention (30
-- days) already trimmed (a year of them would be trimmed during the round,
-- and their deletion counted as the WAL of the calls)
INSERT INTO agentphone.call_events (call_id, from_status, to_status, at)
SELECT id, 'in-progress', status, created_at FROM agentphone.calls
 WHERE created_at > now() - interval '30 days';
INSERT INTO agentphone.transcripts (call_id, seq, role, content)
SELECT id, s, CASE s WHEN 1 THEN 'agent' ELSE 'user' END, 'turn ' || s
  FROM agentphone.calls, generate_series(1, 2) s WHERE id % 4 = 0 AND status = 'completed';
RESET session_replication_role;
VACUUM ANALYZE agentphone.calls;
VACUUM ANALYZE agentphone.call_events;
VACUUM ANALYZE agentphone.transcripts;
SQL
}

# run_round NAME: the three measurements; prints one line of figures
run_round() {
	local name=$1 base n wal0 wal1 cpu0 cpu1 t0 t1 trig plain sel selplain drain client
	base=$((3000000 + RANDOM * 10))
	scratch_sql -c "TRUNCATE leads, leads_plain, calls_plain; CHECKPOINT"
	wal0=$(scratch_sql -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
	plain=$(scratch_sql -c "SELECT bench_ms(\$\$INSERT INTO leads_plain SELECT '+1415' || ($base + i)::text, 'n' || i FROM generate_series(1, $calls) i\$\$)")
	trig=$(scratch_sql -c "SELECT bench_ms(\$\$INSERT INTO leads SELECT '+1415' || ($base + i)::text, 'n' || i FROM generate_series(1, $calls) i\$\$)")
	selplain=$(scratch_sql -c "SELECT bench_ms(\$\$INSERT INTO calls_plain SELECT 'agt_1', '+1415' || ($base + $calls + i)::text, NULL FROM generate_series(1, $calls) i\$\$)")
	sel=$(scratch_sql -c "SELECT bench_ms(\$\$SELECT count(agentphone_call('agt_1', '+1415' || ($base + $calls + i)::text)) FROM generate_series(1, $calls) i\$\$)")
	n=$(scratch_sql -c "SELECT count(*) FROM agentphone.calls WHERE status = 'queued'")

	sim /_sim/reset ''
	cpu0=$(worker_cpu)
	t0=$(scratch_sql -c "SELECT extract(epoch FROM clock_timestamp())")
	scratch_sql -c "ALTER SYSTEM SET agentphone.enabled = on" -c "SELECT pg_reload_conf()" >/dev/null
	for _ in $(seq 6000); do
		# two lookups through the worker's own partial indexes
		[ "$(scratch_sql -c "SELECT EXISTS (SELECT FROM agentphone.calls WHERE status = 'queued')
			OR EXISTS (SELECT FROM agentphone.calls WHERE status IN ('dispatching', 'reconciling'))
			OR EXISTS (SELECT FROM agentphone.calls WHERE api_call_id IS NOT NULL AND NOT transcript_complete
				AND status NOT IN ('queued', 'dispatching', 'error', 'unknown'))")" = f ] && break
		sleep 0.2
	done
	cpu1=$(worker_cpu)
	wal1=$(scratch_sql -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
	drain=$($PY - "$SIM_PORT" "$t0" <<'PY'
import json, sys, urllib.request
posts = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_sim/requests?method=POST" % sys.argv[1]))
ok = [p for p in posts if p["status"] == 200]
print("%.1f" % (len(ok) / (max(p["time"] for p in ok) - float(sys.argv[2]))))
PY
)
	scratch_sql -c "ALTER SYSTEM SET agentphone.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
	sim /_sim/reset ''
	client=$(direct_client_rate "$n" 64)
	$PY - "$name" "$calls" "$n" "$plain" "$trig" "$selplain" "$sel" "$drain" "$client" "$cpu0" "$cpu1" "$wal0" "$wal1" <<'PY'
import sys
name, calls, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
plain, trig, selplain, sel, drain, client, cpu0, cpu1, wal0, wal1 = map(float, sys.argv[4:])
print("%-8s trigger %7.0f ms vs plain %5.0f ms = %6.1fx | select %7.0f ms vs plain %5.0f ms = %6.1fx | "
      "drain %6.1f/s vs client %6.1f/s = %4.0f%% | worker CPU %.3f ms/call | WAL %.2f KB/call (%d calls)"
      % (name, trig, plain, trig / plain, sel, selplain, sel / selplain, drain, client, 100 * drain / client,
         1000 * (cpu1 - cpu0) / n, (wal1 - wal0) / n / 1024, n))
PY
}

say "round 1: empty table"
r1=$(run_round empty)
say "loading $history calls of history"
scratch_sql -c "TRUNCATE agentphone.calls CASCADE"
load_history
say "round 2: with history"
r2=$(run_round history)
echo
echo "$r1"
echo "$r2"
