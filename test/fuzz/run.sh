#!/usr/bin/env bash
# test/fuzz/run.sh: build agentphone's libFuzzer harness and fuzz each target
# for a bounded time.
#
#   bash test/fuzz/run.sh [SECONDS]     fuzz every target, SECONDS in all
#                                       (default 60), shared equally
#   FUZZ_TARGETS="api_sse e164" bash test/fuzz/run.sh 20   only these targets
#
# Targets (see fuzz_api.c, fuzz_validate.c and fuzz_phone.c):
#   api_call api_list api_transcript api_error api_sse   decoders of src/api.c,
#                                        apidecode.c and apisse.c
#                                        (api_call: and src/callstatus.c)
#   e164 variables options                               checks of src/validate.c
#   phone                                  libphonenumber's verdicts, src/phone.cpp
#
# It installs what is missing (clang-14, libclang-rt-14-dev for the libFuzzer
# runtime, libcjson-dev, postgresql-server-dev-15, bzip2, and for phone
# libphonenumber-dev), then builds in a scratch directory under /tmp, never
# in the source tree:
#   - src/api.c, src/apidecode.c, src/apisse.c, src/callstatus.c and
#     src/validate.c, unchanged, with
#     -fsanitize=fuzzer,address,undefined (UB aborts), with the harness and
#     the backend stand-ins of stubs.c;
#   - for phone, src/phone.cpp, unchanged, with clang++-14 and the same
#     sanitizers, linked with fuzz_phone.c and the system's libphonenumber
#     (no PostgreSQL at all; phone alone builds nothing else);
#   - for fuzz_validate, the PostgreSQL 15 sources that turn text into jsonb
#     and numerics (jsonb.c, jsonb_util.c, numeric.c, mbutils.c, jsonapi.c),
#     with AddressSanitizer.  They come from Debian's postgresql-15 source
#     package, fetched once with apt-get source into a cache
#     ($AGENTPHONE_FUZZ_CACHE, default /var/cache/agentphone-fuzz, or
#     ~/.cache/agentphone-fuzz for a user who cannot write there), through
#     a private apt configuration: the system's sources are read, not changed.
# Each target runs under nice -n 19 on a copy of its seed corpus
# (corpus/TARGET) with the dictionary api.dict, validate.dict or phone.dict,
# -max_len=65536 (256 for phone, which skips longer input) and a 2 GB RSS
# limit.  One line per target:
#   fuzz TARGET: ok (N runs)
#   fuzz TARGET: CRASH (what) ...   with the saved input and the log
# The exit status is 0 when no target crashed, leaked, hit undefined
# behaviour or broke an expectation of the harness, 1 otherwise, 2 when the
# harness could not be built.  The scratch directory is removed after a
# clean run and kept after a failure (its path is printed), so a finding can
# be replayed with: SCRATCH/bin/TARGET SCRATCH/artifacts/TARGET/crash-...
# (AGENTPHONE_FUZZ_KEEP=1 keeps it after a clean run too;
# AGENTPHONE_FUZZ_VERBOSE=1 makes a replay say what each call returned).
# AGENTPHONE_FUZZ_LENIENT=1 only prints the first few broken promises of the
# code under test (wrong results) instead of stopping at the first, to go on
# looking for memory errors past a known bug; they are then listed after
# the target's "ok" line.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../src" && pwd)
total=${1:-60}
case $total in
	'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
all_targets="api_call api_list api_transcript api_error api_sse e164 variables options phone"
targets=${FUZZ_TARGETS:-$all_targets}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
CC=${CC:-clang-14}
CXX=${CXX:-clang++-14}
if [ -n "${AGENTPHONE_FUZZ_CACHE:-}" ]; then
	cache=$AGENTPHONE_FUZZ_CACHE
elif [ -w /var/cache ]; then
	cache=/var/cache/agentphone-fuzz
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/agentphone-fuzz
fi

# say and install_deps
. "$here/../lib.sh"

# The PostgreSQL sources fuzz_validate compiles, relative to the tree's top.
pg_sources="src/backend/utils/adt/jsonb.c src/backend/utils/adt/jsonb_util.c
src/backend/utils/adt/numeric.c src/backend/utils/mb/mbutils.c src/common/jsonapi.c"

# fetch_pg_sources: sets pgsrc to a directory holding $pg_sources, taken
# from Debian's postgresql-15 source package (the installed version if
# Debian still serves it, else the newest it serves) and cached
fetch_pg_sources() {
	local f ok v orig dl apt installed versions
	for pgsrc in "$cache"/postgresql-15.*; do
		[ -d "$pgsrc" ] || continue
		ok=1
		for f in $pg_sources; do
			[ -f "$pgsrc/$f" ] || ok=0
		done
		[ $ok = 1 ] && return 0
	done
	say "fetching the postgresql-15 source package into $cache"
	mkdir -p "$cache" || return 1
	apt="$cache/apt"
	rm -rf "$apt"
	mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" || return 1
	# the system's sources, as deb-src
	: >"$apt/sources.list"
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list >"$apt/sources.list"
	fi
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && sed 's/^Types:.*/Types: deb-src/' "$f" >"$apt/sources.list.d/${f##*/}"
	done
	for f in /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >"$apt/sources.list.d/${f##*/}"
	done
	local opts=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts="$apt/sources.list.d"
		-o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o APT::Sandbox::User=root)
	apt-get "${opts[@]}" -qq update >/dev/null || return 1
	installed=$(dpkg-query -W -f='${Version}' postgresql-server-dev-15 2>/dev/null)
	versions=$(apt-cache "${opts[@]}" showsrc postgresql-15 | sed -n 's/^Version: //p' | sort -V -r)
	dl="$apt/download"
	for v in $(printf '%s\n' "$installed" $versions | awk 'NF && !seen[$0]++'); do
		rm -rf "$dl" && mkdir -p "$dl"
		(cd "$dl" && apt-get "${opts[@]}" -qq source --download-only "postgresql-15=$v") >/dev/null 2>&1 || continue
		orig=$(ls "$dl"/postgresql-15_*.orig.tar.* 2>/dev/null | head -n 1)
		[ -n "$orig" ] || continue
		pgsrc="$cache/postgresql-${v%%-*}"
		rm -rf "$pgsrc" && mkdir -p "$pgsrc"
		for f in $pg_sources; do
			tar -xf "$orig" -C "$pgsrc" --strip-components=1 --wildcards "*/$f" || {
				rm -rf "$pgsrc"
				continue 2
			}
		done
		rm -rf "$apt"
		[ "${v%%-*}" = "${installed%%-*}" ] ||
			say "note: PostgreSQL ${v%%-*} sources with the ${installed%%-*} headers"
		return 0
	done
	rm -rf "$apt"
	echo "could not fetch the postgresql-15 source package" >&2
	return 1
}

# cc_quiet LOG ARGS...: compile, keeping the output in LOG, shown on failure
cc_quiet() {
	local log=$1
	shift
	if ! nice -n 19 "$CC" "$@" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		return 1
	fi
}

# cxx_quiet LOG ARGS...: cc_quiet with the C++ compiler (which also links
# libstdc++)
cxx_quiet() {
	CC=$CXX cc_quiet "$@"
}

# build_phone: compile src/phone.cpp and fuzz_phone.c and link
# bin/fuzz_phone, without PostgreSQL
build_phone() {
	local log="$work/build.log" san="-fsanitize=fuzzer,address,undefined"
	local flags="-g -O1 -fno-omit-frame-pointer -Wall $san -fno-sanitize-recover=undefined -I$src"

	cxx_quiet "$log" $flags -c "$src/phone.cpp" -o "$work/obj/phone.o" || return 1
	cc_quiet "$log" $flags -c "$here/fuzz_phone.c" -o "$work/obj/fuzz_phone.o" || return 1
	# libphonenumber brings in protobuf, ICU and abseil itself
	cxx_quiet "$log" $san -o "$work/bin/fuzz_phone" \
		"$work/obj/fuzz_phone.o" "$work/obj/phone.o" -lphonenumber || return 1
}

# build_pg: compile src/api*.c, src/callstatus.c, src/validate.c, the
# stand-ins and their harness and link bin/fuzz_api and, for validate
# targets, bin/fuzz_validate
build_pg() {
	local inc lib common ours pg log="$work/build.log" f o
	inc=$("$PG_CONFIG" --includedir-server) || return 1
	lib=$("$PG_CONFIG" --pkglibdir) || return 1
	[ -f "$lib/libpgcommon.a" ] || lib=$("$PG_CONFIG" --libdir)
	common="-g -O1 -fno-omit-frame-pointer -Wall -Wno-ignored-attributes"
	# our code and the harness: coverage, ASan, UBSan (UB aborts)
	ours="$common -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
		-I$src -I$here -I$inc"
	# PostgreSQL's code: ASan only, and the semantics it is written for
	pg="$common -w -fsanitize=address -fwrapv -fno-strict-aliasing -I$inc"

	for f in "$src/api.c" "$src/apidecode.c" "$src/apisse.c" "$src/callstatus.c" "$src/validate.c" \
		"$here/stubs.c" "$here/stubs_validate.c" "$here/fuzz_api.c" "$here/fuzz_validate.c"; do
		o=$(basename "$f" .c)
		cc_quiet "$log" $ours -c "$f" -o "$work/obj/$o.o" || return 1
	done
	cc_quiet "$log" $common -fsanitize=address -c "$here/unreached.c" -o "$work/obj/unreached.o" || return 1
	cc_quiet "$log" -fsanitize=fuzzer,address,undefined -o "$work/bin/fuzz_api" \
		"$work/obj/fuzz_api.o" "$work/obj/api.o" "$work/obj/apidecode.o" "$work/obj/apisse.o" \
		"$work/obj/callstatus.o" "$work/obj/stubs.o" \
		"$lib/libpgcommon.a" "$lib/libpgport.a" -lcjson -lm || return 1
	if [ -n "$validate_targets" ]; then
		for f in $pg_sources; do
			o=pg_$(basename "$f" .c)
			cc_quiet "$log" $pg -c "$pgsrc/$f" -o "$work/obj/$o.o" || return 1
		done
		cc_quiet "$log" -fsanitize=fuzzer,address,undefined -o "$work/bin/fuzz_validate" \
			"$work/obj/fuzz_validate.o" "$work/obj/validate.o" "$work/obj/stubs.o" \
			"$work/obj/stubs_validate.o" "$work/obj/unreached.o" "$work/obj"/pg_*.o \
			"$lib/libpgcommon.a" "$lib/libpgport.a" -lm || return 1
	fi
}

# build: build what the targets need (build_pg unless phone is the only
# one, build_phone for phone) and make one link per target
build() {
	local t
	mkdir -p "$work/obj" "$work/bin"
	say "building the fuzz harness in $work"
	if [ -n "$pg_targets" ]; then
		build_pg || return 1
	fi
	if [ -n "$phone_targets" ]; then
		build_phone || return 1
	fi
	for t in $targets; do
		case $t in
			api_*) ln -sf fuzz_api "$work/bin/$t" ;;
			phone) ln -sf fuzz_phone "$work/bin/$t" ;;
			*) ln -sf fuzz_validate "$work/bin/$t" ;;
		esac
	done
}

# what_crashed LOG: one line saying what the fuzzer found
what_crashed() {
	local log=$1 line
	line=$(grep -a -m1 -oE 'fuzz: expectation failed: .*|fuzz: .* was called, but .*' "$log") ||
		line=$(grep -a -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer): [^ ]+( [^ ]+)?' "$log") ||
		line=$(grep -a -m1 -oE 'runtime error: .*' "$log" | sed 's/^/UndefinedBehaviorSanitizer: /') ||
		line=$(grep -a -m1 -oE 'ERROR: libFuzzer: .*' "$log") ||
		line="exit status $2, see the log"
	echo "${line:0:200}"
}

for t in $targets; do
	case " $all_targets " in
		*" $t "*) ;;
		*) echo "unknown target $t (targets: $all_targets)" >&2; exit 2 ;;
	esac
done
validate_targets=$(printf '%s\n' $targets | grep -vE '^(api_.*|phone)$' | tr '\n' ' ')
phone_targets=$(printf '%s\n' $targets | grep -E '^phone$' | tr '\n' ' ')
# the targets of fuzz_api and fuzz_validate, which need PostgreSQL's headers
pg_targets=$(printf '%s\n' $targets | grep -vE '^phone$' | tr '\n' ' ')

deps="clang-14 libclang-rt-14-dev"
[ -n "$pg_targets" ] && deps="$deps libcjson-dev postgresql-server-dev-15 bzip2"
[ -n "$phone_targets" ] && deps="$deps libphonenumber-dev"
install_deps $deps || exit 2
work=$(mktemp -d /tmp/agentphone-fuzz.XXXXXX) || exit 2
if [ -n "$validate_targets" ]; then
	fetch_pg_sources || { echo "fuzz: cannot build fuzz_validate" >&2; rm -rf "$work"; exit 2; }
fi
build || { echo "fuzz: the build failed, see $work/build.log" >&2; exit 2; }

ntargets=$(echo $targets | wc -w)
share=$((total / ntargets))
[ "$share" -ge 1 ] || share=1
say "fuzzing $ntargets targets for ${share}s each"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
runs_total=0
rates=""
for t in $targets; do
	max_len=65536
	case $t in
		api_*) dict="$here/api.dict" ;;
		phone) dict="$here/phone.dict" max_len=256 ;;
		*) dict="$here/validate.dict" ;;
	esac
	mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
	cp -r "$here/corpus/$t/." "$work/corpus/$t/" 2>/dev/null
	log="$work/$t.log"
	(cd "$work" && nice -n 19 "$work/bin/$t" -max_total_time="$share" -max_len="$max_len" \
		-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=25 -print_final_stats=1 \
		-dict="$dict" -artifact_prefix="$work/artifacts/$t/" "$work/corpus/$t") >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	runs=${runs:-0}
	runs_total=$((runs_total + runs))
	rates="$rates $t=${rate:-0}/s"
	if [ $rc = 0 ] && ! grep -aqE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		echo "fuzz $t: ok ($runs runs)"
		if grep -aq 'fuzz: expectation failed' "$log"; then
			grep -a 'fuzz: expectation failed' "$log" | sort | uniq -c | sort -rn | head -n 5 |
				cut -c1-200 | sed 's/^/    lenient: /'
		fi
	else
		failed=$((failed + 1))
		input=$(ls "$work/artifacts/$t/" 2>/dev/null | head -n 1)
		echo "fuzz $t: CRASH ($(what_crashed "$log" $rc)) after $runs runs;" \
			"input $work/artifacts/$t/${input:-?}, log $log"
	fi
done
echo "fuzz: $runs_total runs in total;$rates"
if [ $failed -gt 0 ]; then
	echo "fuzz: $failed of $ntargets targets failed; replay with $work/bin/TARGET INPUT (kept $work)"
	exit 1
fi
if [ -n "${AGENTPHONE_FUZZ_KEEP:-}" ]; then
	echo "fuzz: kept $work"
else
	rm -rf "$work"
fi
exit 0
