# 030_grants.pl: a grant made for one database means nothing in another.
# agentphone_caller and agentphone_admin are cluster roles and every
# database lets PUBLIC connect, so until 1.8 a role granted agentphone_admin
# to run database a read b's transcripts, and a's application queued calls
# in b, on b's key.  Two databases, a and b, each with its own caller and
# admin; then, read from the catalog so that new members are covered too:
#   - every function granted to agentphone_caller or agentphone_admin
#     refuses, in b, the role of a that holds the same group there, with
#     the statement that lifts it; the dialing trigger too;
#   - every table and view granted to them shows a's roles nothing of b
#     (b's own roles, and superusers, see their rows);
#   - the claim holds back, undialed and saying why, a call whose role
#     lost its grant in b, and places it once the role is granted again;
#   - ADMIN OPTION granted in a does not let its holder grant or revoke in
#     b, nor anywhere agentphone is not installed, and its REVOKE in a
#     takes the membership away in a only;
#   - a superuser's REVOKE takes it away everywhere: the other databases
#     forget their records, so a later grant elsewhere revives nothing;
#   - GRANT, REVOKE, CREATE ROLE ... IN ROLE, ALTER GROUP and DROP ROLE run
#     in a database are recorded there (a re-created role of the same name
#     holds nothing), a grant to a team counts for its members, a pooler's
#     SET ROLE acts as the role it switched to, and a database restored
#     from pg_dump keeps its grants.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;

start_sim();
my $node = new_node('grants', $QUICK, no_extension => 1);
for my $db (qw(a b))
{
	sql("CREATE DATABASE $db");
	sql('CREATE EXTENSION agentphone', db => $db);
}
sql("CREATE ROLE ${_} LOGIN") for qw(app_a adm_a app_b adm_b pooler alice);
sql('GRANT agentphone_caller TO app_a', db => 'a');
sql('GRANT agentphone_admin TO adm_a WITH ADMIN OPTION', db => 'a');
sql('GRANT agentphone_caller TO app_b', db => 'b');
sql('GRANT agentphone_admin TO adm_b', db => 'b');

is(sql(q{SELECT string_agg(role || ':' || admin || ':' || admin_option, ',' ORDER BY role::text) FROM agentphone.grants},
		db => 'a'), 'adm_a:true:true,app_a:false:false', 'a records the grants made in a');
is(sql(q{SELECT string_agg(role || ':' || admin, ',' ORDER BY role::text) FROM agentphone.grants}, db => 'b'),
	'adm_b:true,app_b:false', 'and b those made in b');

# --- rows in b: calls with transcripts and events, a do-not-call entry,
# the agents
sql('SELECT agentphone_refresh_agents()', db => 'b', as => 'adm_b');
my $call_b = sql("SELECT agentphone_call('agt_1', '+14155557001')", db => 'b', as => 'app_b');
ok(wait_until(sub { sql("SELECT transcript_complete FROM agentphone.calls WHERE id = $call_b", db => 'b') eq 't' }, 60),
	"b's call completed, its transcript stored");
sql("SELECT agentphone_do_not_call('+14155557002', 'b: asked not to be called')", db => 'b', as => 'app_b');
my $api_b = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $call_b", db => 'b');

# --- every function granted to the group roles, from the catalog
my @functions = split /\n/, sql(q{
	SELECT p.oid::regprocedure || '|' || CASE WHEN a.grantee = 'agentphone_admin'::regrole THEN 'admin' ELSE 'caller' END
	  FROM pg_proc p, aclexplode(p.proacl) a
	 WHERE a.grantee IN ('agentphone_caller'::regrole, 'agentphone_admin'::regrole)
	   AND a.privilege_type = 'EXECUTE'
	 ORDER BY 1}, db => 'b');
cmp_ok(scalar(@functions), '>=', 20, '(the catalog lists the functions granted to the group roles)');

# an argument of each type, so that a STRICT function runs
my %arg = (
	text => "'x'", bigint => $call_b, integer => '1', interval => "'1 s'", jsonb => "'{}'",
	boolean => 'false', 'timestamp with time zone' => 'now()');
my %special = (
	# the role that acts, and whether it holds a group: its own business
	'agentphone.acting_role()' => 'exempt',
	'agentphone.granted_here(name)' => 'exempt',
	# a trigger function is not called directly (below, on a table)
	'agentphone_dial_trigger()' => 'trigger');
for my $line (@functions)
{
	my ($function, $group) = split /\|/, $line;
	next if $special{$function};
	my ($name, $types) = $function =~ /^(.*)\((.*)\)$/ or die $function;
	my @args = map { $arg{$_} // die "no argument for type $_ of $function" } split /,/, $types;
	$args[0] = "'$api_b'" if $name =~ /^agentphone_(get_call|call_transcript|call_recording|stream_transcript)$/;
	$args[0] = "'+14155557003'" if $name =~ /^agentphone_(do_not_call|allow_calls|check_number)$/;
	@args[0, 1] = ("'agt_1'", "'+14155557004'") if $name eq 'agentphone_call';
	my $query = "SELECT $name(" . join(', ', @args) . ')';
	$query = "SELECT * FROM $name(" . join(', ', @args) . ')' if $name =~ /list_calls|transcript|status/;
	my $intruder = $group eq 'admin' ? 'adm_a' : 'app_a';
	like(sql_error($query, db => 'b', as => $intruder),
		qr/ERROR:  role "$intruder" does not hold agentphone_$group in database "b"\n.*\nHINT:  Connected to database "b", run: GRANT agentphone_$group TO $intruder;/,
		"$function refuses $intruder, a's $group, in b");
}
is(sql(q{SELECT count(*) FROM agentphone.calls WHERE to_number IN ('+14155557004')}, db => 'b'), 0,
	'nothing was queued in b by a\'s roles');
is(sql(q{SELECT count(*) FROM agentphone.do_not_call WHERE number = '+14155557003'}, db => 'b'), 0,
	'nor listed');

# the trigger, on a table of b that app_a may write
sql(q{CREATE TABLE leads (phone text, call_id bigint);
	GRANT INSERT, SELECT ON leads TO app_a, app_b;
	CREATE TRIGGER dial BEFORE INSERT ON leads FOR EACH ROW
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'phone', 'call_id')}, db => 'b');
like(sql_error(q{INSERT INTO leads VALUES ('+14155557005')}, db => 'b', as => 'app_a'),
	qr/role "app_a" does not hold agentphone_caller in database "b"/,
	'the dialing trigger refuses app_a in b: nothing inserted, nothing queued');
is(sql(q{INSERT INTO leads VALUES ('+14155557006') RETURNING call_id IS NOT NULL}, db => 'b', as => 'app_b'), 't',
	'and queues the call of app_b, b\'s caller');

# --- every table and view granted to the group roles, from the catalog
my @relations = split /\n/, sql(q{
	SELECT DISTINCT c.oid::regclass
	  FROM pg_class c, aclexplode(c.relacl) a
	 WHERE a.grantee IN ('agentphone_caller'::regrole, 'agentphone_admin'::regrole)
	   AND a.privilege_type = 'SELECT'
	 ORDER BY 1}, db => 'b');
cmp_ok(scalar(@relations), '>=', 8, '(the catalog lists the tables and views granted to the group roles)');
for my $rel (@relations)
{
	cmp_ok(sql("SELECT count(*) FROM $rel", db => 'b'), '>', 0, "(b has rows in $rel)");
	for my $intruder (qw(app_a adm_a))
	{
		# no row, or no access at all (agentphone.stats: agentphone_admin of b)
		my ($rows, $err) = try_sql("SELECT count(*) FROM $rel", db => 'b', as => $intruder);
		ok($rows eq '0' || $err =~ /permission denied|does not hold agentphone_admin in database "b"/,
			"$intruder, of a, sees none of b's rows in $rel");
	}
	cmp_ok(sql("SELECT count(*) FROM $rel", db => 'b', as => 'adm_b'), '>', 0, "adm_b, b's admin, sees them");
}
is(sql('SELECT count(*) FROM agentphone.calls', db => 'b', as => 'app_b'), 2, 'app_b sees its own calls in b');

# --- the claim: a call whose role lost its grant in b is not dialed
my $later = sql("SELECT agentphone_call('agt_1', '+14155557007', not_before => now() + interval '3 s')",
	db => 'b', as => 'app_b');
sql(q{DELETE FROM agentphone.grants WHERE role = 'app_b'::regrole}, db => 'b');
ok(wait_until(sub { (sql("SELECT last_error FROM agentphone.calls WHERE id = $later", db => 'b') // '') =~ /^waiting: / }, 30),
	'a queued call whose role lost agentphone_caller in b is held back at the claim');
like(sql("SELECT status || ' ' || (next_attempt_at > now() + interval '50 s') || ' ' || last_error FROM agentphone.calls WHERE id = $later", db => 'b'),
	qr/^queued true waiting: role app_b does not hold agentphone_caller in this database; GRANT agentphone_caller TO app_b here places the call, agentphone_cancel\($later\) cancels it$/,
	'queued, looked at again in a minute, saying why and what to do');
is(posts_to('+14155557007'), 0, 'it was not dialed');
like(sql_error("SELECT agentphone_call('agt_1', '+14155557008')", db => 'b', as => 'app_b'),
	qr/does not hold agentphone_caller in database "b"/, 'app_b may no longer queue there');
sql('GRANT agentphone_caller TO app_b', db => 'b');
like(sql("SELECT agentphone_call('agt_1', '+14155557008')", db => 'b', as => 'app_b'), qr/^\d+$/,
	'GRANT again in b gives it back (the membership was still there: it is recorded again)');
# (the claim looks again after a minute; not waited for here)
sql("UPDATE agentphone.calls SET next_attempt_at = now() WHERE id = $later", db => 'b');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $later", db => 'b') eq 'in-progress' }, 20),
	'and the held call is placed when it comes due again');

# --- the admin option counts where it was granted
sql('CREATE ROLE helper LOGIN');
sql('GRANT agentphone_admin TO helper', db => 'a', as => 'adm_a');
is(sql(q{SELECT count(*) FROM agentphone.grants WHERE role = 'helper'::regrole AND admin}, db => 'a'), 1,
	'adm_a, granted agentphone_admin WITH ADMIN OPTION in a, grants it in a');
like(sql_error('GRANT agentphone_admin TO app_b', db => 'b', as => 'adm_a'),
	qr/ERROR:  permission denied to grant or revoke agentphone_admin in database "b"\n.*\nHINT:  Ask a superuser to run, connected to database "b": GRANT agentphone_admin TO adm_a WITH ADMIN OPTION;/,
	'but not in b');
is(sql(q{SELECT pg_has_role('app_b', 'agentphone_admin', 'MEMBER')}), 'f', 'and the refused GRANT left no membership');
like(sql_error('REVOKE agentphone_admin FROM adm_b', db => 'b', as => 'adm_a'),
	qr/permission denied to grant or revoke agentphone_admin in database "b"/, 'nor revoke in b');
is(sql(q{SELECT pg_has_role('adm_b', 'agentphone_admin', 'MEMBER')}), 't', 'adm_b keeps it');
for my $statement ('GRANT agentphone_admin TO app_b', 'REVOKE agentphone_admin FROM adm_b')
{
	like(sql_error($statement, as => 'adm_a'),
		qr/permission denied to grant or revoke agentphone's group roles in database "postgres"/,
		"nor, in a database without agentphone, '$statement'");
}
is(sql(q{SELECT pg_has_role('adm_b', 'agentphone_admin', 'MEMBER') AND NOT pg_has_role('app_b', 'agentphone_admin', 'MEMBER')}),
	't', 'which changed no membership');
my ($rev_out, $rev_err) = try_sql('REVOKE agentphone_admin FROM helper', db => 'a', as => 'adm_a');
like($rev_err, qr/NOTICE:  agentphone: revoked in database "a" only/, "adm_a's REVOKE in a is for a only");
is(sql(q{SELECT count(*) FROM agentphone.grants WHERE role = 'helper'::regrole}, db => 'a') . ' '
	  . sql(q{SELECT pg_has_role('helper', 'agentphone_admin', 'MEMBER')}), '0 t',
	'helper loses it in a, and stays a member in the cluster for the other databases');

# --- each way of changing membership is recorded where it runs
sub recorded
{
	my ($db, $role) = @_;
	return sql(qq{SELECT coalesce(string_agg(CASE WHEN admin THEN 'admin' ELSE 'caller' END, ',' ORDER BY admin), '-')
		FROM agentphone.grants WHERE role::oid = (SELECT oid FROM pg_roles WHERE rolname = '$role')}, db => $db);
}
sql('CREATE ROLE newhire LOGIN IN ROLE agentphone_caller', db => 'b');
is(recorded('b', 'newhire') . ' ' . recorded('a', 'newhire'), 'caller -', 'CREATE ROLE ... IN ROLE is recorded in b only');
sql('ALTER GROUP agentphone_admin ADD USER newhire', db => 'b');
is(recorded('b', 'newhire'), 'caller,admin', 'ALTER GROUP ... ADD USER is recorded');
sql('ALTER GROUP agentphone_admin DROP USER newhire', db => 'b');
is(recorded('b', 'newhire'), 'caller', 'ALTER GROUP ... DROP USER too');
sql('GRANT agentphone_caller TO newhire', db => 'a');
sql('REVOKE agentphone_caller FROM newhire', db => 'a');
is(recorded('a', 'newhire'), '-', 'REVOKE removes the record of the database where it runs');
sql('DROP ROLE newhire', db => 'b');
is(sql(q{SELECT count(*) FROM agentphone.grants WHERE NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = role)}, db => 'b'), 0,
	'DROP ROLE removes the records of the dropped role');
sql('CREATE ROLE newhire LOGIN');
sql('GRANT agentphone_caller TO newhire', db => 'a');
like(sql_error("SELECT agentphone_call('agt_1', '+14155557009')", db => 'b', as => 'newhire'),
	qr/does not hold agentphone_caller in database "b"/,
	'a role created again under the same name, granted in a, holds nothing in b');

# a superuser's REVOKE takes it away everywhere: b forgets its record
# (its worker, within a minute), so a later grant in a revives nothing in b
sql('CREATE ROLE mover LOGIN');
sql('GRANT agentphone_caller TO mover', db => 'b');
sql('REVOKE agentphone_caller FROM mover');
ok(wait_until(sub { recorded('b', 'mover') eq '-' }, 75), "b's worker forgets the grant of a role no longer a member");
sql('GRANT agentphone_caller TO mover', db => 'a');
like(sql_error("SELECT agentphone_call('agt_1', '+14155557014')", db => 'b', as => 'mover'),
	qr/role "mover" does not hold agentphone_caller in database "b"/,
	'granted again in a, it holds nothing in b');

# a grant to a team counts for its members, in that database only
sql('CREATE ROLE team NOLOGIN');
sql('GRANT agentphone_caller TO team', db => 'a');
sql('GRANT team TO alice');
like(sql("SELECT agentphone_call('agt_1', '+14155557010')", db => 'a', as => 'alice'), qr/^\d+$/,
	'a member of a team granted agentphone_caller in a queues calls in a');
like(sql_error("SELECT agentphone_call('agt_1', '+14155557011')", db => 'b', as => 'alice'),
	qr/role "alice" does not hold agentphone_caller in database "b"/, 'but not in b');

# a pooler that logs in as one role and switches with SET ROLE
sql('GRANT app_a, app_b TO pooler');
like(sql_error("SET ROLE app_a; SELECT agentphone_call('agt_1', '+14155557012')", db => 'b', as => 'pooler'),
	qr/role "app_a" does not hold agentphone_caller in database "b"/,
	'behind a pooler, SET ROLE app_a in b is refused as app_a');
like(sql("SET ROLE app_b; SELECT agentphone_call('agt_1', '+14155557012')", db => 'b', as => 'pooler'), qr/^\d+$/,
	'and SET ROLE app_b is app_b');
is(sql("SET ROLE app_a; SELECT count(*) FROM agentphone.calls", db => 'b', as => 'pooler'), 0,
	'app_a reads none of b\'s calls through the pooler');

# a restored database keeps its grants (roles by name)
sql('CREATE DATABASE c');
my ($out, $err) = run_command([ 'sh', '-c', 'pg_dump "$0" | psql -X -q -v ON_ERROR_STOP=1 "$1"',
	$node->connstr('a'), $node->connstr('c') ]);
is(recorded('c', 'app_a') . ' ' . recorded('c', 'adm_a'), 'caller admin', 'pg_dump of a, restored as c, keeps its grants');
like(sql("SELECT agentphone_call('agt_1', '+14155557013')", db => 'c', as => 'app_a'), qr/^\d+$/,
	'and app_a queues calls in c');

done_testing();
