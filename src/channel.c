/*-------------------------------------------------------------------------
 *
 * channel.c
 *		Where a call's transitions are announced: a channel per role that
 *		nobody else can name.
 *
 * LISTEN needs no privilege: any role may listen on any channel.  So a
 * transition of a call is announced on two channels whose names only the
 * extension can work out: the channel of the role that queued the call,
 * and the channel of every call, for agentphone_admin.  A channel's name
 * is "agentphone_" and 32 hex digits of an HMAC-SHA256, keyed by a random
 * secret that the install script stores in agentphone.notify_secret (no
 * role is granted it), of the role's OID.  agentphone_channel() tells a
 * role its own, and an admin the channel of every call.  Before ALTER
 * EXTENSION UPDATE reaches 1.7 (no secret yet) transitions are announced
 * on channel agentphone, as they were.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/async.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "access.h"
#include "channel.h"
#include "grants.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(agentphone_channel);

/* the channel of every call is keyed by this, which no role's OID is */
#define ALL_CALLS InvalidOid

/* hex digits of the HMAC in a channel's name */
#define CHANNEL_HEX 32

/* The secret, read once per transaction (a superuser may change it). */
static LocalTransactionId secret_read_in = InvalidLocalTransactionId;
static bytea *secret = NULL;

/*
 * read_secret returns the secret of this database's install, or NULL
 * before 1.7.  Reads agentphone.notify_secret as the tables' owner, once
 * per transaction.
 */
static bytea *
read_secret(void)
{
	Oid			nsp = get_namespace_oid("agentphone", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("notify_secret", nsp) : InvalidOid;
	AgentphoneUser caller;
	bool		isnull;
	Datum		value;
	bytea	   *copy = NULL;

	if (!OidIsValid(relid))
		return NULL;
	if (secret_read_in == MyProc->lxid && secret != NULL)
		return secret;
	SPI_connect();
	agentphone_become_owner(&caller);
	if (SPI_execute("SELECT secret FROM agentphone.notify_secret", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "agentphone.notify_secret holds no secret");
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		bytea	   *b = DatumGetByteaPP(value);

		copy = MemoryContextAlloc(TopMemoryContext, VARSIZE_ANY(b));
		memcpy(copy, b, VARSIZE_ANY(b));
	}
	agentphone_restore_user(&caller);
	SPI_finish();
	if (secret != NULL)
		pfree(secret);
	secret = copy;
	secret_read_in = MyProc->lxid;
	return secret;
}

/*
 * channel_of returns the channel of role (ALL_CALLS: of every call) under
 * key, a name no role can work out without the key.
 */
static char *
channel_of(bytea *key, Oid role)
{
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	char	   *message = psprintf("agentphone channel of role %u", role);
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	char	   *name = palloc(strlen("agentphone_") + CHANNEL_HEX + 1);

	if (ctx == NULL ||
		pg_hmac_init(ctx, (uint8 *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)) < 0 ||
		pg_hmac_update(ctx, (uint8 *) message, strlen(message)) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
		elog(ERROR, "could not compute a channel's name: %s", pg_hmac_error(ctx));
	pg_hmac_free(ctx);
	strcpy(name, "agentphone_");
	hex_encode((char *) mac, CHANNEL_HEX / 2, name + strlen("agentphone_"));
	name[strlen("agentphone_") + CHANNEL_HEX] = '\0';
	return name;
}

/*
 * agentphone_announce queues payload, about a call that role queued, for
 * that role's channel and the channel of every call (channel agentphone
 * before 1.7).  role InvalidOid (a role since dropped): every call's only.
 */
void
agentphone_announce(Oid role, const char *payload)
{
	bytea	   *key = read_secret();

	PreventCommandDuringRecovery("NOTIFY");
	if (key == NULL)
	{
		Async_Notify("agentphone", payload);
		return;
	}
	if (OidIsValid(role))
		Async_Notify(channel_of(key, role), payload);
	Async_Notify(channel_of(key, ALL_CALLS), payload);
}

/*
 * agentphone_channel(all_calls) returns the channel on which the calls of
 * the role that acts are announced, or with all_calls (admins only) every
 * call.
 */
Datum
agentphone_channel(PG_FUNCTION_ARGS)
{
	bool		all_calls = !PG_ARGISNULL(0) && PG_GETARG_BOOL(0);
	bytea	   *key;

	agentphone_require_grant(false);
	if (all_calls && !agentphone_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only members of agentphone_admin may listen to every role's calls"),
				 errhint("Call agentphone_channel() without all_calls for the channel of your own calls.")));
	key = read_secret();
	if (key == NULL)
		elog(ERROR, "agentphone.notify_secret is missing");
	PG_RETURN_TEXT_P(cstring_to_text(channel_of(key, all_calls ? ALL_CALLS : GetUserId())));
}
