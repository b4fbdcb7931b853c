/* Diagnostics: a list of "file:line:col: message" errors, so `check` can
 * report every problem of a site file at once instead of the first. */
#ifndef BP_CORE_DIAG_H
#define BP_CORE_DIAG_H

#include <stddef.h>
#include <stdio.h>
#include <backplane/plugin.h>

typedef struct bp_diags {
    char **msgs;
    size_t n, cap;
} bp_diags;

/* Appends "file:line:col: message" (file NULL or line 0 drop the position). */
void bp_diags_add(bp_diags *d, const char *file, int line, int col, const char *fmt, ...)
    BP_PRINTF(5, 6);
/* Prints each message on its own line. */
void bp_diags_print(const bp_diags *d, FILE *f);
void bp_diags_free(bp_diags *d);

#endif
