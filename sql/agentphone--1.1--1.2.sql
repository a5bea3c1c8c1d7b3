-- agentphone 1.1 -> 1.2: the cost of queueing a call, cut (issue 9).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.2'" to load this file. \quit

-- agentphone_dial_trigger(agent_id, number_column [, variables [, id_column]])
-- in C (src/trigger.c): the same arguments, the same errors and the same
-- calls queued, without a PL/pgSQL function and a call of agentphone_call()
-- per row.  CREATE OR REPLACE keeps its owner, grants and comment.
CREATE OR REPLACE FUNCTION agentphone_dial_trigger() RETURNS trigger
LANGUAGE C SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_dial_trigger';

-- The WAL of a call's life (issue 9, measured with pg_waldump --stats):
-- an API call id is unique where there is one; a queued call, which has
-- none, no longer costs an entry in that index at its insert and at its
-- claim.
CREATE UNIQUE INDEX calls_api_call_id_idx ON agentphone.calls (api_call_id)
	WHERE api_call_id IS NOT NULL;
ALTER TABLE agentphone.calls DROP CONSTRAINT calls_api_call_id_key;

-- agentphone.claim_calls() in PL/pgSQL: the same query, but planned once
-- per session instead of at every claim (a SQL function with a SET clause
-- is planned at each call: 6% of the worker's CPU in a profile).
CREATE OR REPLACE FUNCTION agentphone.claim_calls(max_calls integer)
RETURNS SETOF agentphone.calls
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- looked up once per claim, not parsed again for every claimed row
	call_fn oid := '@extschema@.agentphone_call(text,text,jsonb,text,text,text,text,jsonb,text,timestamptz)'::regprocedure;
BEGIN
	RETURN QUERY
	WITH due AS (
		SELECT q.id FROM agentphone.calls q
		 WHERE q.status = 'queued' AND q.next_attempt_at <= now()
		 ORDER BY q.next_attempt_at, q.id
		 LIMIT max_calls
		 FOR UPDATE SKIP LOCKED),
	checks AS (
		SELECT c.id, c.to_number, c.next_attempt_at AS due_at,
			   NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = c.created_by)
				 OR NOT has_function_privilege(c.created_by, call_fn, 'EXECUTE') AS revoked,
			   (SELECT r.reason FROM agentphone.dial_refusal(c.to_number, c.created_by, c.id, false) r) AS refusal,
			   agentphone.window_opens(now(), c.timezone, c.to_number) AS opens
		  FROM due JOIN agentphone.calls c ON c.id = due.id),
	dialable AS (
		SELECT k.id, k.to_number,
			   row_number() OVER (PARTITION BY k.to_number ORDER BY k.due_at, k.id) AS nth
		  FROM checks k
		 WHERE NOT k.revoked AND k.refusal IS NULL AND k.opens <= now()),
	capped AS MATERIALIZED (	-- counted once per call, not once per join probe
		SELECT d.id, d.nth,
			   (SELECT count(*) FROM agentphone.calls o
				 WHERE o.to_number = d.to_number
				   AND o.dispatched_at > now() - interval '1 day'
				   AND NOT EXISTS (SELECT FROM due WHERE due.id = o.id)) AS dialed,
			   coalesce(nullif(current_setting('agentphone.max_calls_per_number_per_day', true), ''), '0')::integer AS cap
		  FROM dialable d),
	verdict AS (
		SELECT k.id, k.opens,
			   CASE WHEN k.revoked THEN 'canceled'
					WHEN k.refusal IS NOT NULL OR k.opens IS NULL THEN 'blocked'
					WHEN k.opens > now() THEN 'queued'
					WHEN p.cap > 0 AND p.dialed + p.nth > p.cap THEN 'blocked'
					ELSE 'dispatching' END AS status,
			   CASE WHEN k.refusal IS NOT NULL THEN k.refusal
					WHEN k.opens IS NULL THEN format('the calling window (agentphone.call_window, agentphone.call_days) is never open in all time zones of %s at once', k.to_number)
					WHEN p.cap > 0 AND p.dialed + p.nth > p.cap
					THEN format('%s was dialed %s times in the last 24 hours (agentphone.max_calls_per_number_per_day = %s)', k.to_number, greatest(p.dialed, p.cap), p.cap)
			   END AS refusal
		  FROM checks k LEFT JOIN capped p ON p.id = k.id),
	claimed AS (
		UPDATE agentphone.calls c
		   SET status = v.status,
			   attempts = c.attempts + (v.status = 'dispatching')::integer,
			   dispatched_at = CASE WHEN v.status = 'dispatching' THEN now() ELSE c.dispatched_at END,
			   next_attempt_at = CASE v.status WHEN 'dispatching' THEN c.next_attempt_at
											   WHEN 'queued' THEN v.opens END,
			   last_error = CASE v.status
				   WHEN 'canceled' THEN format('not dialed: role %s may no longer place calls (EXECUTE on agentphone_call was revoked)', c.created_by)
				   WHEN 'blocked' THEN 'not dialed: ' || v.refusal
				   WHEN 'queued' THEN format('waiting for the calling window to open at %s', v.opens)
				   ELSE c.last_error END,
			   updated_at = now()
		  FROM verdict v
		 WHERE c.id = v.id
		RETURNING c.*)
	SELECT * FROM claimed;
END $$;

-- A call's end and the mark transcript_complete are now stored by one
-- UPDATE (src/poll.c), which fires both triggers; a trigger's name orders
-- it, so the status is announced before the transcript, as before.
ALTER TRIGGER calls_transcript ON agentphone.calls RENAME TO calls_transition_transcript;

-- The triggers that record and announce each transition, in C
-- (src/events.c): the same rows and the same payloads, without a PL/pgSQL
-- call per transition (15% of the worker's CPU in a profile).
CREATE OR REPLACE FUNCTION agentphone.record_transition() RETURNS trigger
LANGUAGE C SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_record_transition';
CREATE OR REPLACE FUNCTION agentphone.announce_transcript() RETURNS trigger
LANGUAGE C SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_announce_transcript';
