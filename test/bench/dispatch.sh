#!/usr/bin/env bash
# test/bench/dispatch.sh: how fast agentphone turns committed calls into
# POSTs, each figure against a baseline measured in the same run.
#
#   bash test/bench/dispatch.sh [CALLS]     (default 2000)
#
# 1. Commit-to-POST latency of single-call transactions, woken at COMMIT,
#    against the same calls found by a 1-second sweep instead (queued with
#    PREPARE TRANSACTION / COMMIT PREPARED, which wakes nobody: the polling
#    design pg_net started with).
# 2. Throughput of CALLS calls committed at once (max_in_flight 16), against
#    a plain Python client POSTing the same number of calls to the same
#    simulator over 16 keep-alive connections (what the simulator can take).
# Timestamps come from the server (created_at) and the simulator's request
# log, on the same machine clock.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. test/lib.sh
calls=${1:-2000}

throwaway_setup "$here"
restart_with_settings <<CONF
max_prepared_transactions = 10
agentphone.sweep_interval = '1s'
agentphone.max_calls_per_minute = 100000
agentphone.max_in_flight = 16
CONF
sim_reset() { $PY -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$SIM_PORT/_sim/reset', data=b'', method='POST'))"; }
scratch_sql -c "CREATE EXTENSION agentphone"

# latency ROWS_SQL: percentiles of POST time minus created_at for the calls
# whose numbers start with +1415556
latency() {
	scratch_sql -c "COPY (SELECT to_number, extract(epoch FROM created_at) FROM agentphone.calls WHERE to_number LIKE '+1415556%') TO STDOUT" >"$scratch/created.tsv"
	$PY - "$SIM_PORT" "$scratch/created.tsv" <<'PY'
import json, sys, urllib.request
posts = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_sim/requests?method=POST" % sys.argv[1]))
sent = {p["body"]["toNumber"]: p["time"] for p in posts}
lat = sorted(1000 * (sent[n] - float(t)) for n, t in (l.split("\t") for l in open(sys.argv[2])) if n in sent)
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("%.1f %.1f %.1f %d" % (pick(0.5), pick(0.9), pick(0.99), len(lat)))
PY
}

say "latency: 100 single-call transactions, woken at COMMIT"
sim_reset
for i in $(seq 100); do echo "SELECT agentphone_call('agt_1', '+1415556$(printf %04d $i)');"; echo "SELECT pg_sleep(0.02);"; done | scratch_sql >/dev/null
sleep 1
read -r w50 w90 w99 wn < <(latency)
scratch_sql -c "TRUNCATE agentphone.calls CASCADE"

say "latency: 20 calls committed with COMMIT PREPARED, found by the 1 s sweep"
sim_reset
for i in $(seq 20); do
	echo "BEGIN; SELECT agentphone_call('agt_1', '+1415556$(printf %04d $i)'); PREPARE TRANSACTION 'p$i'; COMMIT PREPARED 'p$i'; SELECT pg_sleep(0.137);"
done | scratch_sql >/dev/null
sleep 1.5
read -r s50 s90 s99 sn < <(latency)
scratch_sql -c "TRUNCATE agentphone.calls CASCADE"

say "throughput: $calls calls committed at once"
sim_reset
t=$(scratch_sql -c "SELECT extract(epoch FROM clock_timestamp())")
scratch_sql -c "SELECT count(agentphone_call('agt_1', '+1415557' || lpad(i::text, 4, '0'))) FROM generate_series(1, $calls) i" >/dev/null
wait_queue_drained
ext=$($PY - "$SIM_PORT" "$t" <<'PY'
import json, sys, urllib.request
posts = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_sim/requests?method=POST" % sys.argv[1]))
ok = [p for p in posts if p["status"] == 200]
print("%.1f %d" % (len(ok) / (max(p["time"] for p in ok) - float(sys.argv[2])), len(ok)))
PY
)
placed=$(scratch_sql -c "SELECT count(*) FROM agentphone.calls WHERE status IN ('in-progress', 'completed')")

say "baseline: a Python client POSTing $calls calls over 16 keep-alive connections"
sim_reset
base=$(direct_client_rate "$calls" 16)

read -r rate nposts <<<"$ext"
echo
echo "commit-to-POST latency (ms)      p50     p90     p99   calls"
printf "woken at COMMIT              %7.1f %7.1f %7.1f %7d\n" "$w50" "$w90" "$w99" "$wn"
printf "found by a 1 s sweep         %7.1f %7.1f %7.1f %7d\n" "$s50" "$s90" "$s99" "$sn"
$PY -c "print('ratio (sweep / wake, p50)    %7.1fx' % ($s50 / max($w50, 0.1)))"
echo
echo "throughput                      calls/s"
printf "agentphone (%d placed)      %9.1f\n" "$placed" "$rate"
printf "baseline: direct client      %9.1f\n" "$base"
$PY -c "print('ratio (agentphone / baseline) %8.2f' % ($rate / $base))"
