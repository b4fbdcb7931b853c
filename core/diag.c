#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "log.h"

void bp_diags_add(bp_diags *d, const char *file, int line, int col, const char *fmt, ...)
{
    char *body = NULL, *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&body, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    if (file && line > 0)
        r = asprintf(&msg, "%s:%d:%d: %s", file, line, col, body);
    else if (file)
        r = asprintf(&msg, "%s: %s", file, body);
    else
        r = asprintf(&msg, "%s", body);
    free(body);
    if (r < 0)
        return;
    /* A plugin's init message may quote a secret: `check` and `run` never print one. */
    if ((msg = bp_log_mask(msg)) == NULL)
        return;
    /* A connector used by several routes would repeat its errors: say each once. */
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->msgs[i], msg) == 0) {
            free(msg);
            return;
        }
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **m = realloc(d->msgs, cap * sizeof(*m));
        if (m == NULL) {
            free(msg);
            return;
        }
        d->msgs = m;
        d->cap = cap;
    }
    d->msgs[d->n++] = msg;
}

void bp_diags_print(const bp_diags *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(f, "%s\n", d->msgs[i]);
}

void bp_diags_free(bp_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    memset(d, 0, sizeof(*d));
}
