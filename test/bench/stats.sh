#!/usr/bin/env bash
# test/bench/stats.sh: what one read of agentphone.stats costs with a
# million calls stored, against a count(*) of the queued calls, in the same
# run.  The history: CALLS finished calls (default 1000000), two events
# each, 2 days old but one in a hundred finished an hour ago (10,000 a
# day: the day's outcomes are read from the last day's events, so they
# cost what a day holds, not what is stored); the queue: 100 calls due
# later.
#
#   bash test/bench/stats.sh [CALLS]
#
# Each figure is the mean of pgbench, one client, 10 s.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. test/lib.sh
calls=${1:-1000000}

throwaway_setup "$here"
restart_with_settings <<CONF
agentphone.enabled = off
max_wal_size = '4GB'
CONF
say "$calls finished calls with $((2 * calls)) events, and 100 queued"
scratch_sql <<SQL
CREATE EXTENSION agentphone;
ALTER TABLE agentphone.calls DISABLE TRIGGER USER;
INSERT INTO agentphone.calls (agent_id, to_number, status, created_at)
  SELECT 'agt_1', '+1415' || lpad(g::text, 7, '0'), 'completed', now() - interval '2 days'
    FROM generate_series(1, $calls) g;
ALTER TABLE agentphone.calls ENABLE TRIGGER USER;
INSERT INTO agentphone.call_events (call_id, from_status, to_status, at)
  SELECT id, 'queued', 'dispatching', created_at FROM agentphone.calls
  UNION ALL SELECT id, 'dispatching', 'completed',
    CASE WHEN id % 100 = 0 THEN now() - interval '1 hour' ELSE created_at END FROM agentphone.calls;
SELECT count(agentphone_call('agt_1', '+1212555' || lpad(g::text, 4, '0'), not_before => now() + interval '1 day'))
  FROM generate_series(1, 100) g;
VACUUM ANALYZE agentphone.calls;
VACUUM ANALYZE agentphone.call_events_default;
SQL
as_pg tee "$scratch/stats.sql" >/dev/null <<'SQL'
SELECT * FROM agentphone.stats;
SQL
as_pg tee "$scratch/count.sql" >/dev/null <<'SQL'
SELECT count(*) FROM agentphone.calls WHERE status = 'queued';
SQL
latency() {
	(cd "$scratch" && as_pg pgbench -n -c 1 -T 10 -f "$1" -h "$scratch" -p "$PGPORT" postgres) |
		awk '/^latency average/ { print $4 }'
}
stats=$(latency stats.sql)
count=$(latency count.sql)
scratch_sql -c "SELECT queued_later, completed_1d, completed_1h FROM agentphone.stats" | sed 's/^/stats row: /'
awk -v s="$stats" -v c="$count" -v n="$calls" \
	'BEGIN { printf "%d calls stored: agentphone.stats %s ms, count(*) of the queue %s ms: %.1fx\n", n, s, c, s / c }'
