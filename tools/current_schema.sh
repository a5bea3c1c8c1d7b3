#!/usr/bin/env bash
# tools/current_schema.sh VERSION: write sql/agentphone--VERSION.sql, the
# whole schema of the newest release in one install script, from what 1.0
# and the upgrade scripts build.  Run it after writing a release's upgrade
# script, with the release's agentphone.control and DATA in place, before
# sql/agentphone--VERSION.sql exists (CREATE EXTENSION must run the chain);
# it builds and installs the extension first (as root, into the system's
# PostgreSQL, like test/run.sh), without that script.
#
# As the postgres OS user in a scratch directory it starts a throwaway
# cluster, installs the extension (built and installed first), takes
# every object out of it (ALTER EXTENSION ... DROP) so that pg_dump dumps
# them, dumps the schema, and hands the dump to tools/current_schema.py
# with the install-time check of agentphone--1.6--1.7.sql (objects that
# call code of a role that is not a superuser).  test/t/018_upgrade.pl
# then proves the script installs what the chain does.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. test/lib.sh
version=${1:?usage: current_schema.sh VERSION}
target="sql/agentphone--$version.sql"
[ ! -e "$target" ] || { echo "$target exists: remove it first (CREATE EXTENSION would run it)" >&2; exit 1; }
# installed without the script being written (nor an older copy of it:
# CREATE EXTENSION would run that instead of the chain)
make -s PG_CONFIG=$PG_BIN/pg_config >&2
make -s install PG_CONFIG=$PG_BIN/pg_config DATA="$(ls sql/agentphone--*.sql)" >/dev/null
rm -f "$($PG_BIN/pg_config --sharedir)/extension/agentphone--$version.sql"
scratch=$(make_scratch "$here")
trap 'stop_all "$scratch"; rm -rf "$scratch"' EXIT
SIM_PORT=1 start_cluster "$scratch"    # no simulator: nothing is called
q() { as_pg psql -X -q -At -h "$scratch" -p "$PGPORT" -v ON_ERROR_STOP=1 -d current "$@"; }
as_pg createdb -h "$scratch" -p "$PGPORT" current
q -c "CREATE EXTENSION agentphone VERSION '$version'"
q -c "SELECT pg_catalog.format('ALTER EXTENSION agentphone DROP %s;', pg_catalog.pg_describe_object(classid, objid, objsubid))
	FROM pg_catalog.pg_depend WHERE refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	AND refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'agentphone') AND deptype = 'e'" |
	q -f - >/dev/null
q -c "DROP EXTENSION agentphone"
as_pg pg_dump --schema-only -h "$scratch" -p "$PGPORT" -d current >"$scratch/dump.sql"
# a table or sequence whose privileges the chain revoked from PUBLIC has an
# explicit ACL equal to the default, which pg_dump does not write: the
# same REVOKE gives the new install the same catalog
q -c "SELECT pg_catalog.format('REVOKE ALL ON %s %s FROM PUBLIC;',
		CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::pg_catalog.regclass)
	FROM pg_catalog.pg_class c
	WHERE c.relnamespace = 'agentphone'::pg_catalog.regnamespace AND c.relacl IS NOT NULL
	AND c.relacl = pg_catalog.acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner)
	ORDER BY 1" >>"$scratch/dump.sql"
# the check: from its comment to the end of its DO block
awk '/^-- No other expression stored on the extension/ { f = 1 } f { print } f && /^END \$\$;/ { exit }' \
	sql/agentphone--1.6--1.7.sql >"$scratch/check.sql"
[ -s "$scratch/check.sql" ] || { echo "the install-time check was not found in agentphone--1.6--1.7.sql" >&2; exit 1; }
$PY tools/current_schema.py "$version" "$scratch/dump.sql" "$scratch/check.sql" >"$target"
echo "wrote $target" >&2
