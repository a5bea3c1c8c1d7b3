#!/usr/bin/env bash
# test/sanitize.sh: run the test suite (test/run.sh) against agentphone built
# with AddressSanitizer and UndefinedBehaviorSanitizer, and fail on any
# sanitizer report that involves agentphone's code.
#
#   bash test/sanitize.sh          pg_regress, isolation and TAP tests
#                                  (run.sh's valgrind step is skipped)
#   bash test/sanitize.sh 005      only the TAP tests whose name contains 005
#
# The server is Debian's, not sanitized.  This script:
#   1. builds agentphone in a copy of the checkout with clang and
#      -fsanitize=address,undefined (the Makefile's -Werror included);
#   2. installs it (make install DESTDIR=...) into a private copy of the
#      PostgreSQL 15 installation under /tmp: bin/ copied, everything else
#      symlinked to the system's.  PostgreSQL finds its lib and share
#      directories relative to its binaries, so the clusters started from
#      that bin/ load the sanitized agentphone.so while the system's
#      installation (and anyone testing with it) is never touched; nothing
#      needs to be reinstalled afterwards;
#   3. replaces that copy's bin/postgres with a script that runs the real
#      binary with clang's ASan runtime preloaded (an instrumented .so needs
#      the runtime loaded before anything else) and the sanitizers' options;
#   4. runs test/run.sh with AGENTPHONE_PG_BIN pointing at that bin/ (every
#      cluster, pg_regress's and the TAP tests' alike, is started from it);
#   5. reads the sanitizers' reports (one file per process that reported)
#      and fails if one involves agentphone's code.
#
# Why a shim is preloaded too: an ASan runtime preloaded into Debian's
# postgres (or psql, initdb) deadlocks before main().  libp11-kit (linked
# through libldap and gnutls) calls newlocale() in its constructor, which
# holds glibc's setlocale lock while it calls malloc(); that first malloc
# initializes ASan, whose initialization calls dlerror(), which translates
# its message and takes the same lock: the rwlock is corrupted and the next
# bindtextdomain() or setlocale() waits forever (LANG=C does not help: the
# lock is taken whatever the locale).  The shim is linked with -z initfirst,
# so glibc runs its constructor, which initializes ASan, before any other
# library's.
#
# Why clang: gcc links UBSan as a second runtime (libubsan) beside libasan,
# and libubsan initializes itself at its first report, in the reporting
# child, whose environment PostgreSQL has overwritten with the process title
# by then: UBSAN_OPTIONS is lost, the report goes to stderr and the process
# exits with status 1, which for a background worker is an ordinary restart.
# clang's ASan runtime contains UBSan and reads both options before main().
#
# Leaks: detect_leaks=0.  A PostgreSQL process does not free its memory
# before it exits, by design, and LeakSanitizer's exit status would make the
# postmaster treat every exiting backend as crashed.  Leaks of agentphone's
# own are test/valgrind.sh's job, memory growth test/bench/soak.sh's.
# Errors abort the process (abort_on_error), so that the postmaster sees a
# crash: a background worker that merely exits with status 1 is restarted
# as if nothing had happened.
#
# Note that ASan sees malloc()'d memory (cJSON, libcurl, agentphone's own),
# stacks and globals, but not palloc()'d chunks: Debian's PostgreSQL carves
# them out of large malloc()'d blocks without telling ASan.  Since
# PostgreSQL compiles with -fwrapv, signed overflow is defined, not checked.
#
# It ends with "N passed, N failed": run.sh's counts plus one for the
# sanitizer reports.  The private installation, with the reports in
# reports/, is kept when something failed (or with KEEP=1).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. test/lib.sh

install_deps || exit 1
# the clang that PostgreSQL's packages use for their bitcode (clang-14)
LLVM_VERSION=$(sed -n 's/^CLANG = .*clang-\([0-9][0-9]*\)$/\1/p' /usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/Makefile.global)
LLVM_VERSION=${LLVM_VERSION:-14}
CLANG=clang-$LLVM_VERSION
install_deps clang-$LLVM_VERSION libclang-rt-$LLVM_VERSION-dev llvm-$LLVM_VERSION || exit 1

SYS_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
# the server's CFLAGS are gcc's: let clang pass over what it does not know
# (PostgreSQL's own bitcode build ignores gnu_printf the same way)
CLANG_FLAGS="-shared-libsan -Wno-unknown-warning-option -Wno-ignored-optimization-argument -Wno-ignored-attributes"

tree=$(mktemp -d /tmp/agentphone-sanitize.XXXXXX)
chmod 755 "$tree"
keep=${KEEP:-}
trap '[ -n "$keep" ] || rm -rf "$tree"' EXIT
build=$tree/build
dest=$tree/install
bin=$dest$SYS_BIN
lib=$dest$($SYS_BIN/pg_config --pkglibdir)
share=$dest$($SYS_BIN/pg_config --sharedir)
reports=$tree/reports

# 1, 2. build in a copy (the checkout's own build is left alone) and
# install into the private installation.  COPT reaches both compiling and
# linking; the Makefile's -Wall -Wextra -Werror stay.  No LLVM bitcode.
say "building agentphone with $CLANG $SAN_FLAGS"
mkdir "$build"
tar -C "$here" --exclude=.git --exclude='*.o' --exclude='*.bc' --exclude='*.so' -cf - . | tar -C "$build" -xf -
make_args="-s -C $build PG_CONFIG=$SYS_BIN/pg_config with_llvm=no"
if ! make $make_args CC="$CLANG" COPT="$SAN_FLAGS $CLANG_FLAGS" >&2 || ! make $make_args DESTDIR="$dest" install >/dev/null; then
	echo "0 passed, 1 failed"
	exit 1
fi
asan_rt=$($CLANG -print-file-name=libclang_rt.asan-x86_64.so)
[ -f "$asan_rt" ] || { echo "no ASan runtime at $asan_rt" >&2; echo "0 passed, 1 failed"; exit 1; }
symbolizer=/usr/lib/llvm-$LLVM_VERSION/bin/llvm-symbolizer

# link_missing FROM TO: symlink into TO every entry of FROM that TO lacks,
# descending into directories both have (extension/, bitcode/)
link_missing() {
	local f name
	for f in "$1"/*; do
		name=$(basename "$f")
		if [ -d "$2/$name" ] && [ ! -L "$2/$name" ] && [ -d "$f" ]; then
			link_missing "$f" "$2/$name"
		elif [ ! -e "$2/$name" ]; then
			ln -s "$f" "$2/$name"
		fi
	done
}
# bin/ is copied, not linked: PostgreSQL resolves symlinks to its binaries
# before it locates lib/ and share/ from them
mkdir -p "$bin"
cp -a "$SYS_BIN/." "$bin/"
link_missing "$($SYS_BIN/pg_config --pkglibdir)" "$lib"
link_missing "$($SYS_BIN/pg_config --sharedir)" "$share"

# the shim that initializes ASan first (see the top of this file)
mkdir "$tree/shim"
cat >"$tree/shim/asan_first.c" <<'EOF'
/* Initialize AddressSanitizer before any library's constructor runs. */
extern void __asan_init(void);
__attribute__((constructor)) static void asan_first(void) { __asan_init(); }
EOF
$CLANG -shared -fPIC -O2 -Wl,-z,initfirst -o "$tree/shim/asan_first.so" "$tree/shim/asan_first.c" "$asan_rt" ||
	{ echo "0 passed, 1 failed"; exit 1; }

# 3. bin/postgres: the real binary under the sanitizers.  exec -a keeps
# argv[0], so the server still finds lib/ and share/ from bin/.
mkdir "$reports"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$reports"
mv "$bin/postgres" "$bin/postgres.real"
# ASan and UBSan, one runtime, share these options (whichever variable is
# parsed last wins): one file of reports per process, reports/san.PID
san_common="log_path=$reports/san:abort_on_error=1:disable_coredump=1:external_symbolizer_path=$symbolizer"
cat >"$bin/postgres" <<EOF
#!/bin/bash
# Written by agentphone's test/sanitize.sh: Debian's postgres with the ASan
# runtime preloaded, for an agentphone.so built with ASan and UBSan (clang).
export LD_PRELOAD="$asan_rt $tree/shim/asan_first.so\${LD_PRELOAD:+ \$LD_PRELOAD}"
export ASAN_OPTIONS="$san_common:detect_leaks=0\${ASAN_OPTIONS:+:\$ASAN_OPTIONS}"
export UBSAN_OPTIONS="$san_common:print_stacktrace=1:halt_on_error=1\${UBSAN_OPTIONS:+:\$UBSAN_OPTIONS}"
exec -a "\$0" "$bin/postgres.real" "\$@"
EOF
chmod 755 "$bin/postgres"
if ! out=$(as_pg "$bin/postgres" -V 2>&1) || [ -n "$(ls "$reports")" ]; then
	echo "the sanitized postgres does not run: $out" >&2
	cat "$reports"/* >&2 2>/dev/null
	keep=1
	echo "0 passed, 1 failed"
	exit 1
fi

# 4. the suite, every server started from the private installation
say "test suite with ASan and UBSan (reports in $reports)"
result=$(AGENTPHONE_PG_BIN=$bin AGENTPHONE_NO_VALGRIND=1 bash test/run.sh "$@" | tail -n 1)
passed=$(echo "$result" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
failed=$(echo "$result" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
[ -n "$passed" ] || { echo "run.sh ended with: $result" >&2; passed=0; failed=1; }

# 5. the reports: one file per process that reported something.  A report
# is ours when any of its frames or its location is in agentphone.so or
# agentphone's sources (UBSan names them relative to the build directory).
say "sanitizer reports"
total=0
ours=0
for f in "$reports"/*; do
	[ -f "$f" ] || continue
	total=$((total + 1))
	if grep -qE "agentphone\.so|$build/src/|(^|[ /])src/[a-z_]+\.[ch]:[0-9]" "$f"; then
		ours=$((ours + 1))
		echo "--- $f (agentphone's code)" >&2
		cat "$f" >&2
	else
		echo "--- $f (not agentphone's code), first lines:" >&2
		head -n 12 "$f" >&2
	fi
done
echo "sanitizers: $total processes reported, $ours of them in agentphone's code" >&2
if [ "$ours" = 0 ]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
[ "$failed" = 0 ] || { keep=1; echo "private installation and reports kept in $tree" >&2; }
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
