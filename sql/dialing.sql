-- dialing: the responsible-dialing rules checked when a call is queued.
-- Emergency, service and premium numbers are refused, as are numbers on
-- the do-not-call list and a fourth call to one number in a day; nothing
-- is queued by a refused call.  (Rules that change after queueing, the
-- calling window and the per-role quotas are in test/t/014_dialing.pl.)
CREATE EXTENSION agentphone;
\set VERBOSITY default

-- emergency and short service numbers, with or without "+"
SELECT agentphone_call('agt_1', '911');
SELECT agentphone_call('agt_1', '+911');
SELECT agentphone_call('agt_1', '+112');
SELECT agentphone_call('agt_1', '+999');
SELECT agentphone_call('agt_1', '+1911');
-- N11 codes and premium ranges under +1, UK premium rate
SELECT agentphone_call('agt_1', '+19115551234');
SELECT agentphone_call('agt_1', '+14115550100');
SELECT agentphone_call('agt_1', '+19005550100');
SELECT agentphone_call('agt_1', '+449098790000');
-- an ordinary Indian number starting +91 1 is not mistaken for 911
BEGIN;
SELECT agentphone_call('agt_1', '+911123456789') > 0 AS queued;
ROLLBACK;

-- the do-not-call list
SELECT agentphone_do_not_call('+14155550900', 'asked not to be called');
SELECT agentphone_do_not_call('+14155550900');	-- listed already
SELECT agentphone_do_not_call('555-0100');
SELECT agentphone_call('agt_1', '+14155550900');
SELECT number, reason, added_by = session_user AS by_me FROM agentphone.do_not_call;
SELECT agentphone_allow_calls('+14155550900');
SELECT agentphone_allow_calls('+14155550900');	-- not listed any more
BEGIN;
SELECT agentphone_call('agt_1', '+14155550900') > 0 AS queued;
ROLLBACK;

-- at most agentphone.max_calls_per_number_per_day (3) calls to a number
BEGIN;
SELECT agentphone_call('agt_1', '+14155550901') > 0 AS queued FROM generate_series(1, 3);
SELECT agentphone_call('agt_1', '+14155550901');
ROLLBACK;
-- canceled calls do not count
BEGIN;
SELECT agentphone_cancel(agentphone_call('agt_1', '+14155550902')) FROM generate_series(1, 4);
SELECT agentphone_call('agt_1', '+14155550902') > 0 AS queued;
ROLLBACK;

-- the callee's time zone must exist; not_before is kept
SELECT agentphone_call('agt_1', '+14155550903', timezone => 'Mars/Olympus_Mons');
BEGIN;
SELECT agentphone_call('agt_1', '+14155550903', timezone => 'America/New_York',
	not_before => now() + interval '1 hour') AS id \gset
SELECT timezone, not_before = now() + interval '1 hour' AS kept,
	next_attempt_at = not_before AS waits FROM agentphone.calls WHERE id = :id;
ROLLBACK;

-- nothing was queued by any refused call
SELECT count(*) AS calls FROM agentphone.calls;
DROP EXTENSION agentphone;
