-- agentphone 1.9 -> 1.10: one text for a call the calling window holds,
-- and a comment on every function, table, view, column and sequence
-- (issue 24).  From 1.10 a new install runs agentphone--1.10.sql, the
-- whole current schema in one script, instead of 1.0 and every upgrade.
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.10'" to load this file. \quit

-- Every name in this script is schema-qualified, or resolves only to
-- pg_catalog by an exact signature (see agentphone--1.6--1.7.sql).

-- What last_error says of a call the calling window holds, written by
-- agentphone_call() and by the claim alike: until 1.9 the claim wrote its
-- own copy of the words (src/window.c keeps them now, in one place).
CREATE FUNCTION agentphone.window_wait_text(opens pg_catalog.timestamptz) RETURNS pg_catalog.text
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_window_wait_text';
REVOKE ALL ON FUNCTION agentphone.window_wait_text(pg_catalog.timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION agentphone.window_wait_text(pg_catalog.timestamptz) IS
'internal: the last_error of a call the calling window holds until opens';

-- The claim, as in 1.8, but for the text of a call the window holds.
CREATE OR REPLACE FUNCTION agentphone.claim_calls(max_calls integer)
RETURNS SETOF agentphone.calls
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- looked up once per claim, not parsed again for every claimed row
	call_fn oid := '@extschema@.agentphone_call(text,text,jsonb,text,text,text,text,jsonb,text,timestamptz)'::regprocedure;
	here text := agentphone.home();
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
			   c.home IS NOT NULL AND c.home OPERATOR(pg_catalog.<>) here AS copied,
			   NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = c.created_by) AS dropped,
			   NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = c.created_by)
				 OR NOT has_function_privilege(c.created_by::oid, call_fn, 'EXECUTE') AS revoked,
			   NOT agentphone.role_granted_here(c.created_by, 'agentphone_caller') AS ungranted,
			   (SELECT r.reason FROM agentphone.dial_refusal(c.to_number, c.created_by, c.id, false) r) AS refusal,
			   agentphone.window_opens(now(), c.timezone, c.to_number) AS opens
		  FROM due JOIN agentphone.calls c ON c.id = due.id),
	dialable AS (
		SELECT k.id, k.to_number,
			   row_number() OVER (PARTITION BY k.to_number ORDER BY k.due_at, k.id) AS nth
		  FROM checks k
		 WHERE NOT k.copied AND NOT k.revoked AND NOT k.ungranted AND k.refusal IS NULL AND k.opens <= now()),
	capped AS MATERIALIZED (	-- counted once per call, not once per join probe
		SELECT d.id, d.nth,
			   (SELECT count(*) FROM agentphone.calls o
				 WHERE o.to_number = d.to_number
				   AND o.dispatched_at > now() - interval '1 day'
				   AND NOT EXISTS (SELECT FROM due WHERE due.id = o.id)) AS dialed,
			   coalesce(nullif(current_setting('agentphone.max_calls_per_number_per_day', true), ''), '0')::integer AS cap
		  FROM dialable d),
	verdict AS (
		SELECT k.id, k.opens, k.dropped, k.copied,
			   k.ungranted AND NOT k.revoked AND NOT k.copied AS ungranted,
			   CASE WHEN k.copied THEN 'queued'
					WHEN k.revoked THEN 'canceled'
					WHEN k.ungranted THEN 'queued'
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
			   next_attempt_at = CASE WHEN v.status = 'dispatching' THEN c.next_attempt_at
									  WHEN v.copied THEN 'infinity'
									  WHEN v.ungranted THEN now() + interval '1 minute'
									  WHEN v.status = 'queued' THEN v.opens END,
			   held_by_window = v.status = 'queued' AND NOT v.ungranted AND NOT v.copied,
			   last_error = CASE v.status
				   WHEN 'canceled' THEN CASE WHEN v.dropped
					   THEN format('not dialed: the role that queued it (OID %s) no longer exists', c.created_by::oid)
					   ELSE format('not dialed: role %s may no longer place calls (EXECUTE on agentphone_call was revoked)', c.created_by) END
				   WHEN 'blocked' THEN 'not dialed: ' || v.refusal
				   WHEN 'queued' THEN CASE WHEN v.copied
					   THEN format('not dialed: queued in %s, and this is %s: this database is a copy or a restore of the one where the call was queued; an admin here runs agentphone_adopt_calls() to place such calls, or agentphone_cancel_copied_calls() to cancel them', coalesce(c.home, 'another database'), here)
					   WHEN v.ungranted
					   THEN format('waiting: role %s does not hold agentphone_caller in this database; GRANT agentphone_caller TO %s here places the call, agentphone_cancel(%s) cancels it', c.created_by, c.created_by, c.id)
					   ELSE agentphone.window_wait_text(v.opens) END
				   ELSE c.last_error END,
			   updated_at = now()
		  FROM verdict v
		 WHERE c.id = v.id
		RETURNING c.*)
	SELECT * FROM claimed;
END $$;


-- Every function, table, view, column and sequence explains itself in \df+
-- and \d+ (sql/comments.sql lists any that does not).
COMMENT ON FUNCTION agentphone.announce_transcript() IS
'internal: a trigger on agentphone.calls that announces a stored transcript on the call''s channels (NOTIFY)';
COMMENT ON FUNCTION agentphone.record_transition() IS
'internal: a trigger on agentphone.calls that records each change of status in agentphone.call_events and announces it (NOTIFY)';
COMMENT ON FUNCTION agentphone.destination_refusal(pg_catalog.text) IS
'internal: why number may not be dialed under the destination rules (number types, short numbers, blocked and allowed prefixes), or NULL';
COMMENT ON FUNCTION agentphone.is_e164(pg_catalog.text) IS
'whether number is in E.164 form ("+", a digit 1-9, at most 15 digits in all): agentphone_call()''s rule, used by the do-not-call list''s constraint';
COMMENT ON FUNCTION agentphone.is_sub_account_id(pg_catalog.text) IS
'whether id may be sent as a subAccountId (letters, digits, "-" and "_", at most 128): the constraint on options.subAccountId';
COMMENT ON FUNCTION agentphone.normalize_number(pg_catalog.text) IS
'number in the E.164 form agentphone_call() stores (a trunk zero dropped, say), or unchanged when libphonenumber does not read it as valid';
COMMENT ON FUNCTION agentphone.window_opens(pg_catalog.timestamptz, pg_catalog.text, pg_catalog.text) IS
'internal: the first moment at or after at when the calling window is open in every zone of the callee (tz, else the number''s country), or NULL for never';
COMMENT ON FUNCTION agentphone_call_recording(pg_catalog.text) IS
'the recording of a call, by its API id, fetched from the API now: one of your own calls (any, for agentphone_admin)';
COMMENT ON FUNCTION agentphone_call_transcript(pg_catalog.text) IS
'the transcript of a call, by its API id, fetched from the API now, turn by turn: one of your own calls (any, for agentphone_admin)';
COMMENT ON FUNCTION agentphone_end_call(pg_catalog.int8) IS
'ends a live call now (the API hangs up), by its agentphone id; returns the API''s answer';
COMMENT ON FUNCTION agentphone_get_call(pg_catalog.text) IS
'a call as the API has it now, by its API id: one of your own calls (any, for agentphone_admin)';
COMMENT ON FUNCTION agentphone_list_calls(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.int4) IS
'the account''s calls as the API lists them now, filtered by status, direction and a search text, at most max_rows (agentphone_admin)';
COMMENT ON FUNCTION agentphone_list_calls_for_number(pg_catalog.text, pg_catalog.int4) IS
'the calls of one of the account''s phone numbers, by its id, as the API lists them now, at most max_rows (agentphone_admin)';
COMMENT ON FUNCTION agentphone_stream_transcript(pg_catalog.text, pg_catalog.interval) IS
'the turns of a live call as they are spoken, from the API''s event stream, until the call ends or timeout passes';
COMMENT ON FUNCTION agentphone_web_call(pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb) IS
'starts a call in a web browser with agent_id (metadata and variables passed on) and returns the API''s answer, whose URL the browser opens';

COMMENT ON SEQUENCE agentphone.call_events_id_seq IS 'the ids of agentphone.call_events';
COMMENT ON SEQUENCE agentphone.calls_id_seq IS 'the ids of agentphone.calls';
COMMENT ON TABLE agentphone.agents IS
	'the account''s agents, as the API last listed them (agentphone_refresh_agents() or the worker, every agentphone.agent_refresh_interval)';
COMMENT ON TABLE agentphone.agent_numbers IS
	'the phone numbers of each agent, as the API last listed them: the from_number_id a call may name';

COMMENT ON COLUMN agentphone.calls.id IS 'the call''s id, which agentphone_call() returns';
COMMENT ON COLUMN agentphone.calls.created_at IS 'when the call was queued';
COMMENT ON COLUMN agentphone.calls.agent_id IS 'the AgentPhone agent that speaks';
COMMENT ON COLUMN agentphone.calls.to_number IS 'the number called, in E.164 form';
COMMENT ON COLUMN agentphone.calls.variables IS 'the agent''s template variables (a flat object of strings)';
COMMENT ON COLUMN agentphone.calls.from_number_id IS 'the account''s number the call comes from (NULL: the agent''s)';
COMMENT ON COLUMN agentphone.calls.initial_greeting IS 'what the agent says first (NULL: its own greeting)';
COMMENT ON COLUMN agentphone.calls.voice IS 'the voice the agent speaks with (NULL: its own)';
COMMENT ON COLUMN agentphone.calls.system_prompt IS 'the instructions of the API''s own model for this call (NULL: the agent''s)';
COMMENT ON COLUMN agentphone.calls.options IS 'further fields of the API''s call request (subAccountId, call screening, ...)';
COMMENT ON COLUMN agentphone.calls.timezone IS 'the callee''s time zone, for the calling window (NULL: every zone of the number''s country)';
COMMENT ON COLUMN agentphone.calls.not_before IS 'the call is not dialed before this time';
COMMENT ON COLUMN agentphone.calls.from_number IS 'the number the call came from, as the API reported it';
COMMENT ON COLUMN agentphone.calls.started_at IS 'when the call started, as the API reported it';
COMMENT ON COLUMN agentphone.calls.ended_at IS 'when the call ended, as the API reported it';
COMMENT ON COLUMN agentphone.calls.duration_seconds IS 'how long the call lasted, as the API reported it';
COMMENT ON COLUMN agentphone.calls.recording_available IS 'whether the API has a recording of the call';
COMMENT ON COLUMN agentphone.calls.recording_url IS 'where the API keeps the recording (agentphone_call_recording() fetches it)';
COMMENT ON COLUMN agentphone.calls.last_transcript_snippet IS 'the last words said, while the call is live';
COMMENT ON COLUMN agentphone.calls.transcript_complete IS 'true once the whole transcript is stored in agentphone.transcripts';
COMMENT ON COLUMN agentphone.calls.next_poll_at IS 'when the worker next asks the API about the call (NULL: as soon as it can)';
COMMENT ON COLUMN agentphone.calls.attempts IS 'how many times the call was sent to the API';
COMMENT ON COLUMN agentphone.calls.next_attempt_at IS 'when a queued call is due (infinity: held until an admin acts)';
COMMENT ON COLUMN agentphone.calls.dispatched_at IS 'when the call was last sent to the API';
COMMENT ON COLUMN agentphone.calls.updated_at IS 'when the row last changed';

COMMENT ON COLUMN agentphone.do_not_call.number IS 'the number never called, in E.164 form';
COMMENT ON COLUMN agentphone.do_not_call.reason IS 'why, as the role that listed it said (shown to that role only)';
COMMENT ON COLUMN agentphone.do_not_call.added_at IS 'when it was listed';

COMMENT ON COLUMN agentphone.transcripts.call_id IS 'the call (agentphone.calls.id)';
COMMENT ON COLUMN agentphone.transcripts.seq IS 'the turn''s place in the conversation, from 0';
COMMENT ON COLUMN agentphone.transcripts.role IS 'who spoke: agent or user (the callee)';
COMMENT ON COLUMN agentphone.transcripts.content IS 'what was said';
COMMENT ON COLUMN agentphone.transcripts.created_at IS 'when it was said, as the API reported it';
COMMENT ON COLUMN agentphone.transcripts.stored_at IS 'when agentphone stored the turn (the partitioning key)';

COMMENT ON COLUMN agentphone.call_events.id IS 'the event''s id, in the order events were recorded';
COMMENT ON COLUMN agentphone.call_events.call_id IS 'the call (agentphone.calls.id)';
COMMENT ON COLUMN agentphone.call_events.from_status IS 'the status before (NULL: the call was queued)';
COMMENT ON COLUMN agentphone.call_events.to_status IS 'the status after';
COMMENT ON COLUMN agentphone.call_events.at IS 'when it changed (the partitioning key)';
COMMENT ON COLUMN agentphone.call_events.detail IS 'why, when known (the call''s last_error then)';

COMMENT ON COLUMN agentphone.agents.id IS 'the agent''s id in the API';
COMMENT ON COLUMN agentphone.agents.name IS 'its name';
COMMENT ON COLUMN agentphone.agents.description IS 'its description';
COMMENT ON COLUMN agentphone.agents.voice_mode IS 'how it talks: the API''s own model, or a webhook';
COMMENT ON COLUMN agentphone.agents.created_at IS 'when it was created, as the API reported it';
COMMENT ON COLUMN agentphone.agents.fetched_at IS 'when agentphone last fetched it';
COMMENT ON COLUMN agentphone.agent_numbers.agent_id IS 'the agent (agentphone.agents.id)';
COMMENT ON COLUMN agentphone.agent_numbers.number_id IS 'the number''s id in the API, which from_number_id names';
COMMENT ON COLUMN agentphone.agent_numbers.phone_number IS 'the number, in E.164 form';
COMMENT ON COLUMN agentphone.agent_numbers.status IS 'the number''s status, as the API reported it';
COMMENT ON COLUMN agentphone.agent_sync.one IS 'true: the table has one row';
COMMENT ON COLUMN agentphone.agent_sync.fetched_at IS 'when the list of agents was last fetched whole';
COMMENT ON COLUMN agentphone.agent_sync.agents IS 'how many agents it held';

COMMENT ON COLUMN agentphone.call_report.id IS 'the call''s id';
COMMENT ON COLUMN agentphone.call_report.api_call_id IS 'its id in the API';
COMMENT ON COLUMN agentphone.call_report.created_at IS 'when it was queued';
COMMENT ON COLUMN agentphone.call_report.agent_id IS 'the agent that spoke';
COMMENT ON COLUMN agentphone.call_report.to_number IS 'the number called';
COMMENT ON COLUMN agentphone.call_report.status IS 'agentphone''s state of the call';
COMMENT ON COLUMN agentphone.call_report.started_at IS 'when it started';
COMMENT ON COLUMN agentphone.call_report.ended_at IS 'when it ended';
COMMENT ON COLUMN agentphone.call_report.duration_seconds IS 'how long it lasted';
COMMENT ON COLUMN agentphone.call_report.recording_url IS 'where the API keeps its recording';
COMMENT ON COLUMN agentphone.call_report.transcript_complete IS 'whether its whole transcript is stored';
COMMENT ON COLUMN agentphone.call_report.transcript IS 'the transcript as one text, a line per turn';
COMMENT ON COLUMN agentphone.call_report.agent_name IS 'the agent''s name, from agentphone.agents';

-- The default partitions' columns say what their parents' do.
DO $$
DECLARE
	c record;
BEGIN
	FOR c IN
		SELECT p.inhrelid::pg_catalog.regclass AS part, a.attname,
			   pg_catalog.col_description(p.inhparent, a.attnum) AS description
		  FROM pg_catalog.pg_inherits p
		  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) p.inhparent
		 WHERE p.inhrelid OPERATOR(pg_catalog.=) ANY (ARRAY['agentphone.transcripts_default',
				'agentphone.call_events_default']::pg_catalog.regclass[]::pg_catalog.oid[])
		   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	LOOP
		EXECUTE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', c.part, c.attname, c.description);
	END LOOP;
END $$;
