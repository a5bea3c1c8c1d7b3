#!/usr/bin/env bash
# test/valgrind.sh: run a workload through agentphone with every server
# process under valgrind's memcheck, and fail on any error whose stack
# passes through agentphone.so.
#
#   bash test/valgrind.sh [CALLS]      (default 200)
#
# The workload: CALLS calls from one INSERT ... SELECT, with the simulator
# injecting each kind of bad answer along the way (refusals, 429 with
# Retry-After, 500, a dropped connection, malformed and oversized bodies),
# then cancel, wait and DROP EXTENSION.  PostgreSQL's own reports (it is
# not built for valgrind here) are counted but do not fail the run.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. test/lib.sh
calls=${1:-200}

install_deps
build_install
scratch=$(make_scratch "$here")
trap 'stop_all "$scratch"; [ -n "${KEEP:-}" ] || rm -rf "$scratch"' EXIT
as_pg mkdir "$scratch/vg"
cat >"$scratch/postgres-vg" <<VG
#!/bin/sh
exec valgrind --tool=memcheck --error-limit=no --num-callers=30 --track-origins=no \\
	--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \\
	--log-file=$scratch/vg/%p.log $PG_BIN/postgres "\$@"
VG
chmod 755 "$scratch/postgres-vg"
start_sim "$scratch"
POSTGRES_WRAPPER="$scratch/postgres-vg" start_cluster "$scratch"

fault() {
	$PY - "$SIM_PORT" "$1" <<'PY'
import json, sys, urllib.request
body = json.dumps({"faults": [dict(json.loads(sys.argv[2]), method="POST", path="/v1/calls")]}).encode()
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/_sim/faults" % sys.argv[1], data=body, method="POST"))
PY
}

say "workload under valgrind: $calls calls with faults"
scratch_sql -c "CREATE EXTENSION agentphone"
for f in '{"kind":"status","status":422,"body":{"detail":[{"loc":["body","toNumber"],"msg":"bad"}]}}' \
	'{"kind":"status","status":429,"headers":{"Retry-After":"1"}}' \
	'{"kind":"status","status":500}' '{"kind":"drop"}' '{"kind":"malformed","status":200}' \
	'{"kind":"huge","status":200,"size":2000000}' \
	'{"kind":"body","status":404,"body":{"error":{"message":"gone","code":"NOT_FOUND"}}}'; do
	fault "$f"
done
scratch_sql -c "SELECT count(agentphone_call('agt_1', '+1415555' || lpad(i::text, 4, '0'),
	jsonb_build_object('i', i, 'vip', i % 2 = 0, 'note', NULL), initial_greeting => 'Hi',
	options => jsonb_build_object('modelTier', 'turbo'))) FROM generate_series(1, $calls) i"
scratch_sql -c "SELECT agentphone_cancel(agentphone_call('agt_1', '+14155550999'))" >/dev/null
wait_queue_drained
scratch_sql -c "SELECT status, count(*) FROM agentphone.calls GROUP BY 1 ORDER BY 1"
scratch_sql -c "DROP EXTENSION agentphone"
as_pg pg_ctl -D "$scratch/data" -m fast -w -t 300 stop >/dev/null

# An error is ours when one of its three innermost frames is in our sources
# (an error deeper in PostgreSQL, merely called from the worker, is not);
# a block definitely lost is ours when our code is among the ten frames
# that allocated it (malloc by cJSON or libcurl on our behalf).
# our sources: every file of src/, as valgrind names them in a frame
src='\\(('"$(cd src && ls *.c *.cpp | sed 's/\.c.*$//' | paste -sd'|')"')\\.(c|cpp):'
ours=0
total=0
for f in "$scratch"/vg/*.log; do
	counts=$(awk -v src="$src" '
		/^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination)/ {
			inerr = 1; depth = 3; frames = 0; mine = 0; total++; text = $0; next }
		/^==[0-9]+== .* definitely lost/ {
			inerr = 1; depth = 10; frames = 0; mine = 0; total++; text = $0; next }
		inerr && /^==[0-9]+==    (at|by) / { frames++; text = text "\n" $0; if (frames <= depth && $0 ~ src) mine = 1; next }
		inerr && /^==[0-9]+== *$/ { if (mine) { ours++; print text > "/dev/stderr" } inerr = 0 }
		END { print total + 0, ours + 0 }' "$f")
	total=$((total + ${counts% *}))
	ours=$((ours + ${counts#* }))
done
echo "valgrind: $total error reports in all server processes, $ours in agentphone's code"
[ "$ours" = 0 ]
