-- trigger: agentphone_dial_trigger(), in C since 1.2, queues what the
-- PL/pgSQL function of 1.0 and 1.1 queued and refuses what it refused,
-- row by row, for every kind of argument; and it checks what it must.
CREATE EXTENSION agentphone;
BEGIN;
-- 1.1's function (as released in agentphone--1.0.sql, unchanged since),
-- read from the installed script, to compare against (under Debian's
-- extension_destdir when a package's build-time test sets it)
DO $$
DECLARE
	script text := pg_read_file(coalesce(current_setting('extension_destdir', true), '')
								|| (SELECT setting FROM pg_config WHERE name = 'SHAREDIR')
								|| '/extension/agentphone--1.0.sql');
BEGIN
	EXECUTE replace(replace(substring(script FROM
		'(CREATE FUNCTION agentphone_dial_trigger\(\) RETURNS trigger.*?END \$\$;)'),
		'CREATE FUNCTION agentphone_dial_trigger()', 'CREATE FUNCTION dial_trigger_1_1()'),
		'@extschema@.', 'public.');
END $$;
SELECT prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql') AS plpgsql
FROM pg_proc WHERE proname = 'dial_trigger_1_1';

CREATE DOMAIN call_ref AS bigint CHECK (VALUE > 0);
CREATE TYPE pair AS (x int, y text);
-- one_row inserts one row into table tbl and says what came of it: the
-- queued call's variables (and whether the id column got its id), or the
-- error
CREATE FUNCTION one_row(tbl text, r int, phone text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	got text;
BEGIN
	EXECUTE format($q$INSERT INTO %I (phone, name, n, at, info, flag, p) VALUES (%L, %s)$q$, tbl, phone,
		(ARRAY[$v$'Ada', 7, '2026-12-24', '{"a": "x", "b": 2, "c": null}', true, NULL$v$,
			   $v$NULL, NULL, NULL, '[1, 2]', false, NULL$v$,
			   $v$'Bo', -1, NULL, '"text"', NULL, '(1,one)'$v$,
			   $v$'Cy', 3, NULL, NULL, true, NULL$v$])[r]);
	SELECT coalesce(c.variables::text, 'no variables')
		|| CASE WHEN t.ref IS NULL AND t.ref_text IS NULL AND t.ref_json IS NULL THEN ''
				ELSE ', id stored: ' || (coalesce(t.ref::text, t.ref_text, t.ref_json::text) = c.id::text) END
	INTO got
	FROM agentphone.calls c, LATERAL (SELECT * FROM dial_rows d WHERE d.tbl = one_row.tbl AND d.to_number = c.to_number) t
	WHERE c.to_number = phone ORDER BY c.id DESC LIMIT 1;
	RETURN got;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
-- the rows of every table, for one_row to find its id column
CREATE TABLE dial_rows (tbl text, to_number text, ref bigint, ref_text text, ref_json jsonb);
-- run_spec: a table with a trigger of fn(args), four rows (each number
-- called once by each function); what came of each
CREATE FUNCTION run_spec(spec int, timing text, args text, fn text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	tbl text := format('t_%s_%s', fn, spec);
	outcomes text[];
BEGIN
	EXECUTE format('CREATE TABLE %I (phone varchar(20), name text, n int, at date, info jsonb,
		flag boolean, p pair, ref call_ref, ref_text text, ref_json jsonb)', tbl);
	EXECUTE format('CREATE TRIGGER dial %s INSERT ON %I FOR EACH ROW EXECUTE FUNCTION %I(%s)',
		timing, tbl, fn, args);
	EXECUTE format('CREATE TRIGGER keep AFTER INSERT ON %I FOR EACH ROW EXECUTE FUNCTION keep_row()', tbl);
	FOR r IN 1..4 LOOP
		outcomes := outcomes || one_row(tbl, r, '+1415556' || lpad((spec * 10 + r)::text, 4, '0'));
	END LOOP;
	RETURN replace(array_to_string(outcomes, E'\n'), tbl, 'the_table');
END $$;
CREATE FUNCTION keep_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO dial_rows VALUES (TG_TABLE_NAME, NEW.phone, NEW.ref, NEW.ref_text, NEW.ref_json);
	RETURN NULL;
END $$;
CREATE TABLE specs (spec int, timing text, args text);
INSERT INTO specs VALUES
	(1, 'AFTER', $$'agt_1', 'phone'$$),
	(2, 'AFTER', $$'agt_1', 'phone', 'name'$$),
	(3, 'AFTER', $$'agt_1', 'phone', ' name , n,at ,flag'$$),
	(4, 'AFTER', $$'agt_1', 'phone', 'info'$$),
	(5, 'AFTER', $$'agt_1', 'phone', '  info '$$),
	(6, 'AFTER', $$'agt_1', 'phone', 'name,name'$$),
	(7, 'AFTER', $$'agt_1', 'phone', ''$$),
	(8, 'AFTER', $$'agt_1', 'phone', 'name,'$$),
	(9, 'AFTER', $$'agt_1', 'phone', 'p'$$),
	(10, 'BEFORE', $$'agt_1', 'phone', 'name', 'ref'$$),
	(11, 'BEFORE', $$'agt_1', 'phone', 'name', 'ref_text'$$),
	(12, 'BEFORE', $$'agt_1', 'phone', 'name', 'ref_json'$$),
	(13, 'AFTER', $$'agt_1', 'phone', 'name', 'ref'$$),
	(14, 'AFTER', $$'agt_1', 'telephone'$$),
	(15, 'AFTER', $$'agt_1', 'phone', 'name,nope'$$),
	(16, 'AFTER', $$'agt_1', 'phone', 'name', 'nope'$$),
	(17, 'AFTER', $$'agt_1', 'n'$$),
	(18, 'AFTER', $$'agt_1', 'phone', 'ctid'$$),
	(19, 'AFTER', $$'', 'phone'$$),
	(20, 'AFTER', $$'agt_1'$$),
	(21, 'AFTER', $$'agt_1', 'phone', 'name', 'ref', 'extra'$$);
-- every spec: the same outcome, row by row, from both functions
SELECT spec, args, c AS outcome, c = plpgsql AS same_as_1_1
FROM specs,
	LATERAL run_spec(spec, timing, args, 'agentphone_dial_trigger') AS c,
	LATERAL run_spec(spec, timing, args, 'dial_trigger_1_1') AS plpgsql
ORDER BY spec;
ROLLBACK;

BEGIN;
CREATE TABLE leads (id serial, phone text, name text);
-- only for each row, on INSERT or UPDATE
CREATE TRIGGER dial AFTER INSERT ON leads FOR EACH STATEMENT
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone');
SAVEPOINT s;
INSERT INTO leads (phone) VALUES ('+14155570001');
ROLLBACK TO s;
DROP TRIGGER dial ON leads;
CREATE TRIGGER dial AFTER DELETE ON leads FOR EACH ROW
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone');
INSERT INTO leads (phone) VALUES ('+14155570001');
SAVEPOINT s;
DELETE FROM leads;
ROLLBACK TO s;
DROP TRIGGER dial ON leads;
-- an UPDATE of the number dials the new one
CREATE TRIGGER dial AFTER UPDATE OF phone ON leads FOR EACH ROW
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'name');
UPDATE leads SET phone = '+14155570002', name = 'Di';
SELECT to_number, variables FROM agentphone.calls WHERE to_number LIKE '+1415557%';
-- the role that fires the trigger needs EXECUTE on agentphone_call(), as
-- it would to call it: a role without agentphone_caller queues nothing
CREATE ROLE trigger_outsider;
GRANT INSERT, UPDATE, SELECT ON leads TO trigger_outsider;
GRANT USAGE ON SEQUENCE leads_id_seq TO trigger_outsider;
SET ROLE trigger_outsider;
SAVEPOINT s;
UPDATE leads SET phone = '+14155570003';
ROLLBACK TO s;
RESET ROLE;
GRANT agentphone_caller TO trigger_outsider;
SET ROLE trigger_outsider;
UPDATE leads SET phone = '+14155570003';
RESET ROLE;
SELECT to_number, created_by FROM agentphone.calls WHERE to_number = '+14155570003';
DROP TRIGGER dial ON leads;
-- 20,000 calls from one statement: the counting locks do not fill the
-- lock table (each number's is a row lock of agentphone.number_locks)
CREATE TRIGGER dial AFTER INSERT ON leads FOR EACH ROW
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone');
INSERT INTO leads (phone) SELECT '+1415' || (3000000 + i)::text FROM generate_series(1, 20000) i;
SELECT count(*) AS queued FROM agentphone.calls WHERE to_number LIKE '+14153%';
SELECT count(*) AS counting_locks FROM pg_locks
WHERE pid = pg_backend_pid() AND locktype = 'object' AND classid = 'pg_extension'::regclass;
ROLLBACK;
DROP EXTENSION agentphone;
