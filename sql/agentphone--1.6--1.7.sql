-- agentphone 1.6 -> 1.7: no escalation, no leak between tenants (issue 22).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.7'" to load this file. \quit

-- Every name in this script is schema-qualified, or resolves only to
-- pg_catalog by an exact signature: an extension script runs as a
-- superuser with search_path = public, pg_temp, where a database owner
-- may have planted functions and operators that match an unqualified
-- call better than pg_catalog's own (the CVE-2023-39417 class).

-- The full-text index of 1.0 called to_tsvector('english', content)
-- unqualified: a public.to_tsvector(text, text) planted before CREATE
-- EXTENSION was a better match for the unknown literal than
-- pg_catalog.to_tsvector(regconfig, text), and the worker ran it, as a
-- superuser, for every turn it stored.  Made again bound to pg_catalog.
DROP INDEX agentphone.transcripts_content_fts_idx;
CREATE INDEX transcripts_content_fts_idx ON agentphone.transcripts_default
	USING gin (pg_catalog.to_tsvector('english'::pg_catalog.regconfig, content));

-- No other expression stored on the extension's objects (index,
-- constraint, default, policy, view, trigger) may call a function or
-- operator, or name a type, that a role other than a superuser owns: an
-- install or upgrade that bound one fails here rather than run it later.  (src/tables.c checks the same
-- of every table the worker writes, the user's partitions included, at
-- every write.)
DO $$
DECLARE
	bad text;
BEGIN
	WITH members AS (
		SELECT d.classid, d.objid
		  FROM pg_catalog.pg_depend d
		 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
		   AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e
												   WHERE e.extname OPERATOR(pg_catalog.=) 'agentphone')
		   AND d.deptype OPERATOR(pg_catalog.=) 'e'),
	stored AS (		-- the members' own expressions, and those of their objects
		SELECT m.classid, m.objid FROM members m
		UNION
		SELECT d.classid, d.objid
		  FROM pg_catalog.pg_depend d JOIN members m
			ON d.refclassid OPERATOR(pg_catalog.=) m.classid AND d.refobjid OPERATOR(pg_catalog.=) m.objid
		 WHERE d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::"char"[])),
	foreign_refs AS (
		SELECT s.classid, s.objid, d.refclassid, d.refobjid
		  FROM stored s JOIN pg_catalog.pg_depend d
			ON d.classid OPERATOR(pg_catalog.=) s.classid AND d.objid OPERATOR(pg_catalog.=) s.objid
		 WHERE (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
				AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_proc p, pg_catalog.pg_roles r
						  WHERE p.oid OPERATOR(pg_catalog.=) d.refobjid AND r.oid OPERATOR(pg_catalog.=) p.proowner))
			OR (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass
				AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_operator o, pg_catalog.pg_roles r
						  WHERE o.oid OPERATOR(pg_catalog.=) d.refobjid AND r.oid OPERATOR(pg_catalog.=) o.oprowner))
			OR (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
				AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_type t, pg_catalog.pg_roles r
						  WHERE t.oid OPERATOR(pg_catalog.=) d.refobjid AND r.oid OPERATOR(pg_catalog.=) t.typowner)))
	SELECT pg_catalog.string_agg(pg_catalog.format('%s calls %s',
				pg_catalog.pg_describe_object(f.classid, f.objid, 0),
				pg_catalog.pg_describe_object(f.refclassid, f.refobjid, 0)), '; ')
	  INTO bad
	  FROM foreign_refs f
	 WHERE NOT EXISTS (SELECT FROM members m
					   WHERE m.classid OPERATOR(pg_catalog.=) f.refclassid
						 AND m.objid OPERATOR(pg_catalog.=) f.refobjid);
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'agentphone''s objects call code of a role that is not a superuser: %', bad
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Someone planted these objects where the install script looked for PostgreSQL''s own: drop them (after reading them), then install or update again.';
	END IF;
END $$;

-- Identities are role OIDs of the role that acts (current_user), not
-- names or the login role: behind a pooler that logs in as one role and
-- switches tenants with SET ROLE, the do-not-call list was keyed on
-- SESSION_USER, and a role dropped and created again under the same name
-- saw the old one's calls.  created_by and added_by become regrole (shown
-- as the role's name, stored as its OID); rows of a role that no longer
-- exists get OID 0, which no role has.
CREATE FUNCTION agentphone.acting_role() RETURNS pg_catalog.regrole
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_acting_role';
COMMENT ON FUNCTION agentphone.acting_role() IS
'the role that acts (current_user), as an OID: the default of created_by and added_by, and what the policies compare them with';
-- the policies call it as the role that reads: a caller
REVOKE ALL ON FUNCTION agentphone.acting_role() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone.acting_role() TO agentphone_caller;

-- The policies and the report view name the columns whose type changes:
-- the policies are made again below; the view, whose grants must stay,
-- leaves the column for the time of the change, then shows the role's
-- name again (still a name: reports that compare it with current_user
-- keep working).
DROP POLICY calls_own ON agentphone.calls;
DROP POLICY do_not_call_own ON agentphone.do_not_call;
CREATE OR REPLACE VIEW agentphone.call_report WITH (security_invoker = true) AS
SELECT c.id, c.api_call_id, c.created_at, NULL::pg_catalog.name AS created_by, c.agent_id, c.to_number,
	c.status, c.started_at, c.ended_at, c.duration_seconds, c.recording_url,
	c.transcript_complete, NULL::pg_catalog.text AS transcript, NULL::pg_catalog.text AS agent_name
FROM agentphone.calls c;

ALTER TABLE agentphone.calls
	ALTER COLUMN created_by DROP DEFAULT,
	ALTER COLUMN created_by TYPE pg_catalog.regrole
		USING coalesce(pg_catalog.to_regrole(pg_catalog.quote_ident(created_by)),
					   0::pg_catalog.oid::pg_catalog.regrole),
	ALTER COLUMN created_by SET DEFAULT agentphone.acting_role();
COMMENT ON COLUMN agentphone.calls.created_by IS
	'the role that queued the call (current_user then), by OID: a role of the same name created later is another role';
ALTER TABLE agentphone.do_not_call
	ALTER COLUMN added_by DROP DEFAULT,
	ALTER COLUMN added_by TYPE pg_catalog.regrole
		USING coalesce(pg_catalog.to_regrole(pg_catalog.quote_ident(added_by)),
					   0::pg_catalog.oid::pg_catalog.regrole),
	ALTER COLUMN added_by SET DEFAULT agentphone.acting_role();
COMMENT ON COLUMN agentphone.do_not_call.added_by IS
	'the role that listed the number (current_user then), by OID; it alone reads the reason, with agentphone_admin';

CREATE POLICY calls_own ON agentphone.calls FOR SELECT
	USING (created_by OPERATOR(pg_catalog.=) agentphone.acting_role()
		   OR pg_catalog.pg_has_role('agentphone_admin', 'MEMBER'));
CREATE POLICY do_not_call_own ON agentphone.do_not_call FOR SELECT
	USING (added_by OPERATOR(pg_catalog.=) agentphone.acting_role()
		   OR pg_catalog.pg_has_role('agentphone_admin', 'MEMBER'));

CREATE OR REPLACE VIEW agentphone.call_report WITH (security_invoker = true) AS
SELECT c.id, c.api_call_id, c.created_at, pg_catalog.pg_get_userbyid(c.created_by) AS created_by,
	c.agent_id, c.to_number, c.status, c.started_at, c.ended_at, c.duration_seconds,
	c.recording_url, c.transcript_complete,
	(SELECT pg_catalog.string_agg(t.role OPERATOR(pg_catalog.||) ': ' OPERATOR(pg_catalog.||) t.content,
								  E'\n' ORDER BY t.seq)
	 FROM agentphone.transcripts t WHERE t.call_id OPERATOR(pg_catalog.=) c.id) AS transcript,
	(SELECT a.name FROM agentphone.agents a WHERE a.id OPERATOR(pg_catalog.=) c.agent_id) AS agent_name
FROM agentphone.calls c;
COMMENT ON VIEW agentphone.call_report IS
	'one row per call with its transcript as text and its agent''s name; each role sees the calls it may read';
COMMENT ON COLUMN agentphone.call_report.created_by IS
	'the name of the role that queued the call (agentphone.calls.created_by)';

-- The do-not-call list is written in C now, as the role that acts: a
-- SECURITY DEFINER function could not tell who called it.  CREATE OR
-- REPLACE keeps its grants and comment.
CREATE OR REPLACE FUNCTION agentphone_do_not_call(number text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_do_not_call';
-- and so is taking a number off it: as the tables' owner, only while the
-- table runs superusers' code alone (src/tables.c), not SECURITY DEFINER
CREATE OR REPLACE FUNCTION agentphone_allow_calls(number text) RETURNS boolean
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_allow_calls';

-- The claim's checks take the role by OID.
DROP FUNCTION agentphone.dial_refusal(text, name, bigint, boolean);
DROP FUNCTION agentphone.do_not_call_refusal(text, name);
CREATE FUNCTION agentphone.do_not_call_refusal(number text, role pg_catalog.regrole) RETURNS text
LANGUAGE C STABLE STRICT
AS 'MODULE_PATHNAME', 'agentphone_do_not_call_refusal';
REVOKE ALL ON FUNCTION agentphone.do_not_call_refusal(text, pg_catalog.regrole) FROM PUBLIC;
COMMENT ON FUNCTION agentphone.do_not_call_refusal(text, pg_catalog.regrole) IS
'internal: why role may not call number because it is on the do-not-call list (the reason only to the role that listed it), or NULL';
CREATE FUNCTION agentphone.dial_refusal(number text, role pg_catalog.regrole, call_id bigint,
	at_queue boolean, OUT kind text, OUT reason text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	why text := coalesce(agentphone.destination_refusal(number),
						 agentphone.do_not_call_refusal(number, role));
BEGIN
	IF why IS NOT NULL THEN
		RETURN QUERY SELECT 'blocked'::text, why;
	END IF;
END $$;
REVOKE ALL ON FUNCTION agentphone.dial_refusal(text, pg_catalog.regrole, bigint, boolean) FROM PUBLIC;
COMMENT ON FUNCTION agentphone.dial_refusal(text, pg_catalog.regrole, bigint, boolean) IS
'internal: why the claim may not dial number for role now (kind ''blocked''), or no row; call_id and at_queue are unused';

-- The claim: a call whose role no longer exists (its OID is no role's),
-- or may no longer execute agentphone_call(), is canceled.
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
			   NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = c.created_by) AS dropped,
			   NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = c.created_by)
				 OR NOT has_function_privilege(c.created_by::oid, call_fn, 'EXECUTE') AS revoked,
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
		SELECT k.id, k.opens, k.dropped,
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
				   WHEN 'canceled' THEN CASE WHEN v.dropped
					   THEN format('not dialed: the role that queued it (OID %s) no longer exists', c.created_by::oid)
					   ELSE format('not dialed: role %s may no longer place calls (EXECUTE on agentphone_call was revoked)', c.created_by) END
				   WHEN 'blocked' THEN 'not dialed: ' || v.refusal
				   WHEN 'queued' THEN format('waiting for the calling window to open at %s', v.opens)
				   ELSE c.last_error END,
			   updated_at = now()
		  FROM verdict v
		 WHERE c.id = v.id
		RETURNING c.*)
	SELECT * FROM claimed;
END $$;

-- Notifications tell a role only about calls it may read.  LISTEN needs no
-- privilege, so channel agentphone told every role, granted or not, of
-- every call's transitions.  Each transition is now announced on the
-- channel of the role that queued the call and on the channel of every
-- call, both named after an HMAC of the role's OID under this secret,
-- which no role is granted: agentphone_channel() tells a role its own
-- (src/channel.c).  Not dumped: a restored database makes a new one.
CREATE TABLE agentphone.notify_secret (
	one					boolean PRIMARY KEY DEFAULT true CHECK (one),
	secret				bytea NOT NULL
);
REVOKE ALL ON agentphone.notify_secret FROM PUBLIC;
COMMENT ON TABLE agentphone.notify_secret IS
	'the key the names of the notification channels are derived from; readable by superusers only';
COMMENT ON COLUMN agentphone.notify_secret.one IS 'true: the table has one row';
COMMENT ON COLUMN agentphone.notify_secret.secret IS '32 random bytes';
INSERT INTO agentphone.notify_secret (secret)
SELECT pg_catalog.decode(pg_catalog.replace(pg_catalog.gen_random_uuid()::pg_catalog.text
		OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::pg_catalog.text, '-', ''), 'hex');

CREATE FUNCTION agentphone_channel(all_calls boolean DEFAULT false) RETURNS text
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_channel';
COMMENT ON FUNCTION agentphone_channel(boolean) IS
'the channel to LISTEN on for the transitions of your calls (all_calls, for agentphone_admin: of every call); payload {"id": ..., "status": ...} or {"id": ..., "transcript": "stored"}';
REVOKE ALL ON FUNCTION agentphone_channel(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_channel(boolean) TO agentphone_caller;

-- The per-number limit is counted holding the number's row here, locked
-- until the transaction ends.  Before, a transaction locked up to 64
-- numbers in the lock table, then every number at once, which kept every
-- other role from queueing a call to any number until it ended.  Row
-- locks take no room in the lock table, so a statement queueing 100,000
-- calls locks its 100,000 numbers and no other.  The worker deletes the
-- rows of numbers not queued to for a day.
CREATE TABLE agentphone.number_locks (
	number				text PRIMARY KEY,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX number_locks_created_idx ON agentphone.number_locks (created_at);
REVOKE ALL ON agentphone.number_locks FROM PUBLIC;
COMMENT ON TABLE agentphone.number_locks IS
	'internal: one row per number called lately, locked while a transaction counts the calls to it';
COMMENT ON COLUMN agentphone.number_locks.number IS 'the number, in E.164 form';
COMMENT ON COLUMN agentphone.number_locks.created_at IS 'when the row was made; rows older than a day are deleted';
