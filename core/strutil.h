/* Small string helpers shared across core (one copy, not one per file). */
#ifndef BP_CORE_STRUTIL_H
#define BP_CORE_STRUTIL_H

#include <stdarg.h>
#include <backplane/plugin.h>

/* printf into a new malloc'ed string; NULL when out of memory. */
char *bp_strfmt(const char *fmt, ...) BP_PRINTF(1, 2);
char *bp_vstrfmt(const char *fmt, va_list ap);

/* Stores a malloc'ed message in *errmsg (when errmsg is not NULL) and returns
 * st, so failure sites read `return bp_set_err(errmsg, BP_ERR_INVALID, ...)`.
 * If the message cannot be allocated, *errmsg is NULL and st still returned. */
bp_status bp_set_err(char **errmsg, bp_status st, const char *fmt, ...) BP_PRINTF(3, 4);

/* s with its control characters written as escapes, so record data cannot
 * forge a log line or drive a terminal: LF CR TAB as \n \r \t, other C0
 * bytes and DEL as \xHH, C1 controls (UTF-8 U+0080..U+009F) as \u00HH.
 * Characters in keep (e.g. "\n\t") are left as they are; keep may be NULL.
 * Returns a malloc'ed string (free()), NULL when out of memory or s is NULL.
 * Thread-safe. */
char *bp_escape_controls(const char *s, const char *keep);

/* Opens path for writing ("w": truncate, "a": append) as fopen does, but a
 * file it creates is mode 0600 whatever the umask: exports of review
 * corrections and the like hold personal data. NULL with errno on failure. */
#include <stdio.h>
FILE *bp_fopen_private(const char *path, const char *mode);

#endif
