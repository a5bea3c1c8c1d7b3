/*-------------------------------------------------------------------------
 *
 * agents.c
 *		The account's agents and their numbers: fetched from the API (GET
 *		/v1/agents, page by page), stored in agentphone.agents and
 *		agentphone.agent_numbers, and checked when a call is queued.
 *
 * The worker fetches the list when it starts and then every
 * agentphone.agent_refresh_interval; agentphone_refresh_agents() fetches
 * it from a session (read.c).  Either way the stored list is replaced as a
 * whole, in one transaction.  Until a list has been stored once
 * (agentphone.agent_sync has its row), agentphone_call() accepts any
 * agent: the API is then the one to refuse an unknown one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "agents.h"
#include "api.h"
#include "cycle.h"
#include "guc.h"
#include "http.h"
#include "request.h"
#include "schema.h"
#include "secret.h"
#include "task.h"
#include "validate.h"
#include "xact.h"

/* Agents or numbers named in an error, at most. */
#define NAMED_IN_ERROR 10

static Cycle agents_cycle = CYCLE_INIT("agentphone agents");	/* its memory: the pages
																	 * fetched so far */

static List *fetched = NIL;		/* ApiAgent, of the fetch in progress */
static bool fetch_complete = false; /* every page is in: store them */

static const size_t agent_columns[] = {
	offsetof(ApiAgent, id), offsetof(ApiAgent, name),
	offsetof(ApiAgent, description), offsetof(ApiAgent, voice_mode),
	offsetof(ApiAgent, created_at)
};
static const size_t number_columns[] = {
	offsetof(ApiAgentNumber, id), offsetof(ApiAgentNumber, phone_number),
	offsetof(ApiAgentNumber, status)
};

/*
 * insert_agents stores the rows of agentphone.agents for agents.
 */
static void
insert_agents(List *agents)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		v[5];

	list_text_arrays(agents, agent_columns, lengthof(agent_columns), v);
	agentphone_saved_plan(&plan,
			   "INSERT INTO agentphone.agents (id, name, description, voice_mode, created_at)"
			   " SELECT a.id, a.name, a.description, a.voice_mode, a.created_at::timestamptz"
			   " FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[]),"
			   "   pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[]),"
			   "   pg_catalog.unnest($5::pg_catalog.text[])) AS a(id, name, description, voice_mode, created_at)"
			   " ON CONFLICT (id) DO NOTHING",
			   5, types);
	if (SPI_execute_plan(plan, v, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the agents");
}

/*
 * insert_agent_numbers stores the rows of agentphone.agent_numbers for
 * agents' numbers.
 */
static void
insert_agent_numbers(List *agents)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		v[4];
	List	   *numbers = NIL;
	List	   *owners = NIL;
	ListCell   *lc;
	ListCell   *nc;

	foreach(lc, agents)
	{
		ApiAgent   *a = lfirst(lc);

		foreach(nc, a->numbers)
		{
			numbers = lappend(numbers, lfirst(nc));
			owners = lappend(owners, a);
		}
	}
	v[0] = list_text_array(owners, offsetof(ApiAgent, id));
	list_text_arrays(numbers, number_columns, lengthof(number_columns), v + 1);
	agentphone_saved_plan(&plan,
			   "INSERT INTO agentphone.agent_numbers (agent_id, number_id, phone_number, status)"
			   " SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),"
			   "   pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[]),"
			   "   pg_catalog.unnest($4::pg_catalog.text[]))"
			   " ON CONFLICT DO NOTHING",
			   4, types);
	if (SPI_execute_plan(plan, v, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the agents' numbers");
}

/*
 * agents_store replaces the stored list with agents (ApiAgent), in the
 * current transaction.  Runs inside an SPI connection, as the tables'
 * owner.
 */
void
agents_store(List *agents)
{
	static SPIPlanPtr clear_plan = NULL;
	static SPIPlanPtr sync_plan = NULL;
	Oid			types[1] = {INT4OID};
	Datum		v[1] = {Int32GetDatum(list_length(agents))};

	/* one store at a time: two would leave the union of their lists */
	if (SPI_execute("LOCK TABLE agentphone.agent_sync IN EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not lock agentphone.agent_sync");
	agentphone_saved_plan(&clear_plan, "DELETE FROM agentphone.agents", 0, NULL);
	if (SPI_execute_plan(clear_plan, NULL, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not clear the stored agents");
	insert_agents(agents);
	insert_agent_numbers(agents);
	agentphone_saved_plan(&sync_plan,
			   "INSERT INTO agentphone.agent_sync (one, fetched_at, agents) VALUES (true, now(), $1)"
			   " ON CONFLICT (one) DO UPDATE SET fetched_at = excluded.fetched_at, agents = excluded.agents",
			   1, types);
	if (SPI_execute_plan(sync_plan, v, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not note when the agents were fetched");
}

/*
 * agents_url is the URL of the page of List Agents at offset.
 */
char *
agents_url(int offset)
{
	return api_url("/agents?limit=%d&offset=%d", API_PAGE_LIMIT, offset);
}

/*
 * list_names joins up to NAMED_IN_ERROR rows of the last SPI result,
 * "col1 (col2)" each, for an error's detail.
 */
static char *
list_names(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (uint64 i = 0; i < SPI_processed && i < NAMED_IN_ERROR; i++)
	{
		char	   *label = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		if (label != NULL)
			appendStringInfo(&buf, " (%s)", label);
	}
	if (SPI_processed > NAMED_IN_ERROR)
		appendStringInfo(&buf, " and %llu more", (unsigned long long) (SPI_processed - NAMED_IN_ERROR));
	return buf.data;
}

/*
 * refuse_agent raises the error for an agent_id the stored list lacks.
 */
static void
refuse_agent(const char *agent_id, const char *fetched_at)
{
	if (SPI_execute("SELECT id, name FROM agentphone.agents ORDER BY id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the agents");
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown agent_id \"%s\"", agent_id),
			 SPI_processed > 0 ?
			 errdetail("The account's agents, as fetched from the API at %s: %s.", fetched_at, list_names()) :
			 errdetail("The account had no agent when its agents were fetched from the API at %s.", fetched_at),
			 errhint("Pass the id of one of agentphone.agents; an agent created since is known after the next refresh (agentphone.agent_refresh_interval), or at once after SELECT agentphone_refresh_agents().")));
}

/*
 * refuse_number raises the error for a from_number_id that is not one of
 * the agent's numbers.
 */
static void
refuse_number(const char *agent_id, const char *number_id)
{
	Oid			types[1] = {TEXTOID};
	Datum		v[1] = {CStringGetTextDatum(agent_id)};

	if (SPI_execute_with_args("SELECT number_id, phone_number FROM agentphone.agent_numbers"
							  " WHERE agent_id = $1 ORDER BY number_id",
							  1, types, v, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the agent's numbers");
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("from_number_id \"%s\" is not a number of agent %s", number_id, agent_id),
			 SPI_processed > 0 ?
			 errdetail("Its numbers: %s.", list_names()) :
			 errdetail("Agent %s has no number.", agent_id),
			 errhint("Pass one of its numbers, or leave from_number_id out to call from the agent's first number.")));
}

/* The agent and number last found acceptable, and in which transaction. */
static LocalTransactionId accepted_in = InvalidLocalTransactionId;
static char accepted_agent[MAX_ID_LEN + 1];
static char accepted_number[MAX_ID_LEN + 1];	/* "" for none */

/*
 * already_accepted says whether this transaction found agent_id and
 * number_id acceptable already: a statement queueing many calls for one
 * agent looks it up once.
 */
static bool
already_accepted(const char *agent_id, const char *number_id)
{
	return accepted_in == MyProc->lxid &&
		strcmp(accepted_agent, agent_id) == 0 &&
		strcmp(accepted_number, number_id ? number_id : "") == 0;
}

/*
 * agents_check refuses a call for an agent the stored list lacks, or from
 * a number that is not the agent's, once the list has been fetched.  Runs
 * inside an SPI connection, as the tables' owner.
 */
void
agents_check(const char *agent_id, const char *number_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		v[2] = {CStringGetTextDatum(agent_id),
	number_id ? CStringGetTextDatum(number_id) : (Datum) 0};
	char		n[2] = {' ', number_id ? ' ' : 'n'};
	bool		isnull;

	agentphone_saved_generic_plan(&plan,
			   "SELECT s.fetched_at::text,"
			   " EXISTS (SELECT FROM agentphone.agents a WHERE a.id = $1),"
			   " $2::text IS NULL OR EXISTS (SELECT FROM agentphone.agent_numbers m"
			   "   WHERE m.agent_id = $1 AND m.number_id = $2)"
			   " FROM agentphone.agent_sync s",
			   2, types);
	if (already_accepted(agent_id, number_id))
		return;
	if (SPI_execute_plan(plan, v, n, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look the agent up");
	if (SPI_processed > 0)		/* else never fetched: the API decides */
	{
		if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
			refuse_agent(agent_id, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)))
			refuse_number(agent_id, number_id);
	}
	accepted_in = MyProc->lxid;
	strlcpy(accepted_agent, agent_id, sizeof(accepted_agent));
	strlcpy(accepted_number, number_id ? number_id : "", sizeof(accepted_number));
}

/* ----- the worker's refresh ----- */

static void on_page(HttpRequest *req);
static void agents_reset(void);

/* A page of List Agents is kept in memory until the last one is in. */
static const RequestHandler page_handler = {on_page, NULL, NULL};

/* A request for a page of List Agents. */
typedef struct AgentsPage
{
	ApiRequest	hdr;
	int			offset;			/* of the page's first agent */
} AgentsPage;

/*
 * start_page starts the GET of the page at offset.
 */
static void
start_page(Oid extension_oid, int offset)
{
	AgentsPage *p = (AgentsPage *) request_new(sizeof(AgentsPage), &page_handler,
											   extension_oid, 0);
	char	   *url = agents_url(offset);

	p->offset = offset;
	request_start(&p->hdr, url, agentphone_api_key_value(), NULL);
	pfree(url);
}

/*
 * agents_start starts a refresh: the first page.
 */
static void
agents_start(Oid extension_oid)
{
	agents_reset();
	agents_cycle.active = true;
	start_page(extension_oid, 0);
}

/*
 * end_refresh ends the refresh in progress; the next one is due an
 * interval from now.
 */
static void
end_refresh(void)
{
	agents_cycle.active = false;
	cycle_postpone(&agents_cycle, agentphone_agent_refresh_interval_ms);
}

/*
 * on_page takes one page (outside any transaction): it keeps its
 * agents and asks for the next page, or marks the list complete.  A failed
 * page ends the refresh, and the stored list stays as it was.
 */
static void
on_page(HttpRequest *req)
{
	AgentsPage *p = (AgentsPage *) req->owner;
	const char *problem = NULL;
	List	   *page = NIL;
	bool		has_more = false;
	MemoryContext old;

	old = MemoryContextSwitchTo(cycle_memory(&agents_cycle));
	if ((problem = answer_problem(req)) == NULL)
		problem = api_decode_agents(req->body, &page, &has_more);
	if (problem == NULL)
		fetched = list_concat(fetched, page);
	MemoryContextSwitchTo(old);

	if (problem != NULL)
	{
		ereport(LOG,
				(errmsg("agentphone: could not fetch the account's agents: %s", problem),
				 errdetail("The stored list stays as it was; the worker tries again in agentphone.agent_refresh_interval.")));
		agents_reset();
		end_refresh();
	}
	else if (has_more && page != NIL)
		start_page(p->hdr.extension_oid, p->offset + list_length(page));
	else
		fetch_complete = true;
}

/*
 * agents_pending_write says whether a fetched list waits to be stored.
 */
static bool
agents_pending_write(void)
{
	return fetch_complete;
}

/*
 * store_step stores the fetched list.
 */
static void
store_step(void *arg)
{
	(void) arg;
	agents_store(fetched);
}

/*
 * agents_record stores a complete fetched list in the current (record)
 * transaction, in a subtransaction of its own.
 */
static void
agents_record(void)
{
	char	   *failure;

	if (!fetch_complete)
		return;
	failure = run_in_subtransaction(store_step, NULL);
	if (failure != NULL)
		ereport(WARNING,
				(errmsg("agentphone: could not store the account's agents"),
				 errdetail("%s", failure)));
	agents_reset();
	end_refresh();
}

/*
 * agents_reset forgets a refresh in progress (the extension was dropped,
 * say), and makes the next one due at once; the answers still in flight
 * for it are discarded by the worker.
 */
static void
agents_reset(void)
{
	cycle_forget(&agents_cycle);
	fetched = NIL;
	fetch_complete = false;
}

/*
 * agents_load says whether the installed schema keeps the agents (since
 * 1.3).  Runs inside a transaction.
 */
static bool
agents_load(void)
{
	return agentphone_schema_has(SCHEMA_1_3);
}

static int
agents_interval_ms(void)
{
	return agentphone_agent_refresh_interval_ms;
}

/* Refreshing the account's agents, as a task of the worker (task.h). */
const WorkerTask agentphone_agents_task = {
	.activity = "agentphone: looking at the agents' tables",
	.cycle = &agents_cycle,
	.interval_ms = agents_interval_ms,
	.load = agents_load,
	.start = agents_start,
	.pending = agents_pending_write,
	.record = agents_record,
	.reset = agents_reset,
};
