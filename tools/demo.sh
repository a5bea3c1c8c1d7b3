#!/usr/bin/env bash
# tools/demo.sh: the whole life of a call, offline, set up as a user would.
#
#   bash tools/demo.sh
#
# Installs what is missing (as root on Debian 12), builds and installs the
# extension, starts the AgentPhone simulator and a throwaway PostgreSQL
# cluster preloaded with agentphone, then:
#   - puts the API key in a key file (not in a setting) and grants an
#     application role agentphone_caller;
#   - as that role: a rolled-back call dials nobody; an appointment
#     inserted into a table with a dialing trigger places a confirmation
#     call, and a SELECT over leads places two more;
#   - follows them to "completed": their transcripts, their events, the
#     NOTIFY payloads a listening session received, and a report;
#   - shows what the simulator received, then stops everything.
# It takes well under 30 seconds once the packages are installed.
set -eu
here=$(cd "$(dirname "$0")/../" && pwd)
cd "$here"
. test/lib.sh

throwaway_setup "$here"

# sql [ROLE] [psql options]: run SQL from stdin in the demo cluster as ROLE
# (postgres by default), echoing it
sql() {
	local role=postgres
	case "${1:-}" in -*|'') ;; *) role=$1; shift ;; esac
	(cd "$scratch" && as_pg psql -X -q -d postgres -h "$scratch" -p "$PGPORT" -U "$role" \
		-v ON_ERROR_STOP=1 --echo-queries -P pager=off "$@")
}

# the simulator's calls: three turns, a second apart
$PY -c "import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST', headers={'content-type': 'application/json'}))" \
	"http://127.0.0.1:$SIM_PORT/_sim/config" \
	'{"default_script": {"outcome": "completed", "turn_interval": 0.4, "turns": [{"role": "agent", "content": "Hello, this is Acme confirming your appointment tomorrow at 9."}, {"role": "user", "content": "Yes, I will be there."}, {"role": "agent", "content": "Thank you, see you then."}]}}'

say "the key goes in a file only the server's OS user can read, not in a setting"
(umask 077 && echo "$SIM_KEY" >"$scratch/agentphone.key")
chown postgres "$scratch/agentphone.key"
ls -l "$scratch/agentphone.key" | awk '{ print $1, $3, $NF }'
sed -i '/^agentphone.api_key = /d' "$scratch/data/postgresql.conf"
sql <<SQL
ALTER SYSTEM SET agentphone.api_key_file = '$scratch/agentphone.key';
ALTER SYSTEM SET agentphone.poll_interval = '500ms';
SELECT pg_reload_conf();
SQL

say "the extension, an application role, and its tables"
sql <<'SQL'
CREATE EXTENSION agentphone;
CREATE ROLE app LOGIN;
GRANT agentphone_caller TO app;
CREATE TABLE leads (name text, phone text, interested boolean);
INSERT INTO leads VALUES ('Ada', '+14155550100', true), ('Alan', '+14155550101', true),
	('Grace', '+14155550102', false);
CREATE TABLE appointments (patient text, phone text, at timestamptz, call_id bigint);
-- the trigger fills call_id: a BEFORE trigger
CREATE TRIGGER confirm BEFORE INSERT ON appointments FOR EACH ROW
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'patient', 'call_id');
GRANT SELECT ON leads TO app;
GRANT SELECT, INSERT ON appointments TO app;
SQL

say "a session of app listening on its channel, agentphone_channel() (its notifications are shown below)"
# (psql shows notifications after each statement: it runs short ones)
(echo "SELECT agentphone_channel() AS channel \\gset"; echo 'LISTEN :"channel";'
	for _ in $(seq 120); do echo "SELECT pg_sleep(0.25);"; done) \
	>"$scratch/listen.sql"
chown postgres "$scratch/listen.sql"
# psql writes its own pid (exec keeps it), and is ended below by that pid
# alone: no other demo's listener is touched
(cd "$scratch" && as_pg sh -c 'echo $$ >"$1/listen.pid"; shift; exec "$@"' sh "$scratch" \
	psql -X -q -d postgres -h "$scratch" -p "$PGPORT" -U app -f listen.sql) \
	>"$scratch/listen.out" 2>&1 &
listener=$!
sleep 0.5

say "as app: a call queued in a transaction that rolls back is never placed"
sql app <<'SQL'
BEGIN;
SELECT agentphone_call('agt_1', '+14155550199');
ROLLBACK;
SQL

say "as app: an appointment inserted places its confirmation call (the trigger)"
sql app <<'SQL'
INSERT INTO appointments VALUES ('Edsger', '+14155550103', now() + interval '1 day')
RETURNING patient, call_id;
SQL

say "as app: calls placed from a SELECT, sent when the transaction commits"
sql app <<'SQL'
SELECT name, agentphone_call('agt_1', phone, jsonb_build_object('name', name),
	initial_greeting => 'Hello ' || name || ', this is Acme.') AS call
FROM leads WHERE interested;
SQL

say "as app: a mistake is refused with the reason and the fix"
sql app <<'SQL' || true
SELECT agentphone_call('agt_1', '415-555-0100');
SQL

say "as app: wait until each call has ended and its transcript is stored"
sql app <<'SQL'
SELECT id, to_number, agentphone_wait(id, '20 seconds', 'transcript') AS status
FROM agentphone.calls ORDER BY id;
SQL

say "as app: the calls"
sql app -x <<'SQL'
SELECT id, created_by, to_number, variables, status, api_call_id, from_number,
	started_at, ended_at, duration_seconds, attempts, transcript_complete, last_error
FROM agentphone.calls ORDER BY id;
SQL

say "as app: one call's transcript and its events"
sql app <<'SQL'
SELECT seq, role, content FROM agentphone.transcripts
 WHERE call_id = (SELECT min(id) FROM agentphone.calls) ORDER BY seq;
SELECT from_status, to_status, at FROM agentphone.call_events
 WHERE call_id = (SELECT min(id) FROM agentphone.calls) ORDER BY id;
SQL

say "as app: a report: calls per status, and what the callees said"
sql app <<'SQL'
SELECT status, count(*), round(avg(duration_seconds), 1) AS avg_seconds
FROM agentphone.call_report GROUP BY status;
SELECT c.to_number, t.content AS callee_said
FROM agentphone.calls c JOIN agentphone.transcripts t ON t.call_id = c.id AND t.role = 'user'
ORDER BY c.id;
SQL

sleep 0.5
kill "$(cat "$scratch/listen.pid")" 2>/dev/null || true
wait "$listener" 2>/dev/null || true
say "what the listening session received (one payload per transition, then one when the transcript is stored)"
sed -n 's/^Asynchronous notification "agentphone_[0-9a-f]*" with payload "\(.*\)" received from server process.*/  \1/p' \
	"$scratch/listen.out"

say "what the AgentPhone simulator received (no POST for the rolled-back call)"
$PY - "$SIM_PORT" <<'PY'
import json, sys, urllib.request
url = "http://127.0.0.1:%s/_sim/requests" % sys.argv[1]
for r in json.load(urllib.request.urlopen(url)):
    body = (" " + json.dumps(r["body"])) if r["method"] == "POST" else ""
    print(" ", r["method"], r["path"].split("?")[0], "->", r["status"], body)
PY
say "done; the cluster and the simulator are stopped"
