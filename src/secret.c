/*-------------------------------------------------------------------------
 *
 * secret.c
 *		Where the API key comes from, whether the API URL may be used, and
 *		keeping the key out of the server log.
 *
 * The key is agentphone.api_key, or, preferably, the contents of the file
 * named by agentphone.api_key_file (which wins when both are set): a file
 * keeps the key out of ALTER SYSTEM statements, which are themselves
 * logged when statements are.  The file must be readable by the server's
 * OS user and by nobody else (like ssl_key_file).  It is read when a key is
 * first needed and again whenever its modification time or size changes,
 * so a rotated key takes effect without a reload.  With
 * agentphone.api_key_directory set, each database has its own key, in the
 * file of that directory named after the database, and no other source is
 * used: a database without a file has none.
 *
 * The API URL must be https unless a superuser turned on
 * agentphone.allow_insecure_http (meant for a local simulator); httpreq.c
 * enforces the same rule on every request.
 *
 * Every message on its way to the log passes through agentphone_redact_log
 * (from the log hook in agentphone.c), which hides the key wherever it
 * occurs and the value of any statement that assigns one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"

#include "guc.h"
#include "secret.h"

/* Longest key accepted from the file. */
#define MAX_KEY_FILE_BYTES 4096

/* The key last read from the file, and what it was read from. */
static char *file_key = NULL;
static char *file_key_path = NULL;
static struct timespec file_key_mtime;
static off_t file_key_size = -1;

/*
 * Why agentphone_api_key_value() found no key: in full (with the file's
 * path and error, for superusers and the log), and as callers may read it.
 */
static char key_problem[256];
static char key_problem_public[256];

/* The database whose key file agentphone.api_key_directory holds. */
static char *key_database = NULL;

/*
 * The key the API refused (401), by its hash, and the status: the
 * worker places no call with it until the key changes or a reload.
 */
static bool key_refused = false;
static uint64 refused_key_hash;
static long refused_status;

/*
 * trim_key strips leading and trailing white space (a final newline, as
 * editors and "echo" leave one) in place and returns the start.
 */
static char *
trim_key(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
					   end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/*
 * forget_file_key drops the cached key, wiping its bytes.
 */
static void
forget_file_key(void)
{
	if (file_key)
	{
		explicit_bzero(file_key, strlen(file_key));
		pfree(file_key);
	}
	if (file_key_path)
		pfree(file_key_path);
	file_key = NULL;
	file_key_path = NULL;
	file_key_size = -1;
}

/*
 * set_problem notes why there is no key: the full reason, and the one
 * callers who are not superusers may read.
 */
static void
set_problem(const char *public_reason, const char *fmt,...) pg_attribute_printf(2, 3);

static void
set_problem(const char *public_reason, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(key_problem, sizeof(key_problem), fmt, args);
	va_end(args);
	strlcpy(key_problem_public, public_reason, sizeof(key_problem_public));
}

#define FILE_PROBLEM_PUBLIC "%s cannot serve as a key (a superuser sees why in agentphone_worker_status() or the server log)"

/*
 * read_key_file (re)reads the key file when it changed; it returns false
 * with the problem set when the file cannot serve as a key.  setting names
 * where the path came from, for the messages.
 */
static bool
read_key_file(const char *path, const char *setting)
{
	struct stat st;
	char		buf[MAX_KEY_FILE_BYTES + 1];
	char		shown[128];
	FILE	   *f;
	size_t		n;
	char	   *key;

	snprintf(shown, sizeof(shown), FILE_PROBLEM_PUBLIC, setting);
	if (stat(path, &st) != 0)
	{
		forget_file_key();
		set_problem(shown, "%s \"%s\" cannot be read: %s", setting, path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		forget_file_key();
		set_problem(shown, "%s \"%s\" must be a regular file that only the server's OS user can read (chmod 600)",
					setting, path);
		return false;
	}
	if (file_key && strcmp(file_key_path, path) == 0 &&
		st.st_mtim.tv_sec == file_key_mtime.tv_sec &&
		st.st_mtim.tv_nsec == file_key_mtime.tv_nsec && st.st_size == file_key_size)
		return true;			/* unchanged */
	forget_file_key();
	f = AllocateFile(path, "r");
	if (f == NULL)
	{
		set_problem(shown, "%s \"%s\" cannot be read: %s", setting, path, strerror(errno));
		return false;
	}
	n = fread(buf, 1, MAX_KEY_FILE_BYTES + 1, f);
	FreeFile(f);
	buf[Min(n, MAX_KEY_FILE_BYTES)] = '\0';
	key = trim_key(buf);
	if (n > MAX_KEY_FILE_BYTES || key[0] == '\0' || strpbrk(key, "\r\n") != NULL)
	{
		set_problem(shown, "%s \"%s\" must hold the key alone, on one line", setting, path);
		explicit_bzero(buf, sizeof(buf));
		return false;
	}
	file_key = MemoryContextStrdup(TopMemoryContext, key);
	file_key_path = MemoryContextStrdup(TopMemoryContext, path);
	file_key_mtime = st.st_mtim;
	file_key_size = st.st_size;
	explicit_bzero(buf, sizeof(buf));
	return true;
}

/*
 * secret_use_database names the database whose key
 * agentphone.api_key_directory holds (the worker's, after it connects).
 */
void
secret_use_database(const char *dbname)
{
	if (key_database)
		pfree(key_database);
	key_database = dbname ? MemoryContextStrdup(TopMemoryContext, dbname) : NULL;
}

/*
 * directory_key returns the key of this database from
 * agentphone.api_key_directory, or NULL with the problem set.  A session
 * learns its database's name in its first transaction that needs a key:
 * a database cannot be renamed while anyone is connected to it.
 */
static const char *
directory_key(const char *dir)
{
	char	   *path;
	bool		ok;

	if (key_database == NULL && IsTransactionState() && OidIsValid(MyDatabaseId))
		secret_use_database(get_database_name(MyDatabaseId));
	if (key_database == NULL)
	{
		set_problem("the database's name is not known yet",
					"the database's name is not known yet");
		return NULL;
	}
	if (key_database[0] == '.' || strchr(key_database, '/') != NULL)
	{
		set_problem("this database's name cannot name a file in agentphone.api_key_directory",
					"database \"%s\" cannot name a file in agentphone.api_key_directory (a \"/\", or a leading \".\")",
					key_database);
		return NULL;
	}
	path = psprintf("%s/%s", dir, key_database);
	if (access(path, F_OK) != 0 && errno == ENOENT)
	{
		forget_file_key();
		set_problem("agentphone.api_key_directory holds no key file for this database",
					"agentphone.api_key_directory holds no key file for database \"%s\" (%s)",
					key_database, path);
		pfree(path);
		return NULL;
	}
	ok = read_key_file(path, "agentphone.api_key_directory");
	pfree(path);
	return ok ? file_key : NULL;
}

/*
 * agentphone_api_key_value returns the API key to send, or NULL when there
 * is none; agentphone_key_problem() then says why.
 */
const char *
agentphone_api_key_value(void)
{
	const char *path = agentphone_api_key_file;
	const char *dir = agentphone_api_key_directory;

	if (dir != NULL && dir[0] != '\0')
		return directory_key(dir);
	if (path != NULL && path[0] != '\0')
		return read_key_file(path, "agentphone.api_key_file") ? file_key : NULL;
	forget_file_key();
	if (agentphone_api_key == NULL || agentphone_api_key[0] == '\0')
	{
		set_problem("neither agentphone.api_key_file nor agentphone.api_key is set",
					"neither agentphone.api_key_file nor agentphone.api_key is set");
		return NULL;
	}
	if (agentphone_api_key_malformed)
	{
		set_problem("agentphone.api_key contains a line break, which no key does",
					"agentphone.api_key contains a line break, which no key does");
		return NULL;
	}
	return agentphone_api_key;
}

/*
 * agentphone_key_problem says why agentphone_api_key_value() returned NULL;
 * the key file's path and errors only to superusers.
 */
const char *
agentphone_key_problem(void)
{
	return agentphone_key_problem_shown(superuser());
}

/*
 * agentphone_key_problem_shown is agentphone_key_problem() for a reader who
 * is a superuser or not: the worker (a superuser, outside any transaction)
 * logs the whole reason, and writes the other one where callers read it.
 */
const char *
agentphone_key_problem_shown(bool to_superuser)
{
	return to_superuser ? key_problem : key_problem_public;
}

/*
 * agentphone_key_source names the setting the key comes from.
 */
const char *
agentphone_key_source(void)
{
	if (agentphone_api_key_directory != NULL && agentphone_api_key_directory[0] != '\0')
		return "agentphone.api_key_directory";
	if (agentphone_api_key_file != NULL && agentphone_api_key_file[0] != '\0')
		return "agentphone.api_key_file";
	return "agentphone.api_key";
}

/*
 * agentphone_key_hint says what to do when agentphone_api_key_value()
 * found no key, without telling anyone to set what is already set.
 */
const char *
agentphone_key_hint(void)
{
	if (agentphone_api_key_directory != NULL && agentphone_api_key_directory[0] != '\0')
		return "Ask a superuser to put this database's key in a file named after the database in the directory agentphone.api_key_directory names: owned by the server's OS user, readable by nobody else (chmod 600). It is read again when it changes.";
	if (agentphone_api_key_file != NULL && agentphone_api_key_file[0] != '\0')
		return "Ask a superuser to fix the file named by agentphone.api_key_file: owned by the server's OS user, readable by nobody else (chmod 600), holding the key. It is read again when it changes.";
	if (agentphone_api_key != NULL && agentphone_api_key[0] != '\0')
		return "Ask a superuser to correct agentphone.api_key (or to use agentphone.api_key_file) and reload the configuration.";
	return "Ask a superuser to set agentphone.api_key_file (preferred) or agentphone.api_key and reload the configuration.";
}

/*
 * agentphone_key_hash is how a key is remembered without keeping it.
 */
uint64
agentphone_key_hash(const char *key)
{
	return hash_bytes_extended((const unsigned char *) key, (int) strlen(key), 0);
}

/*
 * agentphone_note_key_refused remembers that the API answered status (401)
 * to the key of hash key_hash: the one the request was sent with, which a
 * rotation may since have replaced.
 */
void
agentphone_note_key_refused(long status, uint64 key_hash)
{
	key_refused = true;
	refused_key_hash = key_hash;
	refused_status = status;
}

/*
 * agentphone_forget_key_refusal lets the worker try the key again (after
 * a reload: the account may have been fixed on the API's side).
 */
void
agentphone_forget_key_refusal(void)
{
	key_refused = false;
}

/*
 * agentphone_key_refused_problem says, while the key the API refused is
 * still the current one, why calls wait; NULL otherwise.
 */
const char *
agentphone_key_refused_problem(void)
{
	const char *key;

	if (!key_refused)
		return NULL;
	key = agentphone_api_key_value();
	if (key == NULL || agentphone_key_hash(key) != refused_key_hash)
	{
		key_refused = false;
		return NULL;
	}
	return psprintf("the AgentPhone API refused the key from %s (HTTP %ld); calls stay queued until it changes",
					agentphone_key_source(), refused_status);
}

/*
 * agentphone_known_keys lists the keys this process knows, for the log
 * redaction: the setting and the key last read from the file.  Never reads
 * the file (it runs inside the log hook).
 */
int
agentphone_known_keys(const char *keys[2])
{
	int			n = 0;

	if (agentphone_api_key && agentphone_api_key[0] != '\0')
		keys[n++] = agentphone_api_key;
	if (file_key)
		keys[n++] = file_key;
	return n;
}

/*
 * agentphone_url_problem returns why agentphone.api_url may not be used,
 * or NULL when it may.
 */
const char *
agentphone_url_problem(void)
{
	const char *url = agentphone_api_url;

	if (url == NULL || url[0] == '\0')
		return "agentphone.api_url is not set";
	if (pg_strncasecmp(url, "https://", 8) == 0)
		return NULL;
	if (pg_strncasecmp(url, "http://", 7) == 0 && agentphone_allow_insecure_http)
		return NULL;
	return "agentphone.api_url must use https (agentphone.allow_insecure_http allows http, for a local test API only)";
}

/* Keys shorter than this are not redacted (they would mangle every line). */
#define MIN_REDACT_LEN 6

/*
 * redact returns s with every occurrence of key replaced, or s itself when
 * the key does not occur.  The copy lives in the current (error) context.
 */
static char *
redact(char *s, const char *key, size_t keylen)
{
	StringInfoData buf;
	char	   *p;
	char	   *hit;

	if (s == NULL || (hit = strstr(s, key)) == NULL)
		return s;
	initStringInfo(&buf);
	p = s;
	do
	{
		appendBinaryStringInfo(&buf, p, hit - p);
		appendStringInfoString(&buf, "********");
		p = hit + keylen;
	} while ((hit = strstr(p, key)) != NULL);
	appendStringInfoString(&buf, p);
	return buf.data;
}

/*
 * assignment_value_start returns where the value begins when p (just past
 * "api_key") continues as an assignment: = or TO (SET, ALTER SYSTEM) or a
 * comma (set_config), with quotes and spaces around; else NULL.
 */
static char *
assignment_value_start(char *p)
{
	bool		assigns = false;

	for (;;)
	{
		if (*p == '=' || *p == ',')
			assigns = true, p++;
		else if (pg_strncasecmp(p, "to", 2) == 0 && (p[2] == ' ' || p[2] == '\''))
			assigns = true, p += 2;
		else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\'' || *p == '"')
		{
			if ((*p == '\'' || *p == '"') && assigns)
				break;
			p++;
		}
		else
			break;
	}
	return (assigns && *p) ? p : NULL;
}

/*
 * redact_assignments hides the value of every "api_key = ..." in s, so a
 * statement that sets a new key is not logged with it.  The value ends at
 * its closing quote, or at a space, semicolon or parenthesis.
 */
static char *
redact_assignments(char *s)
{
	StringInfoData buf;
	char	   *p = s;
	char	   *hit;
	bool		changed = false;

	if (s == NULL)
		return s;
	initStringInfo(&buf);
	while ((hit = strcasestr(p, "api_key")) != NULL)
	{
		char	   *v = assignment_value_start(hit + 7);
		char	   *end;

		if (v == NULL)
		{
			appendBinaryStringInfo(&buf, p, hit + 7 - p);
			p = hit + 7;
			continue;
		}
		if (*v == '\'' || *v == '"')
		{
			for (end = v + 1; *end && !(*end == *v && end[1] != *v); end++)
				if (*end == *v)
					end++;		/* a doubled quote inside the value */
			end += (*end != '\0');
		}
		else
			end = v + strcspn(v, " \t\n;),");
		appendBinaryStringInfo(&buf, p, v - p);
		appendStringInfoString(&buf, "'********'");
		p = end;
		changed = true;
	}
	if (!changed)
	{
		pfree(buf.data);
		return s;
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/*
 * agentphone_redact_keys returns s with every key this process knows
 * replaced by ********, or s itself when none occurs: for any text of the
 * network's (an error body that echoes the key) before it reaches a
 * table, an error or the worker's status, as the log hook does for
 * messages.  The copy lives in the current memory context.
 */
char *
agentphone_redact_keys(const char *s)
{
	const char *keys[2];
	int			nkeys = agentphone_known_keys(keys);
	char	   *out = (char *) s;

	for (int i = 0; i < nkeys; i++)
		if (strlen(keys[i]) >= MIN_REDACT_LEN)
			out = redact(out, keys[i], strlen(keys[i]));
	return out;
}

/*
 * agentphone_redact_log redacts the API key from every message on its way to
 * the server log or the client, whatever produced it: a failed statement
 * that quoted the key, log_statement, or the postmaster's "parameter
 * changed" line after a reload.  It also hides the value of any statement
 * that assigns agentphone.api_key (ALTER SYSTEM, set_config), which may be
 * a new key not yet loaded.  A statement that contains the key, or assigns
 * one, is not appended to the log either.
 */
void
agentphone_redact_log(ErrorData *edata)
{
	const char *keys[2];
	int			nkeys = agentphone_known_keys(keys);

	edata->message = redact_assignments(edata->message);
	edata->internalquery = redact_assignments(edata->internalquery);
	if (debug_query_string && strcasestr(debug_query_string, "api_key") != NULL &&
		redact_assignments((char *) debug_query_string) != debug_query_string)
		edata->hide_stmt = true;
	edata->message = agentphone_redact_keys(edata->message);
	edata->detail = agentphone_redact_keys(edata->detail);
	edata->detail_log = agentphone_redact_keys(edata->detail_log);
	edata->hint = agentphone_redact_keys(edata->hint);
	edata->context = agentphone_redact_keys(edata->context);
	edata->internalquery = agentphone_redact_keys(edata->internalquery);
	for (int i = 0; i < nkeys; i++)
		if (strlen(keys[i]) >= MIN_REDACT_LEN && debug_query_string &&
			strstr(debug_query_string, keys[i]) != NULL)
			edata->hide_stmt = true;
}
