#!/usr/bin/env bash
# test/bench/pgnet.sh: pg_net (the Supabase extension) and agentphone side by
# side, on the same work, in one run, against the same simulator process.
#
#   PGNET_SRC=/tmp/pgnet_src bash test/bench/pgnet.sh [CALLS]     (default 10000)
#
# (WRK_SECONDS, default 10, is the length of the wrk baseline.)
#
# pg_net's source is not in this repository.  Get a released tag (this was
# measured with v0.20.5, whose extension version string is still 0.20.4;
# any v0.x tag that builds against PostgreSQL 15 will do):
#
#   git clone https://github.com/supabase/pg_net /tmp/pg_net.git
#   mkdir -p /tmp/pgnet_src
#   git -C /tmp/pg_net.git archive v0.20.5 | tar -x -C /tmp/pgnet_src
#
# The script builds and installs pg_net from $PGNET_SRC (default
# /tmp/pgnet_src; it needs libcurl4-openssl-dev), installs wrk if it is
# missing, and preloads both libraries (shared_preload_libraries =
# 'agentphone,pg_net') in a throwaway cluster.  Like scale.sh it builds and
# installs agentphone from this checkout first (make clean included); set
# AGENTPHONE_PG_BIN=/usr/lib/postgresql/15/bin to use the agentphone already
# installed there instead (test/lib.sh's build_install then does nothing).
#
# Settings: pg_net at its defaults but pg_net.batch_size = 500 (default
# 200), its default 5 s request timeout; agentphone with
# max_calls_per_minute = 100000 and max_in_flight = 64 (as in scale.sh),
# everything else at its default.  Both send the same body, {"agentId",
# "toNumber", "variables": {"name"}}, with the same headers.
#
# Figures (one line each):
#   1. enqueue by trigger: INSERT of CALLS rows into a table with an AFTER
#      INSERT FOR EACH ROW trigger, (a) a PL/pgSQL trigger calling
#      net.http_post(), (b) agentphone_dial_trigger('agt_1', 'phone',
#      'name'), each against the same INSERT into a table with no trigger
#      measured just before it.  Server-side time (clock_timestamp), as
#      scale.sh's bench_ms.
#   2. drain: the CALLS requests committed by that INSERT, to the POSTs the
#      simulator received (answered 200), per second, from the end of the
#      INSERT statement (its COMMIT follows at once; both workers are woken
#      at COMMIT) to the last POST.  POST times from the simulator's
#      /_sim/requests?method=POST.  For pg_net, how many requests failed
#      (pg_net does not retry); for agentphone, the GETs its worker sent in
#      the same window to follow the calls it had placed (pg_net does not
#      follow anything).  The worker's CPU per request, from /proc.  As a
#      percentage of wrk's rate and of the Python client's.
#      pg_net's worker sends a batch (pg_net.batch_size requests at once,
#      a connection each, kept for the next batch), then waits up to 1 s
#      before taking the next batch unless a new COMMIT wakes it (worker.c,
#      "slow down queue processing"), so one bulk INSERT drains at about
#      batch_size per (1 s + the batch's own time).
#   3. baselines, against the same simulator before either drain: test/lib.sh's
#      direct_client_rate (a Python client, CALLS POSTs over 64 keep-alive
#      connections) and wrk (2 threads, 64 connections, 10 s, the request of
#      test/bench/wrk_post.lua).
# The simulator is reset before each measurement; each created call runs
# the simulator's default 3-turn script, whoever created it.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. test/lib.sh
calls=${1:-10000}
pgnet_src=${PGNET_SRC:-/tmp/pgnet_src}
wrk_seconds=${WRK_SECONDS:-10}

if [ ! -f "$pgnet_src/pg_net.control.in" ] || [ ! -d "$pgnet_src/src" ]; then
	echo "no pg_net source in $pgnet_src (set PGNET_SRC; see the top of $0)" >&2
	exit 1
fi
install_deps
install_deps wrk
say "building and installing pg_net from $pgnet_src"
make -s -C "$pgnet_src" PG_CONFIG=$PG_BIN/pg_config >/dev/null
make -s -C "$pgnet_src" PG_CONFIG=$PG_BIN/pg_config install >/dev/null

throwaway_setup "$here"
restart_with_settings <<CONF
shared_preload_libraries = 'agentphone,pg_net'
pg_net.batch_size = 500
agentphone.max_calls_per_minute = 100000
agentphone.max_in_flight = 64
CONF
sim() { $PY -c "import sys, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$SIM_PORT' + sys.argv[1], data=sys.argv[2].encode(), method='POST', headers={'content-type': 'application/json'}))" "$@"; }

scratch_sql <<'SQL'
CREATE EXTENSION agentphone;
CREATE EXTENSION pg_net;
-- bench_ms: "milliseconds epoch_at_end" of one statement
CREATE FUNCTION bench_ms(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE t timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	RETURN (extract(epoch FROM clock_timestamp() - t) * 1000) || ' ' || extract(epoch FROM clock_timestamp());
END $$;
CREATE TABLE leads_plain (phone text, name text);
CREATE TABLE leads_pgnet (phone text, name text);
CREATE TABLE leads_agentphone (phone text, name text);
-- pgnet_dial(url, authorization): what a pg_net user writes for the same job
CREATE FUNCTION pgnet_dial() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM net.http_post(url := TG_ARGV[0],
		body := jsonb_build_object('agentId', 'agt_1', 'toNumber', NEW.phone,
			'variables', jsonb_build_object('name', NEW.name)),
		headers := jsonb_build_object('Authorization', TG_ARGV[1], 'Content-Type', 'application/json'));
	RETURN NEW;
END $$;
CREATE TRIGGER dial AFTER INSERT ON leads_agentphone FOR EACH ROW
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'name');
SQL
scratch_sql -c "CREATE TRIGGER dial AFTER INSERT ON leads_pgnet FOR EACH ROW
	EXECUTE FUNCTION pgnet_dial('http://127.0.0.1:$SIM_PORT/v1/calls', 'Bearer $SIM_KEY')"
pgnet_version=$(scratch_sql -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_net'")

# insert_ms TABLE FIRST: "ms end_epoch" of an INSERT of CALLS rows into TABLE,
# numbers +1415FIRST+1 ...
insert_ms() {
	scratch_sql -c "SELECT bench_ms(\$\$INSERT INTO $1 SELECT '+1415' || ($2 + i)::text, 'n' || i FROM generate_series(1, $calls) i\$\$)"
}

# enqueue_and_drain TABLE WORKER FIRST DONE: the plain INSERT's baseline,
# then the INSERT into TABLE (numbers from FIRST) and the wait until the
# query DONE is true; prints "plain_ms trigger_ms end_epoch cpu_ms" (CPU
# of the backend type WORKER per call, during the INSERT and the drain)
enqueue_and_drain() {
	local plain trig t0 cpu0 cpu1
	read -r plain _ < <(insert_ms leads_plain "$3")
	scratch_sql -c "TRUNCATE leads_plain" >/dev/null
	sim /_sim/reset '' >/dev/null
	cpu0=$(worker_cpu "$2")
	read -r trig t0 < <(insert_ms "$1" $(($3 + 100000)))
	for _ in $(seq 1500); do
		[ "$(scratch_sql -c "$4")" = t ] && break
		sleep 0.2
	done
	cpu1=$(worker_cpu "$2")
	echo "$plain $trig $t0 $($PY -c "print('%.3f' % (1000 * ($cpu1 - $cpu0) / $calls))")"
}

# posts T0: "ok_posts other_posts rate gets" from the simulator's log: POSTs
# answered 200 per second from T0 to the last of them, and the non-POST API
# requests received in that window
posts() {
	$PY - "$SIM_PORT" "$1" <<'PY'
import json, sys, urllib.request
port, t0 = sys.argv[1], float(sys.argv[2])
reqs = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_sim/requests" % port))
ok = [r for r in reqs if r["method"] == "POST" and r["status"] == 200]
bad = [r for r in reqs if r["method"] == "POST" and r["status"] != 200]
last = max(r["time"] for r in ok)
gets = [r for r in reqs if r["method"] != "POST" and r["time"] <= last]
print("%d %d %.1f %d" % (len(ok), len(bad), len(ok) / (last - t0), len(gets)))
PY
}

say "baseline: Python client, $calls POSTs over 64 connections"
sim /_sim/reset ''
client=$(direct_client_rate "$calls" 64)
say "baseline: wrk, 64 connections, ${wrk_seconds} s"
sim /_sim/reset ''
SIM_KEY=$SIM_KEY wrk -t2 -c64 -d${wrk_seconds}s -s test/bench/wrk_post.lua "http://127.0.0.1:$SIM_PORT/v1/calls" >"$scratch/wrk.out"
wrk_rate=$(awk '/^Requests\/sec:/ { print $2 }' "$scratch/wrk.out")
wrk_bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$scratch/wrk.out")
wrk_bad=${wrk_bad:-0}

say "pg_net: enqueue by trigger, then drain"
read -r plain_pg trig_pg t0_pg pg_cpu < <(enqueue_and_drain leads_pgnet 'pg_net%' 3000000 \
	"SELECT count(*) >= $calls FROM net._http_response")
read -r pg_ok pg_bad pg_rate _ < <(posts "$t0_pg")
read -r pg_resp pg_200 pg_timeout pg_err < <(scratch_sql -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE status_code = 200),
	count(*) FILTER (WHERE timed_out), count(*) FILTER (WHERE error_msg IS NOT NULL) FROM net._http_response")

say "agentphone: enqueue by trigger, then drain"
read -r plain_ap trig_ap t0_ap ap_cpu < <(enqueue_and_drain leads_agentphone 'agentphone worker' 3200000 \
	"SELECT NOT EXISTS (SELECT FROM agentphone.calls WHERE status = 'queued')
		AND NOT EXISTS (SELECT FROM agentphone.calls WHERE status IN ('dispatching', 'reconciling'))")
read -r ap_ok ap_bad ap_rate ap_gets < <(posts "$t0_ap")
ap_placed=$(scratch_sql -c "SELECT count(*) FROM agentphone.calls WHERE api_call_id IS NOT NULL")

echo
$PY - "$calls" "$pgnet_version" "$plain_pg" "$trig_pg" "$plain_ap" "$trig_ap" \
	"$pg_ok" "$pg_bad" "$pg_rate" "$pg_resp" "$pg_200" "$pg_timeout" "$pg_err" "$pg_cpu" \
	"$ap_ok" "$ap_bad" "$ap_rate" "$ap_gets" "$ap_placed" "$ap_cpu" \
	"$client" "$wrk_rate" "$wrk_bad" "$wrk_seconds" <<'PY'
import sys
a = sys.argv[1:]
n, ver = int(a[0]), a[1]
plain_pg, trig_pg, plain_ap, trig_ap = map(float, a[2:6])
pg_ok, pg_bad = int(a[6]), int(a[7]); pg_rate = float(a[8])
pg_resp, pg_200, pg_timeout, pg_err = map(int, a[9:13]); pg_cpu = float(a[13])
ap_ok, ap_bad = int(a[14]), int(a[15]); ap_rate = float(a[16]); ap_gets, ap_placed = int(a[17]), int(a[18])
ap_cpu = float(a[19])
client, wrk = float(a[20]), float(a[21]); wrk_bad, wrk_s = int(a[22]), int(a[23])
print("enqueue by trigger, %d rows: pg_net       %7.0f ms vs plain %4.0f ms = %5.1fx (pg_net extversion %s)"
      % (n, trig_pg, plain_pg, trig_pg / plain_pg, ver))
print("enqueue by trigger, %d rows: agentphone   %7.0f ms vs plain %4.0f ms = %5.1fx (%.2fx pg_net's time)"
      % (n, trig_ap, plain_ap, trig_ap / plain_ap, trig_ap / trig_pg))
print("drain, commit to POST: pg_net     %7.1f POSTs/s = %3.0f%% of wrk, %3.0f%% of Python client "
      "(%d of %d answered 200; %d timed out, %d other errors; worker CPU %.3f ms/request)"
      % (pg_rate, 100 * pg_rate / wrk, 100 * pg_rate / client, pg_200, n, pg_timeout, pg_err - pg_timeout, pg_cpu))
print("drain, commit to POST: agentphone %7.1f POSTs/s = %3.0f%% of wrk, %3.0f%% of Python client "
      "(%d of %d placed, %d GETs following calls meanwhile; worker CPU %.3f ms/call; %.2fx pg_net's rate)"
      % (ap_rate, 100 * ap_rate / wrk, 100 * ap_rate / client, ap_placed, n, ap_gets, ap_cpu, ap_rate / pg_rate))
print("baseline: Python client (direct_client_rate), 64 connections, %d POSTs: %7.1f POSTs/s" % (n, client))
print("baseline: wrk, 2 threads, 64 connections, %d s: %7.1f POSTs/s%s"
      % (wrk_s, wrk, " (%d not 2xx)" % wrk_bad if wrk_bad else ""))
if pg_ok != pg_200 or pg_bad or ap_bad or ap_ok != ap_placed:
    print("note: simulator saw pg_net %d POSTs answered 200, %d not; agentphone %d answered 200, %d not"
          % (pg_ok, pg_bad, ap_ok, ap_bad))
PY
