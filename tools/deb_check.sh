#!/usr/bin/env bash
# tools/deb_check.sh: run by tools/deb.sh inside the new root where the
# package is installed: a cluster preloading the packaged agentphone,
# pointed at the simulator, places a call and follows it to "completed"
# with its transcript.  One "ok - ..." or "not ok - ..." line per check.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib.sh"
scratch=$(mktemp -d /tmp/agentphone.XXXXXX)
mkdir -p "$scratch/test" && cp -a "$here/test/agentphone_sim.py" "$here/test/sim" "$scratch/test/"
chown -R postgres:postgres "$scratch"
trap 'stop_all "$scratch"' EXIT

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; [ -f "$scratch/server.log" ] && tail -n 20 "$scratch/server.log" | sed 's/^/#   /'; }

start_sim "$scratch" && start_cluster "$scratch" || { notok "a cluster preloading the packaged library starts"; exit 1; }
ok "a cluster preloading the packaged library starts"
psql_() { as_pg psql -X -At -q -d postgres -h "$scratch" -p "$PGPORT" -v ON_ERROR_STOP=1 -c "$1"; }
id=$(psql_ "CREATE EXTENSION agentphone; SELECT agentphone_call('agt_1', '+14155550100', '{\"name\": \"Ada\"}')") &&
	ok "CREATE EXTENSION and agentphone_call() (version $(psql_ "SELECT extversion FROM pg_extension WHERE extname = 'agentphone'"))" ||
	{ notok "CREATE EXTENSION and agentphone_call()"; exit 1; }
status=$(psql_ "SELECT agentphone_wait($id, '60 s', 'transcript')")
[ "$status" = completed ] && ok "the call is placed and completed" || notok "the call is placed and completed (status: $status)"
turns=$(psql_ "SELECT count(*) FROM agentphone.transcripts t JOIN agentphone.calls c ON c.id = t.call_id WHERE c.id = $id")
[ "${turns:-0}" -gt 0 ] && ok "with its transcript ($turns turns)" || notok "with its transcript"
