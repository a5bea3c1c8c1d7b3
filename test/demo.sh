#!/usr/bin/env bash
# test/demo.sh: see agentphone place a call, offline.
#
#   bash test/demo.sh
#
# Installs what is missing (as root on Debian 12), builds and installs the
# extension, starts the AgentPhone simulator and a throwaway PostgreSQL
# cluster preloaded with agentphone, places calls from SQL, shows what was
# stored and what the simulator received, then stops everything.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. test/lib.sh

throwaway_setup "$here"

# sql: run SQL in the demo cluster, echoing it
sql() {
	(cd "$scratch" && as_pg psql -X -q -d postgres -h "$scratch" -p "$PGPORT" \
		-v ON_ERROR_STOP=1 --echo-queries -P pager=off "$@")
}

say "the extension, and a table of leads"
sql <<'SQL'
CREATE EXTENSION agentphone;
CREATE TABLE leads (name text, phone text, interested boolean);
INSERT INTO leads VALUES ('Ada', '+14155550100', true), ('Alan', '+14155550101', true),
	('Grace', '+14155550102', false);
SQL

say "a call queued in a transaction that rolls back is never placed"
sql <<'SQL'
BEGIN;
SELECT agentphone_call('agt_1', '+14155550199');
ROLLBACK;
SQL

say "place calls from a SELECT; they are sent when the transaction commits"
sql <<'SQL'
SELECT name, agentphone_call('agt_1', phone, jsonb_build_object('name', name),
	initial_greeting => 'Hello ' || name || ', this is Acme.') AS call
FROM leads WHERE interested;
SELECT agentphone_wait(id, '10 seconds') FROM agentphone.calls;
SQL

say "a number that is not E.164 is refused, with the reason"
sql <<'SQL' || true
SELECT agentphone_call('agt_1', '415-555-0100');
SQL

say "what agentphone.calls holds"
sql -x <<'SQL'
SELECT id, created_by, agent_id, to_number, variables, initial_greeting, status,
	api_call_id, from_number, started_at, attempts, last_error
FROM agentphone.calls ORDER BY id;
SQL

say "what the AgentPhone simulator received (no POST for the rolled-back call)"
$PY - "$SIM_PORT" <<'PY'
import json, sys, urllib.request
url = "http://127.0.0.1:%s/_sim/requests?method=POST" % sys.argv[1]
for r in json.load(urllib.request.urlopen(url)):
    print(r["method"], r["path"], "->", r["status"], json.dumps(r["body"]))
PY
say "done; the cluster and the simulator are stopped"
