# 016_hostile_owner.pl: the owner of the worker's database, not a
# superuser, tries to make the superuser worker run code of theirs and to
# stop it with database-level settings.  They plant, in their own schema
# and in public, a trap copy of every pg_catalog operator on the types the
# worker's statements use and of the functions they call, point the
# database's search_path at them, and attach read-only transactions, a 5 ms
# statement timeout and more to the database.  Then every path of the
# worker runs: dispatch, a retry, a lost answer and its reconciliation,
# polling, transcripts, a call blocked at the claim, the event trim.  No
# trap may fire in the worker, the owner must not become superuser, and
# every call must be placed once and followed to its end.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

start_sim();
my $node = new_node('hostile', $QUICK . q{
agentphone.reconcile_delay = '300ms'
agentphone.event_retention = '2s'
});

sql(q{
	CREATE ROLE owner_role LOGIN;
	CREATE ROLE app LOGIN IN ROLE agentphone_caller;
	ALTER DATABASE postgres OWNER TO owner_role;
});

# The trap: logs which kind of process ran it and, run by a superuser,
# makes the owner one.  Copies of operators and functions call it, then do
# what the original does, so a worker that ran one would carry on.
my $plant = q{
CREATE SCHEMA evil;
CREATE FUNCTION evil.trap() RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog AS $t$
BEGIN
	RAISE LOG 'AGENTPHONE-TRAP fired in %',
		(SELECT backend_type FROM pg_stat_activity WHERE pid = pg_backend_pid());
	IF current_setting('is_superuser') OPERATOR(pg_catalog.=) 'on' THEN
		EXECUTE 'ALTER ROLE owner_role SUPERUSER';
	END IF;
END $t$;
DO $d$
DECLARE
	types regtype[] := ARRAY['text', 'name', 'integer', 'bigint', 'smallint', 'numeric',
		'boolean', 'timestamptz', 'timestamp', 'interval', 'date', 'jsonb', 'json',
		'double precision', 'oid', 'text[]', 'name[]']::regtype[];
	o record;
	f record;
	n integer := 0;
	s text;
BEGIN
	FOREACH s IN ARRAY ARRAY['evil', 'public'] LOOP
		FOR o IN SELECT p.oprname, p.oprleft::regtype AS l, p.oprright::regtype AS r,
				p.oprresult::regtype AS res
			FROM pg_catalog.pg_operator p
			WHERE p.oprnamespace = 'pg_catalog'::regnamespace AND p.oprkind = 'b'
			  AND p.oprleft = ANY (types) AND p.oprright = ANY (types) LOOP
			n := n + 1;
			EXECUTE format('CREATE FUNCTION %I.op%s(a %s, b %s) RETURNS %s LANGUAGE plpgsql'
				' SET search_path = pg_catalog AS $f$ BEGIN PERFORM evil.trap();'
				' RETURN a OPERATOR(pg_catalog.%s) b; END $f$', s, n, o.l, o.r, o.res, o.oprname);
			EXECUTE format('CREATE OPERATOR %I.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = %I.op%s)',
				s, o.oprname, o.l, o.r, s, n);
		END LOOP;
		FOR f IN SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
				pg_catalog.pg_get_function_result(p.oid) AS res,
				(SELECT pg_catalog.string_agg(format('$%s', i), ', ')
				   FROM pg_catalog.generate_series(1, p.pronargs) i) AS call
			FROM pg_catalog.pg_proc p
			WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'f'
			  AND p.proretset = false AND p.provariadic = 0
			  AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proargtypes::oid[]) t
							  WHERE t NOT IN (SELECT pg_catalog.unnest(types)::oid))
			  AND p.prorettype IN (SELECT pg_catalog.unnest(types)::oid)
			  AND p.proname IN ('now', 'clock_timestamp', 'statement_timestamp',
				'transaction_timestamp', 'ceil', 'floor', 'round', 'length', 'char_length',
				'starts_with', 'left', 'lower', 'btrim', 'has_function_privilege',
				'pg_has_role', 'json_build_object', 'current_setting', 'hashtext',
				'date_trunc', 'date_part', 'extract', 'to_char', 'nullif', 'int4', 'int8',
				'text', 'timezone', 'cardinality', 'array_to_string', 'pg_notify',
				'pg_try_advisory_xact_lock', 'textlen', 'md5', 'pg_backend_pid') LOOP
			EXECUTE format('CREATE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE plpgsql'
				' SET search_path = pg_catalog AS $f$ BEGIN PERFORM evil.trap();'
				' RETURN pg_catalog.%I(%s); END $f$', s, f.proname, f.args, f.res, f.proname,
				coalesce(f.call, ''));
		END LOOP;
		-- the variadic format() and the aggregates, by a few exact signatures
		EXECUTE format('CREATE FUNCTION %I.format(text, text) RETURNS text LANGUAGE plpgsql'
			' SET search_path = pg_catalog AS $f$ BEGIN PERFORM evil.trap();'
			' RETURN pg_catalog.format($1, $2); END $f$', s);
		EXECUTE format('CREATE FUNCTION %I.format(text, text, text) RETURNS text LANGUAGE plpgsql'
			' SET search_path = pg_catalog AS $f$ BEGIN PERFORM evil.trap();'
			' RETURN pg_catalog.format($1, $2, $3); END $f$', s);
		EXECUTE format('CREATE FUNCTION %I.count_step(bigint) RETURNS bigint LANGUAGE plpgsql'
			' SET search_path = pg_catalog AS $f$ BEGIN PERFORM evil.trap(); RETURN $1 + 1; END $f$', s);
		EXECUTE format('CREATE AGGREGATE %I.count(*) (SFUNC = %I.count_step, STYPE = bigint, INITCOND = 0)', s, s);
		EXECUTE format('CREATE FUNCTION %I.min_step(timestamptz, timestamptz) RETURNS timestamptz LANGUAGE plpgsql'
			' SET search_path = pg_catalog AS $f$ BEGIN PERFORM evil.trap();'
			' RETURN LEAST($1, $2); END $f$', s);
		EXECUTE format('CREATE AGGREGATE %I.min(timestamptz) (SFUNC = %I.min_step, STYPE = timestamptz)', s, s);
	END LOOP;
	RAISE NOTICE 'planted % operators', n;
END $d$;
};
my ($rc, $out, $err) = $node->psql('postgres', $plant, extra_params => [ '-U', 'owner_role' ]);
is($rc, 0, 'the owner planted the traps') or diag $err;
my $planted = sql(q{SELECT count(*) FROM pg_operator WHERE oprnamespace = 'evil'::regnamespace});
cmp_ok($planted, '>', 150, "$planted trap operators in schema evil (and as many in public)");

# The traps work: a session of the owner's that resolves through them runs one.
$node->psql('postgres', "SET search_path = evil, public, pg_catalog; SELECT now() - interval '1 second'",
	extra_params => [ '-U', 'owner_role' ]);
ok(wait_until(sub { slurp_file($node->logfile) =~ /AGENTPHONE-TRAP fired in client backend/ }, 5),
	'a trap fires in a session that resolves through it (so the check below can fail)');

# this test's own sessions keep ordinary settings (pg_catalog first: the
# same traps are in public)
$ENV{PGOPTIONS} = '-c search_path=pg_catalog,public -c default_transaction_read_only=off -c statement_timeout=0'
  . ' -c lock_timeout=0 -c idle_in_transaction_session_timeout=0'
  . ' -c default_transaction_isolation=read\ committed -c transform_null_equals=off';

# attach(SETTINGS...): the owner attaches settings to the database; the
# worker connects again, and so would take them
sub attach
{
	my $stmts = join('', map { "ALTER DATABASE postgres SET $_;\n" } @_);
	my ($rc, $out, $err) = $node->psql('postgres', $stmts, extra_params => [ '-U', 'owner_role' ]);
	is($rc, 0, 'the owner attached to the database: ' . join(', ', @_)) or diag $err;
	my $old_pid = worker_pid($node);
	sql("SELECT pg_terminate_backend($old_pid)");
	ok(wait_until(sub { my $p = worker_pid($node); $p ne '' && $p ne $old_pid }, 20), 'the worker reconnected');
}

# place(NUMBER, ARGS...): app queues a call to NUMBER; its id
sub place { return sql(call_query(@_), as => 'app'); }

# drive_every_path(ROUND): a placed call followed to its transcript, a
# retried one, one whose answer is lost (reconciled and adopted), one
# blocked at the claim, the event trim and the health report; then the
# log of that round must hold no trap
sub drive_every_path
{
	my ($round) = @_;
	my $base = 14155552000 + 10 * $round;
	my @numbers = map { '+' . ($base + $_) } 1 .. 4;
	my $log_offset = -s $node->logfile;
	my @ids;

	sim('DELETE', '/_sim/requests');
	push @ids, place($numbers[0]);
	sim('POST', '/_sim/faults', { faults => [ { method => 'POST', path => '/v1/calls', count => 1,
		kind => 'status', status => 503 } ] });
	push @ids, place($numbers[1]);
	sleep 1;
	sim('POST', '/_sim/faults', { faults => [ { method => 'POST', path => '/v1/calls', count => 1,
		kind => 'drop_after' } ] });
	push @ids, place($numbers[2]);
	my $blocked = place($numbers[3], "not_before => now() + interval '1 second'");
	sql("SELECT agentphone_do_not_call('$numbers[3]', 'asked')");

	ok(wait_until(sub {
		sql("SELECT count(*) FROM agentphone.calls WHERE id IN (" . join(',', @ids)
			  . ") AND status = 'completed' AND transcript_complete") == 3 }, 60),
		"round $round: placed, retried and reconciled calls all completed, transcripts stored")
	  or diag explain call_rows($node, 'id IN (' . join(',', @ids) . ')');
	ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $blocked") eq 'blocked' }, 20),
		"round $round: a number put on do-not-call after queueing is blocked at the claim");
	like(sql("SELECT string_agg(DISTINCT to_status, ',') FROM agentphone.call_events WHERE call_id = $ids[2]"),
		qr/reconciling/, "round $round: the lost answer went through reconciliation");
	my %posts;
	$posts{ $_->{body}{toNumber} }++ for grep { ($_->{status} // 0) != 503 } @{ sim_posts() };
	is_deeply([ map { $posts{$_} // 0 } @numbers ], [ 1, 1, 1, 0 ],
		"round $round: each call reached the API once (the 503 aside), the blocked one never");
	ok(wait_until(sub {
		sql("SELECT count(*) FROM agentphone.call_events WHERE at < now() - interval '4 seconds'") == 0 }, 20),
		"round $round: the event trim runs");
	is(sql("SELECT running FROM agentphone_worker_status()"), 't', "round $round: the worker is healthy");

	my $log = substr(slurp_file($node->logfile), $log_offset);
	unlike($log, qr/AGENTPHONE-TRAP/, "round $round: no planted operator or function ran");
	is(sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'owner_role'"), 'f',
		"round $round: the owner is not superuser");
	unlike($log, qr/read-only transaction|statement timeout|lock timeout|could not serialize|idle-in-transaction/,
		"round $round: no database setting reached the worker's transactions");
}

# Round 1, the escalation: the traps first in the database's search_path.
attach('search_path = evil, public, pg_catalog');
drive_every_path(1);

# Round 2, the stop: settings that would make every transaction of the
# worker fail, or weaken what it relies on.
attach("default_transaction_read_only = on", "statement_timeout = '5ms'", "lock_timeout = '1ms'",
	"idle_in_transaction_session_timeout = '10ms'", "default_transaction_isolation = 'serializable'",
	"synchronous_commit = off", "transform_null_equals = on", "TimeZone = 'Pacific/Kiritimati'",
	"DateStyle = 'SQL, DMY'", "IntervalStyle = 'sql_standard'", "enable_indexscan = off",
	"work_mem = '64kB'");
drive_every_path(2);

done_testing();
