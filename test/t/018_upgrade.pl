# 018_upgrade.pl: an install of every earlier release, in use, upgraded
# step by step to the current version loses nothing.  For each release
# before the current one (today: 1.0 to 1.9) the test installs it, places
# and completes calls (transcripts, events), queues calls for later, adds
# do-not-call entries (into 1.0 one with a reason longer than 1.1 accepts),
# grants an application role and puts a dialing trigger on a table; then
# ALTER EXTENSION agentphone UPDATE.  Every row must be intact, the queued
# calls placed once each, the privileges unchanged, the trigger still
# dialing (through the C function of 1.2), and the schema (pg_dump --binary-upgrade, which
# dumps the extension's own objects) identical to a fresh install.  A
# downgrade is refused.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

my @releases = ('1.0', '1.1', '1.2', '1.3', '1.4', '1.5', '1.6', '1.7', '1.8', '1.9');
my $current = '1.10';

start_sim();
my $node = new_node('upgrade', $QUICK, no_extension => 1);

# every row of the extension's tables, keyed, as jsonb: after the update
# each must still hold every column it had, with the same value (a later
# release may add columns)
my $rows_query = q{
	SELECT 'calls' AS t, id::text AS k, to_jsonb(c) AS j FROM agentphone.calls c
	UNION ALL SELECT 'transcripts', call_id || '/' || seq, to_jsonb(tr) FROM agentphone.transcripts tr
	UNION ALL SELECT 'events', id::text, to_jsonb(e) FROM agentphone.call_events e
	UNION ALL SELECT 'do_not_call', number, to_jsonb(d) FROM agentphone.do_not_call d};
my $rows_lost_query = qq{
	SELECT (SELECT count(*) FROM rows_before b
			 WHERE NOT EXISTS (SELECT FROM ($rows_query) a WHERE a.t = b.t AND a.k = b.k AND a.j @> b.j))
		|| ' of ' || (SELECT count(*) FROM rows_before)};
my $privileges_query = q{
	SELECT (SELECT string_agg(format('%s %s', p, has_function_privilege('app', p, 'EXECUTE')), ', ' ORDER BY p)
	  FROM unnest(ARRAY['agentphone_call(text,text,jsonb,text,text,text,text,jsonb,text,timestamptz)',
		'agentphone_cancel(bigint)', 'agentphone_wait(bigint,interval)', 'agentphone_do_not_call(text,text)',
		'agentphone_allow_calls(text)', 'agentphone_get_call(text)', 'agentphone_worker_status()']) p)}
  . q{ || ' | ' || has_table_privilege('app', 'agentphone.calls', 'SELECT')
	  || has_table_privilege('app', 'agentphone.calls', 'INSERT')
	  || has_table_privilege('app', 'agentphone.transcripts', 'SELECT')
	  || ' | ' || has_table_privilege('reporter', 'agentphone.transcripts', 'SELECT')
	  || has_table_privilege('reporter', 'agentphone.call_events', 'SELECT')
	  || has_table_privilege('reporter', 'agentphone.call_events', 'INSERT')};

# schema: the extension's objects as pg_dump --binary-upgrade writes them,
# without the OIDs, transaction ids and sequence positions that differ
# between any two databases
sub schema_of
{
	my ($db) = @_;
	my ($out, $err) = run_command([ 'pg_dump', '--schema-only', '--binary-upgrade',
		'-d', $node->connstr($db) ]);
	die "pg_dump: $err" if $err =~ /error/;
	$out =~ s/^SELECT pg_catalog\.binary_upgrade_.*\n//mg;
	$out =~ s/^-- Dumped .*\n//mg;
	$out =~ s/^\\(un)?restrict .*\n//mg;
	$out =~ s/relfrozenxid = '\d+'/relfrozenxid = X/g;
	$out =~ s/WHERE oid = '\d+'/WHERE oid = X/g;
	$out =~ s/^SELECT pg_catalog\.setval\(.*\n//mg;    # sequence positions are data
	# a column that an update added with a default keeps that default for
	# the rows before it (attmissingval): storage, not schema
	$out =~ s/^-- set missing value\.\n//mg;
	$out =~ s/\n{3,}/\n\n/g;    # and the blank lines around what was taken out
	return $out;
}

sql('CREATE ROLE app LOGIN');
sql('CREATE ROLE reporter LOGIN');
for my $release (@releases)
{
	sql("DROP EXTENSION IF EXISTS agentphone CASCADE");
	sim('POST', '/_sim/reset');
	sql("CREATE EXTENSION agentphone VERSION '$release'");
	sql('GRANT agentphone_caller TO app');
	# a grant of the user's own, on the tables themselves
	sql('GRANT SELECT ON agentphone.transcripts, agentphone.call_events TO reporter');
	is(sql("SELECT extversion FROM pg_extension WHERE extname = 'agentphone'"), $release, "$release installed");

	# placed and completed, with transcripts and events
	my @done;
	for my $i (1 .. 3)
	{
		push @done, $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+1415555610$i', jsonb_build_object('n', $i))",
			extra_params => [ '-U', 'app' ]);
	}
	ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE transcript_complete") == 3 }, 60),
		"$release: three calls completed, transcripts stored");
	# queued for later, still queued at the upgrade
	my @later;
	for my $i (1 .. 2)
	{
		push @later, $node->safe_psql('postgres',
			"SELECT agentphone_call('agt_1', '+1415555620$i', not_before => now() + interval '6 seconds')",
			extra_params => [ '-U', 'app' ]);
	}
	$node->safe_psql('postgres', "SELECT agentphone_do_not_call('+14155556301', 'asked')",
		extra_params => [ '-U', 'app' ]);
	sql("SELECT agentphone_do_not_call('+14155556302', repeat('long reason ', 60))") if $release eq '1.0';
	sql(q{CREATE TABLE appointments (patient text, phone text, call_id bigint);
		GRANT INSERT, SELECT ON appointments TO app;
		CREATE TRIGGER confirm BEFORE INSERT ON appointments FOR EACH ROW
			EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'patient', 'call_id')});

	# a call its calling window put off, as every release before 1.3
	# queued one (due later than its queueing, never claimed)
	my $n = sprintf('%02d', 1 + scalar(grep { release_before($_, $release) } @releases));
	my $held = sql("INSERT INTO agentphone.calls (agent_id, to_number, created_by, next_attempt_at)"
		  . " VALUES ('agt_1', '+141555567$n', 'app', now() + interval '1 day') RETURNING id");
	# (which 1.3 and later mark as held)
	sql("UPDATE agentphone.calls SET held_by_window = true WHERE id = $held") unless release_before($release, '1.3');
	sql("CREATE TABLE rows_before AS $rows_query");
	# calls whose status a release before 1.9 took from the API (after the
	# snapshot: the update changes their status): a word colliding with
	# agentphone's own on an ended call, one it does not know, a live
	# "ringing", and an ended call that was queued again
	my %api_words;
	for my $word (release_before($release, '1.9') ? ('reconciling', 'voicemail', 'ringing', 'queued') : ())
	{
		my $ended = $word eq 'ringing' ? 'NULL' : "now()";
		$api_words{$word} = sql("INSERT INTO agentphone.calls (agent_id, to_number, created_by, status,"
			  . " api_call_id, ended_at, transcript_complete, next_attempt_at)"
			  . " VALUES ('agt_1', '+14155556801', 'app', '$word', 'call_old_$word', $ended,"
			  . " $ended IS NOT NULL, now() + interval '1 day') RETURNING id");
	}
	my $privileges = sql($privileges_query);
	like($privileges, qr/agentphone_call\S+ t,/, "$release: app may place calls");

	# the update runs while the worker writes the calls: when PostgreSQL
	# cancels it for a deadlock with the worker (the chain takes the calls
	# table's strongest lock after weaker ones; docs/operations.md
	# "Upgrading"), it changed nothing, and running it again is the remedy
	my $deadlocks = 0;
	for my $try (1 .. 3)
	{
		my $err = sql_error('ALTER EXTENSION agentphone UPDATE');
		last if $err !~ /ERROR/;
		die "ALTER EXTENSION agentphone UPDATE: $err" unless $err =~ /deadlock detected/;
		$deadlocks++;
		note("$release: the update met the worker in a deadlock, run again");
	}
	is(sql("SELECT extversion FROM pg_extension WHERE extname = 'agentphone'"), $current,
		"$release: updated to $current");
	my $kept = sql('SELECT count(*) FROM rows_before');
	cmp_ok($kept, '>=', 10, "$release: (rows were stored before the update)");
	is(sql($rows_lost_query), "0 of $kept", "$release: every call, transcript, event and do-not-call entry is intact");
	sql('DROP TABLE rows_before');
	# (the live one is in-progress, followed: the simulator does not know
	# it, so the poller may have made it unknown already, before the update
	# or after it)
	if (release_before($release, '1.9'))
	{
		like(join(', ', map { sql("SELECT '$_: ' || status || ' ' || coalesce(api_status, '-') || ' '"
			  . " || coalesce(last_error LIKE '%update to 1.9', false)"
			  . " FROM agentphone.calls WHERE id = $api_words{$_}") } sort keys %api_words),
			qr/^queued: failed queued true, reconciling: failed reconciling true, ringing: (in-progress ringing true|unknown ringing false|unknown - false), voicemail: failed voicemail true$/,
			"$release: an API word in status moved to api_status, the call in agentphone's state for it (1.9)");
		like(sql_error("UPDATE agentphone.calls SET status = 'voicemail' WHERE id = $api_words{voicemail}"),
			qr/violates check constraint "calls_status_check"/, "$release: status takes only agentphone's states after the update");
		sql("DELETE FROM agentphone.calls WHERE id IN (" . join(', ', values %api_words) . ")");
	}
	is(sql("SELECT held_by_window FROM agentphone.calls WHERE id = $held"), 't',
		"$release: a call put off by its window is marked so");
	sql("ALTER SYSTEM SET agentphone.call_window = '00:00-23:59'; SELECT pg_reload_conf()");
	ok(wait_until(sub { posts_to("+141555567$n") == 1 }, 30),
		"$release: and released when the window changes");
	sql("ALTER SYSTEM RESET agentphone.call_window; SELECT pg_reload_conf()");
	is(sql($privileges_query), $privileges, "$release: privileges unchanged");
	is(sql(q{SELECT string_agg(role || ' ' || admin || ' ' || admin_option, ',') FROM agentphone.grants}),
		'app false false', "$release: app's grant is recorded in the database that updated (1.8)");
	is(sql(q{SELECT pg_get_indexdef('agentphone.transcripts_content_fts_idx'::regclass) || ' '
		|| (SELECT count(*) FROM pg_depend WHERE objid = 'agentphone.transcripts_content_fts_idx'::regclass
			AND refclassid = 'pg_proc'::regclass)}),
		"CREATE INDEX transcripts_content_fts_idx ON agentphone.transcripts_default USING gin (to_tsvector('english'::regconfig, content)) 0",
		"$release: the full-text index calls pg_catalog's to_tsvector(regconfig, text)");
	like(sql("SELECT string_agg(kind || ':' || coalesce(database::text, '-'), ',' ORDER BY kind, database)"
		  . " FROM agentphone_workers()"), qr/^launcher:-,worker:postgres$/,
		"$release: agentphone_workers() lists the launcher and the database's worker");
	like(sql_error('SELECT * FROM agentphone_workers()', as => 'app'), qr/permission denied for function agentphone_workers/,
		"$release: and only to superusers");

	ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($later[0], $later[1])"
		  . " AND status NOT IN ('queued', 'dispatching')") == 2 }, 30),
		"$release: the calls queued before the update are placed after it");
	is(join(',', map { posts_to("+1415555620$_") } 1 .. 2), '1,1', "$release: each once");
	my $id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155556401')",
		extra_params => [ '-U', 'app' ]);
	like(sql("SELECT agentphone_wait($id, '20 s')"), qr/^(in-progress|completed)$/,
		"$release: app places calls after the update");
	my ($rc, $out, $err) = $node->psql('postgres', "SELECT agentphone_call('agt_1', '+979123456789')",
		extra_params => [ '-U', 'app' ]);
	like($err, qr/premium-rate/, "$release: and the $current rules apply");
	($rc, $out, $err) = $node->psql('postgres',
		"INSERT INTO agentphone.do_not_call (number) VALUES ('+0123456789')");
	like($err, qr/violates check constraint "do_not_call_number_check"/,
		"$release: the do-not-call list still refuses, even to a superuser, a number not in E.164 form");
	($rc, $out, $err) = $node->psql('postgres', "SELECT agentphone_do_not_call('911')",
		extra_params => [ '-U', 'app' ]);
	like($err, qr/number must be in E\.164 form, not "911"/,
		"$release: and so does agentphone_do_not_call()");
	$node->safe_psql('postgres', "INSERT INTO appointments VALUES ('Ada', '+14155556501')",
		extra_params => [ '-U', 'app' ]);
	is(sql(q{SELECT c.variables::text || ' ' || c.created_by FROM appointments a
		JOIN agentphone.calls c ON c.id = a.call_id AND c.to_number = a.phone}),
		'{"patient": "Ada"} app', "$release: the trigger created before the update queues calls after it");
	sql('DROP TABLE appointments');

	sql('CREATE DATABASE fresh');
	sql('CREATE EXTENSION agentphone', db => 'fresh');
	# the same grant of the user's, made after the install
	sql('GRANT SELECT ON agentphone.transcripts, agentphone.call_events TO reporter', db => 'fresh');
	like(sql_error("SELECT agentphone_call('agt_1', '+14155556402')", as => 'app', db => 'fresh'),
		qr/role "app" does not hold agentphone_caller in database "fresh"/,
		"$release: a new install records no member of the group roles: app's grant was for the other database");
	my ($upgraded, $fresh) = (schema_of('postgres'), schema_of('fresh'));
	like($upgraded, qr/CREATE FUNCTION agentphone\.claim_calls/, '(the dump holds the extension\'s objects)');
	is($upgraded, $fresh, "$release: the schema after the update is a fresh $current install's");
	sql('DROP DATABASE fresh');
}

my ($rc, $out, $err) = $node->psql('postgres', "ALTER EXTENSION agentphone UPDATE TO '1.0'");
like($err, qr/has no update path from version "$current" to version "1.0"/, 'a downgrade is refused');

done_testing();
