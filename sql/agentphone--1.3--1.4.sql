-- agentphone 1.3 -> 1.4: one definition of the E.164 rule (issue 11).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.4'" to load this file. \quit

-- Whether number is in E.164 form ("+", a digit from 1 to 9, then 1 to 14
-- more digits): agentphone_call()'s rule, in C (src/validate.c), where
-- 1.0 and 1.1 wrote it again as a regular expression.
CREATE FUNCTION agentphone.is_e164(number text) RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_is_e164';
REVOKE ALL ON FUNCTION agentphone.is_e164(text) FROM PUBLIC;

-- The do-not-call list holds E.164 numbers only (every stored one already
-- is: the rule is unchanged).
ALTER TABLE agentphone.do_not_call
	DROP CONSTRAINT do_not_call_number_check,
	ADD CONSTRAINT do_not_call_number_check CHECK (agentphone.is_e164(number));

CREATE OR REPLACE FUNCTION agentphone_do_not_call(number text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the E.164 rule of agentphone_call(), from its one definition in C
	IF number IS NULL OR NOT agentphone.is_e164(number) THEN
		RAISE EXCEPTION 'number must be in E.164 form, not "%"', number
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use the form +14155550123.';
	END IF;
	IF char_length(reason) > 500 THEN
		RAISE EXCEPTION 'reason is too long'
			USING ERRCODE = 'string_data_right_truncation',
				  DETAIL = format('It has %s characters; at most 500 are accepted.', char_length(reason)),
				  HINT = 'Shorten the reason.';
	END IF;
	INSERT INTO agentphone.do_not_call (number, reason)
	VALUES (agentphone.normalize_number(agentphone_do_not_call.number), agentphone_do_not_call.reason)
	ON CONFLICT ON CONSTRAINT do_not_call_pkey DO NOTHING;
	RETURN FOUND;
END $$;
