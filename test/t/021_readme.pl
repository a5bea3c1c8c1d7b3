# 021_readme.pl: every sql block of README.md runs, exactly as written and
# in the README's order, in a fresh database, as a new user following it
# would run it: as the application role app where the paragraph before
# the block says "as app", otherwise as the superuser (issue 10).  A block
# that fails fails the test, which names the block's first line; then the
# calls the examples queued are placed.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;

start_sim();
my $node = new_node('readme', "agentphone.poll_interval = '300ms'\n", no_extension => 1);

# the sql blocks, each with whether the paragraph before it says "as app"
my (@blocks, @paragraph, $block, $blank);
for my $line (split /\n/, slurp_file('README.md'))
{
	if (defined $block)
	{
		if ($line =~ /^```\s*$/)
		{
			push @blocks, $block;
			undef $block;
		}
		else
		{
			$block->{sql} .= "$line\n";
		}
	}
	elsif ($line =~ /^```sql\s*$/)
	{
		$block = { sql => '', as_app => (join(' ', @paragraph) =~ /\bas app\b/i ? 1 : 0) };
	}
	elsif ($line =~ /^\s*$/)
	{
		$blank = 1;
	}
	else
	{
		@paragraph = () if $blank;	# a new paragraph
		$blank = 0;
		push @paragraph, $line;
	}
}
cmp_ok(scalar(@blocks), '>=', 11, 'the README has its sql blocks (' . scalar(@blocks) . ')');
cmp_ok(scalar(grep { $_->{as_app} } @blocks), '>=', 8, 'most of them run as the application role');

my $n = 0;
for my $b (@blocks)
{
	$n++;
	my $role = $b->{as_app} ? 'app' : 'postgres';
	my ($first) = $b->{sql} =~ /^(?!\s*--)(.+)$/m;
	my ($rc, $out, $err) = $node->psql('postgres', $b->{sql}, on_error_stop => 1,
		extra_params => [ '-U', $role ]);
	ok($rc == 0 && $err !~ /ERROR/, "README block $n, as $role: $first")
	  or diag($err);
}

# what the examples queued is placed
ok(wait_until(sub { $node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE status IN ('queued', 'dispatching')) = 0 AND count(*) >= 4 FROM agentphone.calls") eq 't' }, 30),
	'the calls the examples queued are placed');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT created_by::text, ',') FROM agentphone.calls}), 'app',
	'all of them by app');

done_testing();
