# 027_planted.pl: a database owner who is not a superuser plants, in
# public, a trap for every function and operator name that the install
# and upgrade scripts (sql/agentphone--*.sql) and the recipes
# (docs/recipes.md) use, before the superuser installs or updates
# agentphone (CVE-2023-39417's class).  The names are read from those
# files, so a name a later script uses is covered too.  Each trap is a
# better match than pg_catalog's own for some argument types (an unknown
# literal, an integer where pg_catalog takes numeric, ...), IMMUTABLE so
# that an index can store it, and records who ran it; run by a superuser
# it makes the owner one.  Scenarios: a fresh install planted beforehand;
# each earlier release, in use, planted before ALTER EXTENSION UPDATE; a
# 1.6 install planted before its install (its index bound to the trap),
# repaired by the update.  Then a life of calls with transcripts, and each
# recipe, in every database.  No trap may run as a superuser, the owner
# stays an ordinary role, and every stored expression on agentphone's
# tables calls only pg_catalog's or agentphone's code.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;

my @releases = map { m{agentphone--(\d+\.\d+)\.sql$} ? $1 : m{--(\d+\.\d+)\.sql$} ? $1 : () }
  glob('sql/agentphone--*.sql');
my %seen;
@releases = sort { release_before($a, $b) ? -1 : release_before($b, $a) ? 1 : 0 } grep { !$seen{$_}++ } @releases;
my $current = pop @releases;

start_sim();
my $node = new_node('planted', qq{shared_preload_libraries = 'agentphone,pg_cron,pg_partman_bgw'
cron.database_name = 'fresh'
max_worker_processes = 24
agentphone.max_databases = 12
agentphone.poll_interval = '200ms'
}, no_extension => 1);

# --- the names: every identifier followed by "(" and every operator in
# the scripts and in the recipes' sql blocks, comments and literals left out
my $text = join("\n", (map { slurp_file($_) } glob('sql/agentphone--*.sql')),
	recipe_blocks('pg_cron'), recipe_blocks('pg_partman'));
$text =~ s/--[^\n]*//g;
$text =~ s{/\*.*?\*/}{}gs;
$text =~ s/'(?:[^']|'')*'/''/g;
my %functions = map { lc($_) => 1 } $text =~ /\b([A-Za-z_][A-Za-z_0-9]*)\s*\(/g;
my %operators = map { $_ => 1 } $text =~ /([-+*\/<>=~!@#%^&|?]+)/g;
my $array = sub { 'ARRAY[' . join(', ', map { "'$_'" } sort keys %{ $_[0] }) . ']::text[]' };
my ($function_names, $operator_names) = ($array->(\%functions), $array->(\%operators));

# plant(DB, [SCHEMA]): as the owner, in DB's SCHEMA (default public): a
# copy of every pg_catalog function and operator of those names, with the
# same arguments (which win where SCHEMA comes before pg_catalog in
# search_path) and with argument types that beat the original wherever
# it is (an implicit cast less, or text for an unknown literal), each
# calling the trap, then the original.  The first plant in DB creates the
# trap.  Returns how many copies there are in SCHEMA.
sub plant
{
	my ($db, $schema) = @_;
	$schema //= 'public';
	sql(q{
CREATE TABLE public.trap_log (what text, who text, su text, query text DEFAULT pg_catalog.current_query());
GRANT INSERT ON public.trap_log TO PUBLIC;
CREATE FUNCTION public.trap_fired(what text) RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog AS $t$
BEGIN
	INSERT INTO public.trap_log VALUES (what, current_user, current_setting('is_superuser'));
	IF current_setting('is_superuser') OPERATOR(pg_catalog.=) 'on' THEN
		EXECUTE 'ALTER ROLE owner_role SUPERUSER';
	END IF;
END $t$;
}, db => $db, as => 'owner_role') if $schema eq 'public';
	sql("CREATE SCHEMA $schema", db => $db, as => 'owner_role') if $schema ne 'public';
	return sql(qq{
SET search_path = pg_catalog;
DO \$d\$
DECLARE
	cands regtype[] := ARRAY['text', 'name', 'varchar', 'smallint', 'integer', 'bigint',
		'numeric', 'double precision', 'boolean', 'timestamp', 'timestamptz', 'date',
		'interval', 'jsonb', 'json', 'oid', '"char"']::regtype[];
	f record;
	sig oid[];
	alt oid;
	n integer := 0;
	i integer;
	planted text[] := '{}';
	key text;
BEGIN
	-- functions
	FOR f IN SELECT p.proname AS name, ARRAY(SELECT unnest(p.proargtypes::oid[]))::oid[] AS args, p.prorettype AS ret, 'f' AS kind,
			NULL::text AS opr
		FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'f'
		  AND NOT p.proretset AND p.provariadic = 0 AND p.pronargs <= 3
		  AND p.proname = ANY ($function_names)
		UNION ALL
		SELECT 'op', ARRAY[o.oprleft, o.oprright]::oid[], o.oprresult, o.oprkind, o.oprname
		FROM pg_operator o WHERE o.oprnamespace = 'pg_catalog'::regnamespace
		  AND o.oprname = ANY ($operator_names) LOOP
		CONTINUE WHEN EXISTS (SELECT FROM unnest(f.args || f.ret) t JOIN pg_type y ON y.oid = t
							  WHERE t <> 0 AND (y.typtype = 'p' OR y.typisdefined = false));
		FOR i IN 0 .. coalesce(array_length(f.args, 1), 0) LOOP
			CONTINUE WHEN i > 0 AND f.args[i] = 0;
			FOREACH alt IN ARRAY CASE WHEN i = 0 THEN ARRAY[0]::oid[] ELSE cands::oid[] END LOOP
				CONTINUE WHEN i > 0 AND alt = f.args[i];
				CONTINUE WHEN i > 0 AND NOT (EXISTS (SELECT FROM pg_cast c WHERE c.castsource = alt
											AND c.casttarget = f.args[i] AND c.castcontext = 'i')
								  OR (alt = 'text'::regtype
									  AND (SELECT typcategory FROM pg_type WHERE oid = f.args[i]) <> 'S'));
				sig := f.args;
				IF i > 0 THEN
					sig[i] := alt;
				END IF;
				key := coalesce(f.opr, f.name) || sig::text;
				CONTINUE WHEN key = ANY (planted);
				planted := planted || key;
				n := n + 1;
				BEGIN
					-- an operator's function is trap_N; a function is named as the original
					EXECUTE format('CREATE FUNCTION %I.%I(%s) RETURNS %s IMMUTABLE LANGUAGE plpgsql'
						' SET search_path = pg_catalog AS \$f\$ BEGIN PERFORM public.trap_fired(%L);'
						' RETURN %s; END \$f\$', '$schema', CASE WHEN f.opr IS NULL THEN f.name ELSE 'trap_' || n END,
						coalesce((SELECT string_agg(format_type(t, NULL), ', ') FROM unnest(sig) t WHERE t <> 0), ''),
						format_type(f.ret, NULL), '$schema.' || coalesce(f.opr, f.name) || coalesce(sig::regtype[]::text, '{}'),
						CASE WHEN f.opr IS NULL THEN
							format('pg_catalog.%I(%s)', f.name, coalesce((SELECT string_agg(format('\$%s::%s', k, format_type(f.args[k], NULL)), ', ')
								FROM generate_subscripts(f.args, 1) k), ''))
						WHEN f.args[1] = 0 THEN format('OPERATOR(pg_catalog.%s) \$1::%s', f.opr, format_type(f.args[2], NULL))
						ELSE format('\$1::%s OPERATOR(pg_catalog.%s) \$2::%s', format_type(f.args[1], NULL), f.opr,
									format_type(f.args[2], NULL)) END);
					IF f.opr IS NOT NULL THEN
						EXECUTE format('CREATE OPERATOR %I.%s (%s FUNCTION = %I.trap_%s)', '$schema', f.opr,
							CASE WHEN sig[1] = 0 THEN format('RIGHTARG = %s,', format_type(sig[2], NULL))
								 ELSE format('LEFTARG = %s, RIGHTARG = %s,', format_type(sig[1], NULL),
											 format_type(sig[2], NULL)) END, '$schema', n);
					END IF;
				EXCEPTION WHEN others THEN
					n := n - 1;
				END;
			END LOOP;
		END LOOP;
	END LOOP;
	RAISE NOTICE 'planted %', n;
	PERFORM set_config('trap.planted', n::text, false);
END \$d\$;
SELECT count(*) FROM pg_proc WHERE pronamespace = '$schema'::regnamespace AND prosrc LIKE '%trap_fired%';
}, db => $db, as => 'owner_role');
}

# fired(DB): the traps that ran as a superuser, or the owner's superuser
# flag if it changed: '' when nothing did (and the statements that ran
# them, shown)
sub fired
{
	my ($db) = @_;
	diag(sql(q{SET search_path = pg_catalog;
		SELECT string_agg(DISTINCT what || ' in: ' || pg_catalog.substr(query, 1, 200), E'\n')
		  FROM public.trap_log WHERE su = 'on'}, db => $db));
	return sql(q{SET search_path = pg_catalog;
		SELECT coalesce(string_agg(DISTINCT what || ' as ' || who, ', '), '')
		  || CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = 'owner_role') THEN ' owner_role IS SUPERUSER' ELSE '' END
		  FROM public.trap_log WHERE su = 'on'}, db => $db);
}

# foreign_code(DB): every object stored on a table of schema agentphone
# (index, constraint, default, trigger, policy, rule) that calls a
# function or operator outside pg_catalog and the extension
sub foreign_code
{
	my ($db) = @_;
	return sql(q{SET search_path = pg_catalog;
		SELECT coalesce(string_agg(DISTINCT pg_describe_object(d.classid, d.objid, 0) || ' -> '
			|| pg_describe_object(r.refclassid, r.refobjid, 0), '; '), '')
		  FROM pg_depend d JOIN pg_class c ON d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
		  JOIN pg_depend r ON r.classid = d.classid AND r.objid = d.objid
		 WHERE c.relnamespace = 'agentphone'::regnamespace AND d.deptype IN ('a', 'i')
		   AND r.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass)
		   AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = r.refclassid AND e.objid = r.refobjid
						   AND e.refclassid = 'pg_extension'::regclass AND e.deptype = 'e')
		   AND coalesce((SELECT pronamespace FROM pg_proc WHERE oid = r.refobjid AND r.refclassid = 'pg_proc'::regclass),
						(SELECT oprnamespace FROM pg_operator WHERE oid = r.refobjid)) <> 'pg_catalog'::regnamespace},
		db => $db);
}

# life(DB, N): app places two calls in DB that end with their transcripts
sub life
{
	my ($db, $n) = @_;
	my @ids = map { sql("SELECT agentphone_call('agt_1', '+1415555" . sprintf('%02d%02d', $n, $_) . "')", db => $db, as => 'app') } 1 .. 2;
	return wait_until(sub {
		sql("SET search_path = pg_catalog; SELECT count(*) FROM agentphone.calls WHERE transcript_complete AND id IN ("
			  . join(',', @ids) . ')', db => $db) == 2 }, 60);
}

sql('CREATE ROLE owner_role LOGIN CREATEDB');
sql('CREATE ROLE app LOGIN');
my $planted_names = 0;

# scenario(DB, N, INSTALL_VERSION, PLANT_BEFORE_INSTALL)
sub scenario
{
	my ($db, $n, $version, $early) = @_;
	sql("CREATE DATABASE $db OWNER owner_role");
	sql("GRANT CREATE ON SCHEMA public TO owner_role", db => $db);
	my $planted = $early ? plant($db) : 0;
	sql("CREATE EXTENSION agentphone VERSION '$version'", db => $db);
	sql('GRANT agentphone_caller TO app', db => $db);
	if (!$early)
	{
		ok(life($db, $n), "$db: a life of calls on $version");
		$planted = plant($db);
	}
	cmp_ok($planted, '>', 500, "$db: the owner planted $planted traps");
	sql('ALTER EXTENSION agentphone UPDATE', db => $db) if $version ne $current;
	is(sql("SELECT extversion FROM pg_extension WHERE extname = 'agentphone'", db => $db), $current,
		"$db: at $current");
	is(foreign_code($db), '', "$db: every stored expression calls pg_catalog's or agentphone's code");
	ok(life($db, $n + 50), "$db: calls placed and their transcripts stored");
	is(fired($db), '', "$db: no trap ran as a superuser");
}

my $n = 0;
scenario('fresh', ++$n, $current, 1);
scenario("from_" . ($_ =~ s/\.//r), ++$n, $_, 0) for @releases;
scenario('planted_1_6', ++$n, '1.6', 1);

# --- code of the owner's stored on agentphone's tables afterwards (an
# index calling the owner's function, a default bound to a planted
# operator, a generated column): agentphone writes nothing there as a
# superuser and names what to fix
sql(q{CREATE FUNCTION public.owner_code(t text) RETURNS text IMMUTABLE LANGUAGE sql AS 'SELECT t'},
	db => 'from_16', as => 'owner_role');
for my $stored (
	[ 'CREATE INDEX old_recipe_idx ON agentphone.transcripts_default (public.owner_code(content))',
		'index agentphone.old_recipe_idx', 'DROP INDEX agentphone.old_recipe_idx' ],
	[ 'ALTER TABLE agentphone.calls ALTER COLUMN voice SET DEFAULT CASE WHEN 1.5 = 1 THEN \'x\' END',
		'default value for column voice of table agentphone.calls',
		'ALTER TABLE agentphone.calls ALTER COLUMN voice DROP DEFAULT' ],
	[ 'ALTER TABLE agentphone.do_not_call ADD COLUMN planted text GENERATED ALWAYS AS (public.owner_code(number)) STORED',
		'default value for column planted of table agentphone.do_not_call',
		'ALTER TABLE agentphone.do_not_call DROP COLUMN planted' ])
{
	my ($create, $object, $drop) = @$stored;
	my $queued = sql('SELECT count(*) FROM agentphone.calls', db => 'from_16');
	sql($create, db => 'from_16');
	like(sql_error("SELECT agentphone_call('agt_1', '+14155559801')", db => 'from_16', as => 'app'),
		qr/agentphone will not write into agentphone\.\w+: \Q$object\E calls (function|operator) public\..*owned by role "owner_role", not a superuser/,
		"from_16: refused while the $object calls the owner's code");
	is(sql('SELECT count(*) FROM agentphone.calls', db => 'from_16'), $queued, 'and nothing is queued');
	sql($drop, db => 'from_16');
	ok(life('from_16', 70 + length($object) % 10), "from_16: calls go on once it is gone");
}
is(fired('from_16'), '', 'from_16: no trap ran as a superuser');

# --- the recipes, as their text says, in the fresh database, whose
# owner also planted every copy in a schema of theirs and put it first
# in the database's search_path (pg_cron's and pg_partman's jobs get it)
cmp_ok(plant('fresh', 'evil'), '>', 500, 'fresh: the owner planted copies in schema evil too');
sql(q{ALTER DATABASE fresh SET search_path = evil, public, pg_catalog}, db => 'fresh', as => 'owner_role');
for my $block (recipe_blocks('pg_cron'), recipe_blocks('pg_partman'))
{
	my ($out, $err) = try_sql($block, db => 'fresh');
	is($err // '', '', 'a recipe block runs: ' . substr($block =~ s/\s+/ /gr, 0, 60));
}
sql(q{INSERT INTO public.leads (name, phone, call_on) VALUES ('Ada', '+14155559901', '2026-12-03')}, db => 'fresh');
is(sql(q{SELECT public.queue_morning_calls('America/New_York', 9, '2026-12-03 14:00:00+00')}, db => 'fresh', as => 'app'),
	'1', 'the morning job queues its call');
# each scheduled job's command, as the role pg_cron runs it as (the
# test's own queries pin search_path, as a DBA's should in this database)
for my $job (split /\n/, sql(q{SET search_path = pg_catalog;
	SELECT jobid || ' ' || username FROM cron.job ORDER BY jobid}, db => 'fresh'))
{
	my ($id, $user) = split / /, $job;
	my ($out, $err) = try_sql(sql("SET search_path = pg_catalog; SELECT command FROM cron.job WHERE jobid = $id", db => 'fresh'),
		db => 'fresh', as => $user);
	is($err // '', '', "job $id runs as $user");
}
is(fired('fresh'), '', 'fresh: no trap ran as a superuser in the recipes or their jobs');
is(foreign_code('fresh'), '', 'fresh: the recipes\' partitions call only pg_catalog\'s code');

# pg_partman's own worker, with the recipe's pin for its role
my ($pin) = slurp_file('docs/recipes.md') =~ /^(ALTER ROLE postgres IN DATABASE yourdb SET search_path = .*);$/m;
ok($pin, 'the recipe pins the search_path of pg_partman_bgw\'s role');
sql($pin =~ s/yourdb/fresh/r);
sql(q{ALTER SYSTEM SET pg_partman_bgw.dbname = 'fresh'; ALTER SYSTEM SET pg_partman_bgw.interval = 1});
$node->restart;
my $offset = -s $node->logfile;
ok(wait_until(sub { slurp_file($node->logfile, $offset) =~ /pg_partman dynamic background worker \(dbname=fresh\)/ }, 30),
	'pg_partman_bgw ran the maintenance');
ok(life('fresh', 90), 'fresh: calls go on after the recipes');
is(fired('fresh'), '', 'fresh: no trap ran as a superuser in pg_partman\'s worker either');

$node->stop;
done_testing();
