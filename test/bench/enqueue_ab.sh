#!/usr/bin/env bash
# test/bench/enqueue_ab.sh REV [SECONDS] [ROUNDS]: the cost of queueing one
# call with the library of git revision REV against the working tree's, in
# one run, each as a ratio to a plain INSERT of the same row timed right
# before it.
#
# It builds REV's agentphone.so in a scratch git worktree, then on one
# throwaway cluster (worker paused) alternates the two libraries ROUNDS
# times (default 3): each is copied over the installed one, the cluster
# restarted, and pgbench times a plain INSERT and then agentphone_call(),
# one client, one statement per transaction, SECONDS each (default 10).
# The calling window is set (every day, 00:00 to 23:59:59), so each call
# works out when the window opens in every zone of the callee's country:
# the path that classifies the number and looks up its zones.  The SQL
# scripts are the working tree's: REV must have the same schema.
#
#   bash test/bench/enqueue_ab.sh d9ee56e 10 3
#
# It prints one line per measurement and, last, the mean ratio of each
# library.  The working tree's library is reinstalled at the end.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. test/lib.sh
rev=${1:?usage: enqueue_ab.sh REV [SECONDS] [ROUNDS]}
seconds=${2:-10}
rounds=${3:-3}

throwaway_setup "$here"
libdir=$($PG_BIN/pg_config --pkglibdir)
new_so="$scratch/new.so"
old_so="$scratch/old.so"
cp "$libdir/agentphone.so" "$new_so"
tree="$scratch/rev"
git worktree add --detach "$tree" "$rev" >/dev/null 2>&1
trap 'install -m 755 "$new_so" "$libdir/agentphone.so"; git worktree remove --force "$tree"; stop_all "$scratch"; rm -rf "$scratch"' EXIT
make -s -C "$tree" PG_CONFIG=$PG_BIN/pg_config >/dev/null
cp "$tree/agentphone.so" "$old_so"

restart_with_settings <<CONF
agentphone.enabled = off
agentphone.max_calls_per_number_per_day = 0
agentphone.call_window = '00:00-23:59:59'
CONF
. test/bench/enqueue_setup.sh

# measure NAME SO: one line of figures with library SO installed
measure() {
	local call plain
	install -m 755 "$2" "$libdir/agentphone.so"
	as_pg pg_ctl -D "$scratch/data" -l "$scratch/server.log" -w restart >/dev/null
	plain=$(latency plain.sql)
	call=$(latency call.sql)
	awk -v name="$1" -v call="$call" -v plain="$plain" \
		'BEGIN { printf "%-10s agentphone_call() %s ms, plain INSERT %s ms: %.2fx\n", name, call, plain, call / plain }'
}

out=$(for _ in $(seq "$rounds"); do
	measure "$rev:" "$old_so"
	measure "working:" "$new_so"
done | tee /dev/stderr)
echo "$out" | awk '{ sum[$1] += $NF + 0; n[$1]++ }
	END { for (k in sum) printf "%-10s mean ratio %.2fx over %d rounds\n", k, sum[k] / n[k], n[k] }'
