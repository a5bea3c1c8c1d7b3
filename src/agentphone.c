/*-------------------------------------------------------------------------
 *
 * agentphone.c
 *		Module entry point: defines the settings, installs the hooks (shared
 *		memory, the database guard, the log hook) and registers the
 *		launcher, which starts one worker per database (launcher.c).
 *
 * The log hook passes each message to secret.c, which keeps the API key
 * out of it, and to access.c, which names the grant a refusal lacks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/elog.h"

#include "access.h"
#include "dbguard.h"
#include "granthook.h"
#include "guc.h"
#include "launcher.h"
#include "pacing.h"
#include "secret.h"
#include "shared.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * agentphone_emit_log is the log hook: the key redacted, the grant named.
 */
static void
agentphone_emit_log(ErrorData *edata)
{
	agentphone_redact_log(edata);
	agentphone_privilege_hint(edata);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
_PG_init(void)
{
	agentphone_define_settings();

	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = agentphone_emit_log;

	if (!process_shared_preload_libraries_in_progress)
		return;

	shared_install();
	pacing_install();
	agentphone_install_dbguard();
	granthook_install();
	agentphone_register_launcher();
}
