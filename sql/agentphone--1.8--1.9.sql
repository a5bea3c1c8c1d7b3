-- agentphone 1.8 -> 1.9: the call's state machine has one home; the API's
-- statuses have their own column (issue 23, item 3).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.9'" to load this file. \quit

-- Every name in this script is schema-qualified, or resolves only to
-- pg_catalog by an exact signature (see agentphone--1.6--1.7.sql).

-- Until 1.9 calls.status held agentphone's states and, once a call was
-- placed, the API's statuses as they came.  An API status equal to one of
-- agentphone's (a placed call the API reported "reconciling") sent the
-- call back through reconciliation and, with agentphone.on_unknown =
-- redial, to a second POST.  Now the worker stores the API's word in
-- api_status and one of agentphone's states in status (src/callstatus.c
-- maps them), and the table refuses anything else.
ALTER TABLE agentphone.calls ADD COLUMN api_status text;
COMMENT ON COLUMN agentphone.calls.api_status IS
	'the call''s status as the API last reported it, word for word (NULL: not placed, or last reported before 1.9); status holds agentphone''s state for it';

-- Rows that hold an API word outside agentphone's states, or an ended call
-- in a state that would dial it again, get the state the worker gives such
-- a word now (in-progress while the call has no end, failed once it has),
-- the word kept in api_status.
UPDATE agentphone.calls c
   SET api_status = c.status,
	   status = CASE
		   WHEN c.status OPERATOR(pg_catalog.=) ANY (ARRAY['in_progress', 'ringing']) THEN 'in-progress'
		   WHEN c.ended_at IS NOT NULL OR c.transcript_complete
			 OR c.status OPERATOR(pg_catalog.=) 'cancelled' THEN 'failed'
		   ELSE 'in-progress' END,
	   last_error = pg_catalog.format('the API reported status %s for this call; stored as agentphone''s state for it by the update to 1.9',
									  pg_catalog.quote_literal(c.status)),
	   updated_at = pg_catalog.now()
 WHERE c.status OPERATOR(pg_catalog.<>) ALL (ARRAY['queued', 'dispatching', 'reconciling', 'in-progress',
	   'ending', 'completed', 'failed', 'busy', 'no-answer', 'canceled', 'blocked', 'error', 'unknown'])
	OR (c.status OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'dispatching', 'reconciling'])
		AND (c.ended_at IS NOT NULL OR c.transcript_complete));

-- agentphone's states, the only words status takes (src/calls.h names the
-- same; README "Statuses" says what each means).
ALTER TABLE agentphone.calls ADD CONSTRAINT calls_status_check
	CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'dispatching', 'reconciling', 'in-progress',
		'ending', 'completed', 'failed', 'busy', 'no-answer', 'canceled', 'blocked', 'error', 'unknown']));
-- A call that has ended is never queued, sent or reconciled again.
ALTER TABLE agentphone.calls ADD CONSTRAINT calls_ended_stays_ended
	CHECK (status OPERATOR(pg_catalog.<>) ALL (ARRAY['queued', 'dispatching', 'reconciling'])
		   OR (ended_at IS NULL AND NOT transcript_complete));
COMMENT ON CONSTRAINT calls_status_check ON agentphone.calls IS
	'status takes only agentphone''s states; the API''s word is in api_status';
COMMENT ON CONSTRAINT calls_ended_stays_ended ON agentphone.calls IS
	'a call with an end time or a stored transcript is never queued, dispatched or reconciled again';
COMMENT ON COLUMN agentphone.calls.status IS
	'agentphone''s state of the call (calls_status_check lists them): queued, dispatching, reconciling, in-progress, ending, completed, failed, busy, no-answer, canceled, blocked, error or unknown';
