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
