# test/bench/enqueue_setup.sh, sourced by single.sh and enqueue_ab.sh once
# their throwaway cluster runs: creates the extension and the plain table
# of the baseline, writes pgbench's two scripts (call.sql queues a call to
# a random number, plain.sql inserts the same row into the plain table)
# and defines latency FILE, pgbench's mean latency per transaction in ms,
# one client, $seconds long, as $BENCH_ROLE (default postgres).
scratch_sql <<'SQL'
CREATE EXTENSION agentphone;
CREATE TABLE calls_plain (id bigserial PRIMARY KEY, agent_id text, to_number text, variables jsonb,
	created_at timestamptz DEFAULT now());
SQL
as_pg tee "$scratch/call.sql" >/dev/null <<'SQL'
\set n random(2000000, 2099999)
SELECT agentphone_call('agt_1', '+1212' || :n);
SQL
as_pg tee "$scratch/plain.sql" >/dev/null <<'SQL'
\set n random(2000000, 2099999)
INSERT INTO calls_plain (agent_id, to_number) VALUES ('agt_1', '+1212' || :n);
SQL

latency() {
	(cd "$scratch" && as_pg pgbench -n -c 1 -T "$seconds" -f "$1" -h "$scratch" -p "$PGPORT" \
		-U "${BENCH_ROLE:-postgres}" postgres) |
		awk '/^latency average/ { print $4 }'
}
