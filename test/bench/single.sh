#!/usr/bin/env bash
# test/bench/single.sh: the cost of a transaction that queues one call,
# against a transaction that inserts the same row into a plain table, in
# the same run; with the history tables as installed (one partition each)
# and with them partitioned by month for two years (the pg_partman layout
# of docs/recipes.md, made by hand: 2 x 25 tables under the two); then
# with the per-number limit counted, under the number's row lock (1.7)
# and under the lock table's locks (as before 1.7); then as an application
# role, with its grant in this database asked at every call (1.8) and
# without agentphone.grants (membership alone, as before 1.8).
#
#   bash test/bench/single.sh [SECONDS]     (default 15 per measurement)
#
# Each measurement is pgbench, one client, one statement per transaction,
# SECONDS long; it prints the mean latency per transaction in ms of each
# and their ratio.  The worker is paused (agentphone.enabled = off), so
# only the enqueue is measured.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. test/lib.sh
seconds=${1:-15}

throwaway_setup "$here"
restart_with_settings <<CONF
agentphone.enabled = off
agentphone.max_calls_per_number_per_day = 0
CONF
. test/bench/enqueue_setup.sh

# round NAME: one line of figures
round() {
	local call plain
	plain=$(latency plain.sql)
	call=$(latency call.sql)
	awk -v name="$1" -v call="$call" -v plain="$plain" \
		'BEGIN { printf "%-18s agentphone_call() %s ms, plain INSERT %s ms: %.2fx\n", name, call, plain, call / plain }'
}

round "as installed:"
# two years of months under each history table, as the recipe leaves them
scratch_sql <<'SQL'
DO $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT * FROM (VALUES ('transcripts', 'stored_at'), ('call_events', 'at')) v(name, col) LOOP
		EXECUTE format('CREATE TABLE agentphone.%I (LIKE agentphone.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (%I)',
			t.name || '_monthly', t.name, t.col);
		EXECUTE format('ALTER TABLE agentphone.%I ATTACH PARTITION agentphone.%I FOR VALUES FROM (MINVALUE) TO (MAXVALUE)',
			t.name, t.name || '_monthly');
		FOR m IN 0 .. 23 LOOP
			EXECUTE format('CREATE TABLE agentphone.%I PARTITION OF agentphone.%I FOR VALUES FROM (%L) TO (%L)',
				t.name || '_p' || m, t.name || '_monthly',
				date_trunc('month', now()) - (m - 12) * interval '1 month',
				date_trunc('month', now()) - (m - 13) * interval '1 month');
		END LOOP;
	END LOOP;
END $$;
SQL
round "by month, 2 x 25:"
# the per-number limit on (never reached, but counted at every call):
# the number's row of agentphone.number_locks (1.7), then, once that table
# is gone, the lock table as before 1.7 (64 numbers one by one, then all)
restart_with_settings <<CONF
agentphone.max_calls_per_number_per_day = 1000
CONF
round "limit, row lock:"
scratch_sql <<'SQL'
ALTER EXTENSION agentphone DROP TABLE agentphone.number_locks;
DROP TABLE agentphone.number_locks;
SQL
round "limit, lock table:"
# as a role that is not a superuser (a superuser holds every grant without
# asking agentphone.grants)
scratch_sql <<'SQL'
CREATE ROLE app LOGIN;
GRANT agentphone_caller TO app;
GRANT INSERT ON calls_plain TO app;
GRANT USAGE ON SEQUENCE calls_plain_id_seq TO app;
SQL
BENCH_ROLE=app round "as app, grants:"
scratch_sql <<'SQL'
ALTER EXTENSION agentphone DROP TABLE agentphone.grants;
DROP TABLE agentphone.grants;
SQL
BENCH_ROLE=app round "as app, no grants:"
