#!/usr/bin/env bash
# test/bench/soak.sh: many calls through the worker, its private memory
# sampled as it goes; memory must stay flat (per-loop memory context,
# every cJSON tree and curl handle freed).
#
#   bash test/bench/soak.sh [CALLS] [BATCH]     (default 20000 in batches of 2000)
#
# Prints the worker's RssAnon (private, not shared buffers) after each
# batch, and the growth from the first batch to the last against the size
# after the first batch (the baseline measured in the same run).
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. test/lib.sh
calls=${1:-20000}
batch=${2:-2000}

throwaway_setup "$here"
restart_with_settings <<CONF
agentphone.max_calls_per_minute = 100000
agentphone.max_in_flight = 32
agentphone.poll_interval = '500ms'
CONF
scratch_sql -c "CREATE EXTENSION agentphone"

rss() {
	local pid
	pid=$(scratch_sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'agentphone worker'")
	awk '/RssAnon/ {print $2}' "/proc/$pid/status"
}

first=
done_calls=0
echo "calls placed   worker RssAnon (kB)"
while [ "$done_calls" -lt "$calls" ]; do
	scratch_sql -c "SELECT count(agentphone_call('agt_1', '+1' || (4155000000 + $done_calls + i)::text))
		FROM generate_series(1, $batch) i" >/dev/null
	wait_queue_drained
	# let polling follow them to the end and store their transcripts
	for _ in $(seq 600); do
		[ "$(scratch_sql -c "SELECT count(*) FROM agentphone.calls WHERE NOT transcript_complete AND status NOT IN ('unknown', 'error')")" = 0 ] && break
		sleep 0.2
	done
	done_calls=$((done_calls + batch))
	kb=$(rss)
	[ -z "$first" ] && first=$kb
	printf "%12d   %8d\n" "$done_calls" "$kb"
done
echo
echo "transcript turns stored: $(scratch_sql -c 'SELECT count(*) FROM agentphone.transcripts')"
$PY -c "print('growth after the first batch: %d kB (%.2fx of the first batch\'s %d kB)' % ($kb - $first, $kb / $first, $first))"
