# test/lib.sh: shell functions shared by test/run.sh (every test) and
# tools/demo.sh (the demo).  Sourced, not run.
#
# They install what is missing on a Debian 12 machine, build and install
# the extension, and run a throwaway cluster and the AgentPhone simulator
# as the postgres OS user in a scratch directory that user owns (a checkout
# under /root is not readable by postgres, and postgres refuses to run as
# root).

PG_MAJOR=15
# AGENTPHONE_PG_BIN, when set, is another bin directory of PostgreSQL 15 to
# test against, into whose installation the caller has already installed its
# own build of agentphone (test/sanitize.sh): build_install then does nothing
PG_BIN=${AGENTPHONE_PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PY=/usr/bin/python3
SIM_KEY=sk_test_agentphone
PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libcurl4-openssl-dev libcjson-dev libphonenumber-dev g++ tzdata libipc-run-perl make gcc python3 perl valgrind postgresql-$PG_MAJOR-cron postgresql-$PG_MAJOR-partman"

# say: progress line on stderr
say() { echo "== $*" >&2; }

# as_pg: run a command as the postgres OS user (or as ourselves if we are it),
# from /tmp unless we already are in a scratch directory (the checkout may be
# where postgres cannot enter)
as_pg() {
	local wd=$PWD
	case "$wd" in /tmp/* | "${TMPDIR:-/tmp}"/*) ;; *) wd=/tmp ;; esac
	if [ "$(id -u)" = 0 ]; then
		(cd "$wd" && runuser -u postgres -- env PATH="$PG_BIN:/usr/bin:/bin" "$@")
	else
		env PATH="$PG_BIN:/usr/bin:/bin" "$@"
	fi
}

# install_deps [PACKAGE...]: apt-get install whatever is missing of the
# packages named (by default $PACKAGES, what the tests need)
install_deps() {
	local missing="" p
	for p in ${*:-$PACKAGES}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages:$missing (run as root, or install them)" >&2
		return 1
	fi
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	local had_main=no
	[ -e /etc/postgresql/$PG_MAJOR/main ] && had_main=yes
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	# Debian's server package creates and starts a cluster "main" when
	# there is none; ours are throwaway ones, so one that this install
	# created is stopped.  A cluster that was there before is not touched.
	if [ "$had_main" = no ] && [ -e /etc/postgresql/$PG_MAJOR/main ]; then
		pg_ctlcluster $PG_MAJOR main stop >/dev/null 2>&1 || true
	fi
}

# build_install: build with warnings as errors and install the extension
build_install() {
	if [ -n "${AGENTPHONE_PG_BIN:-}" ]; then
		say "using the agentphone installed for $AGENTPHONE_PG_BIN"
		return 0
	fi
	say "building and installing agentphone"
	make -s clean >/dev/null 2>&1 || true
	make -s PG_CONFIG=$PG_BIN/pg_config >&2
	make -s PG_CONFIG=$PG_BIN/pg_config install >/dev/null
}

# make_scratch SRC: copy the project (without .git) into a new directory
# owned by postgres; prints its path
make_scratch() {
	local src=$1 dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/agentphone.XXXXXX")
	tar -C "$src" --exclude=.git --exclude='*.o' --exclude='*.bc' -cf - . | tar -C "$dir" -xf -
	[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
	chmod 755 "$dir"
	echo "$dir"
}

# check WHAT COMMAND...: run COMMAND, its output in $CHECK_OUT (set it to a
# file first); print "ok - WHAT", or "not ok - WHAT" and the end of the
# output; return COMMAND's success
check() {
	local what=$1
	shift
	if "$@" >"$CHECK_OUT" 2>&1; then
		echo "ok - $what"
	else
		echo "not ok - $what"
		tail -n 30 "$CHECK_OUT" | sed 's/^/#   /'
		return 1
	fi
}

# free_port: a TCP port nobody listens on
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_sim DIR: start the simulator; sets SIM_PORT
start_sim() {
	local dir=$1
	rm -f "$dir/sim.port"
	# exec keeps the shell's pid, so sim.pid names the simulator itself
	as_pg sh -c 'echo $$ >"$1/sim.pid"; exec "$2" "$1/test/agentphone_sim.py" --port 0 \
		--port-file "$1/sim.port" --api-key "$3" --quiet' sh "$dir" "$PY" "$SIM_KEY" \
		>"$dir/sim.log" 2>&1 &
	for _ in $(seq 100); do
		[ -s "$dir/sim.port" ] && break
		sleep 0.1
	done
	SIM_PORT=$(cat "$dir/sim.port" 2>/dev/null) || { echo "simulator did not start" >&2; cat "$dir/sim.log" >&2; return 1; }
}

# start_cluster DIR: initdb and start a cluster preloaded with agentphone,
# pointed at the simulator, its worker in database postgres; sets PGPORT
start_cluster() {
	local dir=$1
	PGPORT=$(free_port)
	export PGPORT PGHOST=$dir
	as_pg initdb -D "$dir/data" -A trust -U postgres >/dev/null
	cat >>"$dir/data/postgresql.conf" <<-EOF
	listen_addresses = ''
	unix_socket_directories = '$dir'
	port = $PGPORT
	shared_preload_libraries = 'agentphone'
	agentphone.api_url = 'http://127.0.0.1:$SIM_PORT/v1'
	agentphone.allow_insecure_http = on
	agentphone.api_key = '$SIM_KEY'
	EOF
	# POSTGRES_WRAPPER, when set, is run instead of postgres (test/valgrind.sh)
	as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 300 \
		${POSTGRES_WRAPPER:+-p "$POSTGRES_WRAPPER"} start >/dev/null
}

# stop_all DIR: stop whatever start_sim and start_cluster started
stop_all() {
	local dir=$1
	[ -f "$dir/data/postmaster.pid" ] && as_pg pg_ctl -D "$dir/data" -m fast -w stop >/dev/null 2>&1
	[ -f "$dir/sim.pid" ] && kill "$(cat "$dir/sim.pid")" 2>/dev/null
	rm -f "$dir/sim.pid"
	return 0
}

# throwaway_setup SRC: everything a demo or benchmark needs, removed on
# exit: packages, the installed extension, a scratch copy of SRC (sets
# scratch), the simulator and a running cluster
throwaway_setup() {
	install_deps
	build_install
	scratch=$(make_scratch "$1")
	trap 'stop_all "$scratch"; rm -rf "$scratch"' EXIT
	start_sim "$scratch"
	start_cluster "$scratch"
}

# restart_with_settings: append the settings read from stdin to the
# postgresql.conf of the throwaway cluster in $scratch, and restart it
restart_with_settings() {
	cat >>"$scratch/data/postgresql.conf"
	as_pg pg_ctl -D "$scratch/data" -l "$scratch/server.log" -w restart >/dev/null
}

# scratch_sql ARGS...: psql (unaligned, tuples only) against the throwaway
# cluster in $scratch
scratch_sql() {
	(cd "$scratch" && as_pg psql -X -q -At -d postgres -h "$scratch" -p "$PGPORT" -v ON_ERROR_STOP=1 "$@")
}

# wait_queue_drained: wait (up to a minute) until no call is queued or
# being dispatched
wait_queue_drained() {
	for _ in $(seq 600); do
		[ "$(scratch_sql -c "SELECT count(*) FROM agentphone.calls WHERE status IN ('queued', 'dispatching')")" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# worker_cpu [BACKEND_TYPE]: CPU seconds (user + system) used so far by the
# scratch cluster's backend of that type (a LIKE pattern; default the
# agentphone worker)
worker_cpu() {
	local pid
	pid=$(scratch_sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type LIKE '${1:-agentphone worker}'")
	awk '{ print ($14 + $15) / 100 }' "/proc/$pid/stat"
}

# direct_client_rate CALLS CONNECTIONS: the POSTs per second a plain Python
# client gets from the simulator over CONNECTIONS keep-alive connections
# (the baseline of the dispatch benchmarks)
direct_client_rate() {
	$PY - "$SIM_PORT" "$1" "$SIM_KEY" "$2" <<'PY'
import http.client, json, sys, threading, time
port, n, key, conns = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
counter = iter(range(n)); lock = threading.Lock()
def worker():
    c = http.client.HTTPConnection("127.0.0.1", port)
    while True:
        with lock:
            i = next(counter, None)
        if i is None:
            return
        c.request("POST", "/v1/calls", json.dumps({"agentId": "agt_1", "toNumber": "+1415558%04d" % (i % 10000)}),
                  {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        c.getresponse().read()
t0 = time.time()
threads = [threading.Thread(target=worker) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
print("%.1f" % (n / (time.time() - t0)))
PY
}

# count OKS FAILS: add to the totals of a run ($passed, $failed)
count() {
	passed=$((passed + $1))
	failed=$((failed + $2))
}

# finish_run: the end of a run that counted $passed and $failed: the
# scratch directory ($scratch: logs, data) removed, or kept and named when
# a test failed; prints "N passed, N failed" and fails when one did
finish_run() {
	if [ "$failed" = 0 ]; then
		rm -rf "$scratch"
	else
		echo "logs kept in $scratch" >&2
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
