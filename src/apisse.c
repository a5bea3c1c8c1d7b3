/*-------------------------------------------------------------------------
 *
 * apisse.c
 *		Cutting the AgentPhone API's server-sent event stream into events.
 *
 * The stream of a live call's transcript arrives in pieces of any size;
 * api_sse_next takes each complete event off the front of what has been
 * buffered and leaves an incomplete one for later.  The data of a "turn"
 * event is read by api_decode_turn (apidecode.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "api.h"

/*
 * api_sse_next consumes the next complete server-sent event of buf[*pos ..
 * len), if there is one: *event gets its name ("message" if none) and
 * *data its data lines joined by newlines.  Comments (": heartbeat") are
 * skipped.  Returns false when no complete event is buffered yet.
 */
bool
api_sse_next(const char *buf, size_t len, size_t *pos, char **event, char **data)
{
	for (;;)
	{
		const char *start = buf + *pos;
		const char *end = NULL;
		size_t		sep = 0;
		StringInfoData d;
		const char *line;

		for (const char *p = start; p < buf + len && end == NULL; p++)
		{
			if (p + 1 < buf + len && p[0] == '\n' && p[1] == '\n')
				end = p, sep = 2;
			else if (p + 3 < buf + len && strncmp(p, "\r\n\r\n", 4) == 0)
				end = p, sep = 4;
		}
		if (end == NULL)
			return false;
		*pos = (end - buf) + sep;
		*event = NULL;
		initStringInfo(&d);
		for (line = start; line < end;)
		{
			const char *eol = memchr(line, '\n', end - line);
			int			n = (eol ? eol : end) - line;

			if (n > 0 && line[n - 1] == '\r')
				n--;
			if (n >= 6 && strncmp(line, "event:", 6) == 0)
				*event = pnstrdup(line + 6 + (n > 6 && line[6] == ' '), n - 6 - (n > 6 && line[6] == ' '));
			else if (n >= 5 && strncmp(line, "data:", 5) == 0)
			{
				if (d.len > 0)
					appendStringInfoChar(&d, '\n');
				appendBinaryStringInfo(&d, line + 5 + (n > 5 && line[5] == ' '),
									   n - 5 - (n > 5 && line[5] == ' '));
			}
			line = eol ? eol + 1 : end;
		}
		if (*event == NULL && d.len == 0)
		{
			pfree(d.data);
			continue;			/* a comment or an empty event */
		}
		if (*event == NULL)
			*event = pstrdup("message");
		*data = d.data;
		return true;
	}
}
