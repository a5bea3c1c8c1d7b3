# 039_exports.pl: the installed agentphone.so exports only what PostgreSQL
# looks up in it.  PostgreSQL loads a module with RTLD_GLOBAL, so every
# symbol it exports can bind to, or be bound by, another library's symbol
# of the same name: until 1.9 it exported 300, among them http_init,
# poll_start, request_new and run_in_transaction.  The expected set is
# read from the sources (PG_FUNCTION_INFO_V1 in src/*.c, the symbols the
# SQL scripts name, the background workers' entry points), so a new
# function is covered by this test without editing it.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;

my ($pkglibdir) = run_command([ 'pg_config', '--pkglibdir' ]);
chomp $pkglibdir;
my $so = "$pkglibdir/agentphone.so";
ok(-f $so, "the installed library: $so");
my ($nm, $err) = run_command([ 'nm', '-D', '--defined-only', $so ]);
my @exported = sort map { (split ' ')[2] } grep { /\S/ } split /\n/, $nm;

my %sql_functions;
for my $file (glob('src/*.c'))
{
	$sql_functions{$_} = 1 for slurp_file($file) =~ /^PG_FUNCTION_INFO_V1\((\w+)\);$/mg;
}
my %named_by_sql;
for my $file (glob('sql/*.sql'))
{
	$named_by_sql{$_} = 1 for slurp_file($file) =~ /AS\s+'MODULE_PATHNAME',\s*'(\w+)'/g;
}
my %workers;
for my $file (glob('src/*.c'))
{
	$workers{$_} = 1 for slurp_file($file) =~ /bgw_function_name, "(\w+)"/g;
}
cmp_ok(scalar(keys %sql_functions), '>=', 30, scalar(keys %sql_functions) . ' SQL functions in the sources');
is(join(' ', sort keys %workers), 'agentphone_launcher_main agentphone_worker_main', 'two background workers');

my @expected = sort(('Pg_magic_func', '_PG_init', keys %workers,
	map { ($_, "pg_finfo_$_") } keys %sql_functions));
is_deeply(\@exported, \@expected, 'the library exports exactly the SQL functions, their records, _PG_init,'
	  . ' Pg_magic_func and the workers\' entry points')
  or diag('exported, not expected: ' . join(' ', grep { my $e = $_; !grep { $_ eq $e } @expected } @exported)
	  . "\nexpected, not exported: " . join(' ', grep { my $e = $_; !grep { $_ eq $e } @exported } @expected));
is(join(' ', grep { !$sql_functions{$_} } sort keys %named_by_sql), '',
	'every symbol an install or upgrade script names is one of them');
is(join(' ', grep { !/^(agentphone_\w+|pg_finfo_agentphone_\w+|Pg_magic_func|_PG_init)$/ } @exported), '',
	'every exported name but PostgreSQL\'s own starts with agentphone_');

# and the library still works: every SQL function resolves
start_sim();
my $node = new_node('exports', $QUICK);
my @resolved = split /\n/, sql(q{SELECT DISTINCT p.prosrc FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	WHERE l.lanname = 'c' AND p.probin LIKE '%agentphone' ORDER BY 1});
cmp_ok(scalar(@resolved), '>=', 30, 'CREATE EXTENSION resolved ' . scalar(@resolved) . ' C functions');
is(join(' ', grep { !$sql_functions{$_} } @resolved), '', 'each one an exported SQL function');
my $id = sql(call_query('+14155558901'));
ok(wait_until(sub { posts_to('+14155558901') == 1 }, 20), 'and the worker places a call');

done_testing();
