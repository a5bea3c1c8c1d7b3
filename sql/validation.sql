-- validation: every bad argument of agentphone_call() is refused with
-- errcode 22023 (invalid_parameter_value), a detail and a hint, and
-- queues nothing.
CREATE EXTENSION agentphone;
\set VERBOSITY default

-- sqlstate_of(q) runs q and returns the SQLSTATE it raised
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;

-- agent_id
SELECT agentphone_call(NULL, '+14155550100');
SELECT agentphone_call('', '+14155550100');
SELECT agentphone_call(repeat('a', 129), '+14155550100');

-- to_number: not E.164
SELECT agentphone_call('agt_1', NULL);
SELECT agentphone_call('agt_1', '');
SELECT agentphone_call('agt_1', '4155550100');
SELECT agentphone_call('agt_1', '+04155550100');
SELECT agentphone_call('agt_1', '+1 415 555 0100');
SELECT agentphone_call('agt_1', '+1-415-555-0100');
SELECT agentphone_call('agt_1', '+1');
SELECT agentphone_call('agt_1', '+1234567890123456');
SELECT agentphone_call('agt_1', '+1415555010é');

-- variables
SELECT agentphone_call('agt_1', '+14155550100', '[1, 2]');
SELECT agentphone_call('agt_1', '+14155550100', '"Ada"');
SELECT agentphone_call('agt_1', '+14155550100', '{"name": {"first": "Ada"}}');
SELECT agentphone_call('agt_1', '+14155550100', '{"tags": ["a", "b"]}');
SELECT agentphone_call('agt_1', '+14155550100', '{"": "x"}');
SELECT agentphone_call('agt_1', '+14155550100', jsonb_build_object('note', repeat('x', 5001)));
SELECT agentphone_call('agt_1', '+14155550100',
	(SELECT jsonb_object_agg('v' || i, i) FROM generate_series(1, 101) i));

-- other text arguments: empty is refused (NULL leaves them out), except
-- for initial_greeting, where '' tells the agent to wait silently
SELECT agentphone_call('agt_1', '+14155550100', from_number_id => '');
SELECT agentphone_call('agt_1', '+14155550100', voice => '');
SELECT agentphone_call('agt_1', '+14155550100', system_prompt => '');
SELECT agentphone_call('agt_1', '+14155550100', from_number_id => repeat('n', 129));
SELECT agentphone_call('agt_1', '+14155550100', initial_greeting => repeat('g', 2001));
SELECT agentphone_call('agt_1', '+14155550100', voice => repeat('v', 129));
SELECT agentphone_call('agt_1', '+14155550100', system_prompt => repeat('p', 50001));

-- options
SELECT agentphone_call('agt_1', '+14155550100', options => '[]');
SELECT agentphone_call('agt_1', '+14155550100', options => '{"waitForCompletion": true}');
SELECT agentphone_call('agt_1', '+14155550100', options => '{"bogus": null}');
SELECT agentphone_call('agt_1', '+14155550100', options => '{"modelTier": "fast"}');
SELECT agentphone_call('agt_1', '+14155550100', options => '{"modelTier": 1}');
SELECT agentphone_call('agt_1', '+14155550100', options => '{"disableRecording": "yes"}');
SELECT agentphone_call('agt_1', '+14155550100',
	options => jsonb_build_object('callScreeningIdentity', repeat('i', 101)));
SELECT agentphone_call('agt_1', '+14155550100',
	options => jsonb_build_object('callScreeningPurpose', repeat('p', 301)));

-- each of them is invalid_parameter_value
SELECT q, pg_temp.sqlstate_of(q) FROM (VALUES
	($$SELECT agentphone_call(NULL, '+14155550100')$$),
	($$SELECT agentphone_call('', '+14155550100')$$),
	($$SELECT agentphone_call(repeat('a', 129), '+14155550100')$$),
	($$SELECT agentphone_call('agt_1', NULL)$$),
	($$SELECT agentphone_call('agt_1', '4155550100')$$),
	($$SELECT agentphone_call('agt_1', '+04155550100')$$),
	($$SELECT agentphone_call('agt_1', '+1 415 555 0100')$$),
	($$SELECT agentphone_call('agt_1', '+1')$$),
	($$SELECT agentphone_call('agt_1', '+1234567890123456')$$),
	($$SELECT agentphone_call('agt_1', '+14155550100', '[1]')$$),
	($$SELECT agentphone_call('agt_1', '+14155550100', '{"a": {"b": 1}}')$$),
	($$SELECT agentphone_call('agt_1', '+14155550100', '{"a": [1]}')$$),
	($$SELECT agentphone_call('agt_1', '+14155550100', initial_greeting => repeat('g', 2001))$$),
	($$SELECT agentphone_call('agt_1', '+14155550100', options => '{"bogus": 1}')$$),
	($$SELECT agentphone_call('agt_1', '+14155550100', options => '{"disableRecording": 1}')$$)
) AS t(q);

-- subAccountId is sent as a header: nothing that could end it or start another
SELECT agentphone_call('agt_1', '+14155550100', options => jsonb_build_object('subAccountId', E'sub_1\r\nX-Evil: 1'));
SELECT agentphone_call('agt_1', '+14155550100', options => '{"subAccountId": 42}');
SELECT agentphone_call('agt_1', '+14155550100', options => jsonb_build_object('subAccountId', repeat('s', 129)));
SET agentphone.sub_account_id = 'sub 1';

-- nothing was queued by any of the above
SELECT count(*) AS calls FROM agentphone.calls;

-- the shortest and longest valid numbers, and the limits themselves, pass;
-- numbers and booleans in variables become text, null stays null
BEGIN;
-- (an agent id of 128 characters is no agent of the simulator's: forget, in
-- this transaction, that the worker fetched the account's agents, which it
-- may have done by now, so that the agent is not checked)
DELETE FROM agentphone.agent_sync;
SELECT agentphone_call('agt_1', '+6834002') > 0 AS queued;
SELECT agentphone_call('agt_1', '+49301234567890', initial_greeting => '') > 0 AS queued;
SELECT agentphone_call(repeat('a', 128), '+14155550100',
	jsonb_build_object('name', 'Ada', 'age', 36, 'vip', true, 'note', NULL, 'big', repeat('x', 5000)),
	initial_greeting => repeat('g', 2000),
	options => jsonb_build_object('modelTier', 'max', 'disableRecording', false,
		'callScreeningIdentity', repeat('i', 100), 'callScreeningPurpose', NULL)) > 0 AS queued;
SELECT to_number, initial_greeting = '' AS silent, variables - 'big' AS variables, length(variables->>'big') AS big, options - 'callScreeningIdentity' AS options
FROM agentphone.calls ORDER BY id;
ROLLBACK;

-- the database's sub-account (agentphone.sub_account_id) goes with each
-- call that names none; a call's own subAccountId, or null, wins
BEGIN;
SET LOCAL agentphone.sub_account_id = 'sub_db.1:a-b';
SELECT agentphone_call('agt_1', '+14155550101') > 0 AS queued;
SELECT agentphone_call('agt_1', '+14155550102', options => '{"subAccountId": "sub_own"}') > 0 AS queued;
SELECT agentphone_call('agt_1', '+14155550103', options => '{"subAccountId": null, "modelTier": "max"}') > 0 AS queued;
SELECT to_number, options FROM agentphone.calls ORDER BY id;
ROLLBACK;

SELECT count(*) AS calls FROM agentphone.calls;
DROP EXTENSION agentphone;
