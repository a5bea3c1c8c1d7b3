/*-------------------------------------------------------------------------
 *
 * secret.h
 *		The API key: where it comes from, whether it is usable, keeping it out
 *		of the log; and whether the API URL may be used (secret.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_SECRET_H
#define AGENTPHONE_SECRET_H

extern const char *agentphone_api_key_value(void);
extern const char *agentphone_key_problem(void);
extern const char *agentphone_key_problem_shown(bool to_superuser);
extern const char *agentphone_key_source(void);
extern const char *agentphone_key_hint(void);
extern uint64 agentphone_key_hash(const char *key);
extern void agentphone_note_key_refused(long status, uint64 key_hash);
extern void secret_use_database(const char *dbname);
extern void agentphone_forget_key_refusal(void);
extern const char *agentphone_key_refused_problem(void);
extern int	agentphone_known_keys(const char *keys[2]);
extern const char *agentphone_url_problem(void);

extern char *agentphone_redact_keys(const char *s);
extern void agentphone_redact_log(ErrorData *edata);

#endif							/* AGENTPHONE_SECRET_H */
