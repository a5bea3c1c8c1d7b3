-- agentphone 1.2 -> 1.3: the first hour of a new user (issue 10).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.3'" to load this file. \quit

-- A call waiting for its calling window follows the window in force: the
-- worker releases such calls when agentphone.call_window, call_days or
-- default_timezone change, and the claim holds them again by the new
-- rules.  held_by_window marks them (at queue time and at the claim);
-- the partial index holds only them, so the release reads nothing else.
ALTER TABLE agentphone.calls ADD COLUMN held_by_window boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN agentphone.calls.held_by_window IS
	'queued, and waiting for the calling window to open (last_error says when)';
-- held in 1.2 by a claim (last_error says so) or at queue time (due later
-- than both its queueing and its not_before)
UPDATE agentphone.calls
   SET held_by_window = true
 WHERE status = 'queued'
   AND (starts_with(last_error, 'waiting for the calling window')
		OR (attempts = 0 AND next_attempt_at > greatest(created_at, not_before)));
CREATE INDEX calls_window_idx ON agentphone.calls (id)
	WHERE status = 'queued' AND held_by_window;

-- The claim marks the calls it holds for their window.
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
			   held_by_window = v.status = 'queued',
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

-- agentphone_wait(id, timeout, until): wait until the call is 'placed' (as
-- the two-argument form does), has 'ended', or has its 'transcript' stored.
CREATE FUNCTION agentphone_wait(id bigint, timeout interval, until text) RETURNS text
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_wait';
REVOKE ALL ON FUNCTION agentphone_wait(bigint, interval, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_wait(bigint, interval, text) TO agentphone_caller;
COMMENT ON FUNCTION agentphone_wait(bigint, interval, text) IS
'wait until the call is placed, has ended, or has its transcript stored (until => ''placed'', ''ended'' or ''transcript''), or the timeout passes, and return its status';

-- agentphone_stream_transcript returns each turn as it arrives, then a
-- closing row whose event says why the stream stopped: 'ended' (the call
-- ended), 'timeout', or 'closed' (the server closed the stream).
DROP FUNCTION agentphone_stream_transcript(text, interval);
CREATE FUNCTION agentphone_stream_transcript(call_id text, timeout interval DEFAULT '60 seconds')
RETURNS TABLE (seq integer, role text, content text, created_at timestamptz, event text)
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_stream_transcript';
REVOKE ALL ON FUNCTION agentphone_stream_transcript(text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_stream_transcript(text, interval) TO agentphone_caller;

-- agentphone_retry(id): a call of one's own that ended in error (a batch
-- refused by a misconfigured account, say) or unknown, queued again with
-- every dialing rule checked as for a new call; returns when it is due.
CREATE FUNCTION agentphone_retry(id bigint) RETURNS timestamptz
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_retry';
REVOKE ALL ON FUNCTION agentphone_retry(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_retry(bigint) TO agentphone_caller;
COMMENT ON FUNCTION agentphone_retry(bigint) IS
'queue a call that ended in error or unknown again, with the dialing rules checked again; returns when it is due';

-- The account's agents and their numbers, as the API lists them (GET
-- /v1/agents), refreshed by the worker every agentphone.agent_refresh_interval
-- and on demand by agentphone_refresh_agents().  Once the list has been
-- fetched (agent_sync has its row), agentphone_call() refuses an unknown
-- agent_id, or a from_number_id that is not the agent's, at queue time.
-- A copy of the API's data: not dumped, fetched again.
CREATE TABLE agentphone.agents (
	id					text PRIMARY KEY,
	name				text,
	description			text,
	voice_mode			text,
	created_at			timestamptz,
	fetched_at			timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE agentphone.agent_numbers (
	agent_id			text NOT NULL REFERENCES agentphone.agents (id) ON DELETE CASCADE,
	number_id			text NOT NULL,
	phone_number		text,
	status				text,
	PRIMARY KEY (agent_id, number_id)
);
CREATE TABLE agentphone.agent_sync (
	one					boolean PRIMARY KEY DEFAULT true CHECK (one),
	fetched_at			timestamptz NOT NULL,
	agents				integer NOT NULL
);
COMMENT ON TABLE agentphone.agent_sync IS
	'one row once the list of agents has been fetched: when, and how many';
REVOKE ALL ON agentphone.agents, agentphone.agent_numbers, agentphone.agent_sync FROM PUBLIC;
GRANT SELECT ON agentphone.agents, agentphone.agent_numbers, agentphone.agent_sync TO agentphone_caller;

-- Reports can show the agent's name (a column added at the end).
CREATE OR REPLACE VIEW agentphone.call_report WITH (security_invoker = true) AS
SELECT c.id, c.api_call_id, c.created_at, c.created_by, c.agent_id, c.to_number,
	c.status, c.started_at, c.ended_at, c.duration_seconds, c.recording_url,
	c.transcript_complete,
	(SELECT pg_catalog.string_agg(t.role || ': ' || t.content, E'\n' ORDER BY t.seq)
	 FROM agentphone.transcripts t WHERE t.call_id = c.id) AS transcript,
	(SELECT a.name FROM agentphone.agents a WHERE a.id = c.agent_id) AS agent_name
FROM agentphone.calls c;

CREATE FUNCTION agentphone_refresh_agents() RETURNS integer
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_refresh_agents';
REVOKE ALL ON FUNCTION agentphone_refresh_agents() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_refresh_agents() TO agentphone_admin;
COMMENT ON FUNCTION agentphone_refresh_agents() IS
'fetch the account''s agents and their numbers from the API now; returns how many agents';
