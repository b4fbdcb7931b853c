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

/* prefix may be NULL. */
void bp_log(enum bp_log_level level, const char *prefix, const char *fmt, ...) BP_PRINTF(3, 4);
void bp_logv(enum bp_log_level level, const char *prefix, const char *fmt, va_list ap);

#endif
