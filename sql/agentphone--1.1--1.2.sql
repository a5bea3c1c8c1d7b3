-- agentphone 1.1 -> 1.2: the cost of queueing a call, cut (issue 9).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.2'" to load this file. \quit

-- agentphone_dial_trigger(agent_id, number_column [, variables [, id_column]])
-- in C (src/trigger.c): the same arguments, the same errors and the same
-- calls queued, without a PL/pgSQL function and a call of agentphone_call()
-- per row.  CREATE OR REPLACE keeps its owner, grants and comment.
CREATE OR REPLACE FUNCTION agentphone_dial_trigger() RETURNS trigger
LANGUAGE C SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_dial_trigger';
