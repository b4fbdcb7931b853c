/* See ledger.h. */
#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "ledger.h"
#include "log.h"

void bp_ledger_clear(bp_ledger *l)
{
    bp_keyset_free(l->prev);
    free(l->rows);
    free(l->row_seq);
    free(l->kbuf);
    memset(l, 0, sizeof(*l));
}

static void ledger_key_cb(const char *key, size_t len, void *ud)
{
    bp_keyset_add(ud, key, len);
}

bp_status bp_ledger_load(bp_ledger *l, bp_state *st, const char *sink, const char *log_name)
{
    if (l->loaded)
        return BP_OK;
    l->prev = bp_keyset_new();
    if (l->prev == NULL)
        return BP_ERR_NOMEM;
    if (bp_state_ledger_load(st, sink, ledger_key_cb, l->prev) != BP_OK)
        return BP_ERR_IO;
    l->loaded = 1;
    if (bp_keyset_count(l->prev))
        bp_log(BP_LOG_INFO, log_name,
               "write-back ledger: %zu record(s) applied before a restart will not be "
               "applied again", bp_keyset_count(l->prev));
    return BP_OK;
}

/* "source\x1fid" of env into l->kbuf; returns its length (0: out of memory). */
static size_t ledger_key(bp_ledger *l, const bp_envelope *env)
{
    const char *a = bp_envelope_get0_attr(env, "source"), *b = bp_envelope_get0_attr(env, "id");
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 2 > l->kcap) {
        char *p = realloc(l->kbuf, la + lb + 64);
        if (p == NULL)
            return 0;
        l->kbuf = p;
        l->kcap = la + lb + 64;
    }
    memcpy(l->kbuf, a, la);
    l->kbuf[la] = '\x1f';
    memcpy(l->kbuf + la + 1, b, lb + 1);
    return la + lb + 1;
}

int bp_ledger_applied_before(bp_ledger *l, const bp_envelope *env)
{
    if (l->prev == NULL || bp_keyset_count(l->prev) == 0)
        return 0;
    size_t klen = ledger_key(l, env);
    return klen && bp_keyset_has(l->prev, l->kbuf, klen);
}

/* Moves this run's rows below acked into forget (capacity cap); returns how
 * many. */
static size_t ledger_acked_rows(bp_ledger *l, uint64_t acked, int64_t *forget, size_t cap)
{
    size_t n = 0, keep = 0;
    for (size_t i = 0; i < l->n_rows; i++) {
        if (l->row_seq[i] < acked && n < cap) {
            forget[n++] = l->rows[i];
        } else {
            l->rows[keep] = l->rows[i];
            l->row_seq[keep++] = l->row_seq[i];
        }
    }
    l->n_rows = keep;
    return n;
}

static int ledger_remember(bp_ledger *l, int64_t row, uint64_t max_seq)
{
    if (l->n_rows == l->cap_rows) {
        size_t cap = l->cap_rows ? l->cap_rows * 2 : 16;
        int64_t *r = realloc(l->rows, cap * sizeof(*r));
        if (r == NULL)
            return -1;
        l->rows = r;
        uint64_t *q = realloc(l->row_seq, cap * sizeof(*q));
        if (q == NULL)
            return -1;
        l->row_seq = q;
        l->cap_rows = cap;
    }
    l->rows[l->n_rows] = row;
    l->row_seq[l->n_rows++] = max_seq;
    return 0;
}

bp_status bp_ledger_commit(bp_ledger *l, bp_state *st, const char *sink,
                           const bp_envelope *const *accepted, size_t n, uint64_t max_seq,
                           uint64_t acked, const char *ckpt_key, const char *ckpt_value)
{
    const char **src = calloc(n ? n : 1, sizeof(*src)), **id = calloc(n ? n : 1, sizeof(*id));
    bp_status rc = BP_ERR_NOMEM;
    if (src && id) {
        for (size_t k = 0; k < n; k++) {
            src[k] = bp_envelope_get0_attr(accepted[k], "source");
            id[k] = bp_envelope_get0_attr(accepted[k], "id");
        }
        int64_t forget[64], row = 0;
        size_t n_forget = ledger_acked_rows(l, acked, forget, 64);
        rc = bp_state_ledger_commit(st, sink, src, id, n, ckpt_key, ckpt_value, forget, n_forget,
                                    &row);
        if (rc == BP_OK && row && ledger_remember(l, row, max_seq) < 0)
            rc = BP_ERR_NOMEM;
    }
    free(src);
    free(id);
    return rc;
}

bp_status bp_ledger_forget_acked(bp_ledger *l, bp_state *st, const char *sink, uint64_t acked)
{
    int64_t forget[64];
    size_t n_forget;
    while ((n_forget = ledger_acked_rows(l, acked, forget, 64)) > 0)
        if (bp_state_ledger_commit(st, sink, NULL, NULL, 0, NULL, NULL, forget, n_forget, NULL) !=
            BP_OK)
            return BP_ERR_IO;
    return BP_OK;
}

int64_t bp_ledger_prune(bp_state *st, int64_t retention_ms, int64_t now_ms)
{
    if (retention_ms <= 0)   /* a site built without bp_site_load */
        retention_ms = BP_LEDGER_RETENTION_DEFAULT_MS;
    return bp_state_ledger_prune(st, now_ms - retention_ms);
}
