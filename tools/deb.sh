#!/usr/bin/env bash
# tools/deb.sh: the Debian package, built and then installed where nothing
# was ever built from source.
#
#   bash tools/deb.sh        (as root on Debian 12; run.sh runs it too)
#
# 1. Builds postgresql-15-agentphone_<version>_amd64.deb from a copy of the
#    tree with dpkg-buildpackage -us -uc -b (debian/: pg_buildext, and the
#    pg_regress suite at build time against the offline simulator).
# 2. Makes a brand-new Debian 12 root file system (debootstrap minbase,
#    cached in /var/tmp), installs the .deb there with apt (which brings
#    PostgreSQL and the runtime libraries, and no compiler), and places a
#    call through the simulator with it: CREATE EXTENSION, agentphone_call,
#    the call completed with its transcript.
# Prints one "ok - ..." or "not ok - ..." line per check.  About 3
# minutes (most of it debootstrap and apt, the first time).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib.sh"
[ "$(id -u)" = 0 ] || { echo "not ok - tools/deb.sh needs root"; exit 1; }

work=$(mktemp -d /var/tmp/agentphone-deb.XXXXXX)
chmod 755 "$work"	# the build-time test cluster runs as another user
root=$work/root
cleanup() {
	umount "$root/proc" 2>/dev/null
	umount -R "$root/dev" 2>/dev/null
	grep -q " $root/" /proc/mounts || rm -rf "$work"
}
trap cleanup EXIT

CHECK_OUT=$work/out

# --- 1. build
build_deps="build-essential debhelper dpkg-dev fakeroot postgresql-server-dev-all debootstrap $PACKAGES"
check "the build dependencies are installed" install_deps $build_deps || exit 1
version=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
src=$work/agentphone-${version%-*}
mkdir -p "$src"
tar -C "$here" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude='*.zip' -cf - . |
	tar -xf - -C "$src"
check "dpkg-buildpackage -us -uc -b builds it, its pg_regress suite passing" \
	bash -c "cd '$src' && make clean >/dev/null 2>&1; dpkg-buildpackage -us -uc -b" ||
	{ grep -m 5 -B 6 '^+[^+]' "$CHECK_OUT" | sed 's/^/#   /'; exit 1; }
grep -E '^test .* \.\.\. |tests passed' "$CHECK_OUT" | sed 's/^/#   /'
deb=$work/postgresql-15-agentphone_${version}_amd64.deb
check "it made $(basename "$deb")" test -f "$deb" || exit 1
depends=$(dpkg-deb -f "$deb" Depends)
echo "#   Depends: $depends"
check "it depends on PostgreSQL 15, libcurl, cJSON and libphonenumber" \
	bash -c "echo '$depends' | grep -q 'postgresql-15' && echo '$depends' | grep -q 'libcurl4' &&
		echo '$depends' | grep -q 'libcjson1' && echo '$depends' | grep -q 'libphonenumber'"

# --- 2. a brand-new root file system, the package installed there
base=/var/tmp/agentphone-deb-base
if [ ! -x "$base/bin/bash" ]; then
	mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
	[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	rm -rf "$base.tmp"
	check "debootstrap makes a Debian 12 minbase root" \
		debootstrap --variant=minbase bookworm "$base.tmp" "$mirror" || exit 1
	mv "$base.tmp" "$base"
fi
cp -a "$base" "$root"
cp /etc/resolv.conf "$root/etc/" 2>/dev/null
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/" && rm -f "$root/etc/apt/sources.list"
fi
# what the check inside needs: the package, the simulator, lib.sh
mkdir -p "$root/root/check/test" "$root/root/check/tools"
cp "$deb" "$root/root/check/"
cp -a "$here/test/agentphone_sim.py" "$here/test/sim" "$here/test/lib.sh" "$root/root/check/test/"
cp "$here/tools/deb_check.sh" "$root/root/check/tools/"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
in_root() {
	chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
check "apt installs the .deb on the new root, with what it depends on" \
	in_root bash -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 /root/check/$(basename "$deb")" || exit 1
check "no compiler and no agentphone source are there" \
	in_root bash -c '! command -v gcc && ! command -v cc && [ ! -e /root/check/src ] && [ -f /usr/lib/postgresql/15/lib/agentphone.so ]'
in_root bash /root/check/tools/deb_check.sh
