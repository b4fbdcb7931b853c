/* Logging to stderr: levels, instance prefixes, text or JSON lines, and
 * masking of secret values so they never reach a log. Thread-safe. */
#ifndef BP_CORE_LOG_H
#define BP_CORE_LOG_H

#include <stdarg.h>
#include <backplane/plugin.h>

void bp_log_set_level(enum bp_log_level level);
enum bp_log_level bp_log_get_level(void);
/* json = 1: one JSON object per line ({"ts","level","instance","msg"}). */
void bp_log_set_json(int json);
/* Parses "error|warn|info|debug"; returns -1 for anything else. */
int bp_log_level_parse(const char *s);

/* Registers a secret value (copied): every later log line shows "****" in its
 * place; one shorter than 4 bytes where it stands alone (not inside a word). */
void bp_log_add_secret(const char *value);
/* Forgets all registered secrets (tests, embedding programs reloading a site). */
void bp_log_clear_secrets(void);

/* Masks registered secrets and URL user info (smtp: u:pw@h shown as ****@h)
 * in s. Takes s (malloc'ed); returns the masked text, malloc'ed (free()), or NULL
 * when out of memory. Thread-safe. */
char *bp_log_mask(char *s);

/* --log-file: appends to path (created 0640) from now on, onto stderr
 * itself, so what libraries print there lands in it too; journald is no
 * longer used. BP_OK, or an error with *errmsg (malloc'ed). Thread: main,
 * before threads start. */
bp_status bp_log_set_file(const char *path, char **errmsg);
/* Reopens the --log-file path (logrotate moved the file: SIGUSR1).
 * Async-signal-safe (open, dup2, close): call it from the handler. 0, or -1
 * (the old file stays in use). Nothing to do without --log-file. */
int bp_log_reopen(void);
/* Lines go to journald (native entries with fields) when the process runs
 * under systemd with stderr still the stream JOURNAL_STREAM names, the build
 * has libsystemd and no --log-file was given; decided at the first line. */

/* Structured fields of a line, beyond the prefix (route or route/instance):
 * journald's PLUGIN and RECORD_ID, JSON's "plugin" and "record_id". Each may
 * be NULL; borrowed for the call. */
typedef struct bp_log_fields {
    const char *plugin;
    const char *record_id;
} bp_log_fields;

/* prefix may be NULL (a route's prefix is its name, an instance's
 * "route/connector" and the like: journald's ROUTE is the part before '/'). */
void bp_log(enum bp_log_level level, const char *prefix, const char *fmt, ...) BP_PRINTF(3, 4);
void bp_logv(enum bp_log_level level, const char *prefix, const char *fmt, va_list ap);
/* A line about one record (parked, decided, retried, replayed, dropped,
 * dead-lettered, refused by a transform): as bp_log, with journald's PLUGIN
 * and RECORD_ID fields, JSON's "plugin" and "record_id" keys, and
 * " (record_id=ID)" at the end of a text line, so `journalctl RECORD_ID=42`
 * or a grep finds every line of that record. plugin (the plugin's name, not
 * the instance's) and record_id may be NULL; borrowed for the call. A line
 * below the level costs one comparison: nothing is formatted or allocated.
 * Thread-safe. */
void bp_log_rec(enum bp_log_level level, const char *prefix, const char *plugin,
                const char *record_id, const char *fmt, ...) BP_PRINTF(5, 6);
/* As bp_log with fields (may be NULL). */
void bp_log_with(enum bp_log_level level, const char *prefix, const bp_log_fields *fields,
                    const char *fmt, ...) BP_PRINTF(4, 5);
void bp_logv_fields(enum bp_log_level level, const char *prefix, const bp_log_fields *fields,
                    const char *fmt, va_list ap);

#endif
