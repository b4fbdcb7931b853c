/* See state_checkpoint.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_checkpoint.h"
#include "state_int.h"
#include "clock.h"
#include "log.h"

/* Binds "key starts with prefix" as ?2 for `substr(key, 1, length(?2)) = ?2`:
 * no LIKE, so '%' and '_' in keys mean themselves. */
#define CKPT_PREFIX_SQL " AND substr(key, 1, length(?2)) = ?2"

bp_status bp_state_checkpoint_list(bp_state *st, const char *scope, const char *prefix,
                                   char ***keys, size_t *n)
{
    *keys = NULL;
    *n = 0;
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    size_t count = 0, bytes = 0;
    pthread_mutex_lock(&st->mu);
    /* Two passes under one lock: the size of the block, then the block. */
    for (int pass = 0; pass < 2; pass++) {
        char **arr = NULL;
        char *strs = NULL;
        if (pass == 1) {
            arr = malloc((count + 1) * sizeof(char *) + bytes);
            if (arr == NULL) {
                rc = BP_ERR_NOMEM;
                break;
            }
            strs = (char *)(arr + count + 1);
        }
        if (sqlite3_prepare_v2(st->db,
                               "SELECT key FROM checkpoints WHERE scope=?1" CKPT_PREFIX_SQL
                               " ORDER BY key",
                               -1, &q, NULL) != SQLITE_OK) {
            free(arr);
            break;
        }
        sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, prefix ? prefix : "", -1, SQLITE_STATIC);
        size_t i = 0;
        int s;
        while ((s = sqlite3_step(q)) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(q, 0);
            size_t len = strlen(k ? k : "") + 1;
            if (pass == 0) {
                count++;
                bytes += len;
            } else if (i < count) {   /* rows added between passes: impossible under mu */
                memcpy(strs, k ? k : "", len);
                arr[i++] = strs;
                strs += len;
            }
        }
        sqlite3_finalize(q);
        q = NULL;
        if (s != SQLITE_DONE) {
            free(arr);
            break;
        }
        if (pass == 1) {
            arr[i] = NULL;
            *keys = arr;
            *n = i;
            rc = BP_OK;
        }
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_checkpoint_delete_prefix(bp_state *st, const char *scope, const char *prefix,
                                            size_t *n_deleted)
{
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    if (n_deleted)
        *n_deleted = 0;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db, "DELETE FROM checkpoints WHERE scope=?1" CKPT_PREFIX_SQL, -1,
                           &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, prefix ? prefix : "", -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_DONE) {
            rc = BP_OK;
            if (n_deleted)
                *n_deleted = (size_t)sqlite3_changes(st->db);
        }
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_checkpoint_set_many(bp_state *st, const char *scope, const char *const *keys,
                                       const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i] == NULL)
            return BP_ERR_INVALID;
    sqlite3_stmt *del = NULL;
    int ok;
    int64_t now = bp_now_ms();
    pthread_mutex_lock(&st->mu);
    ok = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        pthread_mutex_unlock(&st->mu);
        return BP_ERR_IO;
    }
    ok = sqlite3_prepare_v2(st->db, "DELETE FROM checkpoints WHERE scope=?1 AND key=?2", -1, &del,
                            NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < n; i++) {
        if (values[i]) {
            sqlite3_stmt *q = st->ckpt_put;
            sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, keys[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 3, values[i], -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 4, now);
            ok = sqlite3_step(q) == SQLITE_DONE;
            sqlite3_reset(q);
        } else {
            sqlite3_bind_text(del, 1, scope, -1, SQLITE_STATIC);
            sqlite3_bind_text(del, 2, keys[i], -1, SQLITE_STATIC);
            ok = sqlite3_step(del) == SQLITE_DONE;
            sqlite3_reset(del);
        }
    }
    sqlite3_finalize(del);
    bp_status rc = state_end(st, ok);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- stable scopes ------------------------------------------------------- */

/* 1 when scope has checkpoints or ledger rows. -1 on error. Lock held. */
static int scope_has_rows(bp_state *st, const char *scope)
{
    sqlite3_stmt *q = NULL;
    int r = -1;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT EXISTS(SELECT 1 FROM checkpoints WHERE scope=?1)"
                           " OR EXISTS(SELECT 1 FROM ledger_writes WHERE sink=?1)",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            r = sqlite3_column_int(q, 0) != 0;
    }
    sqlite3_finalize(q);
    return r;
}

static int scope_in_use(const bp_scope_use *uses, size_t n, const char *scope)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(uses[i].scope, scope) == 0)
            return 1;
    return 0;
}

static int scope_exec(bp_state *st, const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *q = NULL;
    int ok = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
        if (b)
            sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    sqlite3_finalize(q);
    return ok;
}

/* Unused scopes with rows whose recorded identity (or, with by_plugin, whose
 * plugin) equals key: their names, newline-separated, malloc'ed; *count how
 * many. Lock held. */
static char *scope_unused(bp_state *st, const bp_scope_use *uses, size_t n, const char *key,
                          const char *kind, int by_plugin, size_t *count)
{
    sqlite3_stmt *q = NULL;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    *count = 0;
    if (f == NULL)
        return NULL;
    /* For a source, also the scopes written before identities were recorded
     * that look like a source's ("route/connector"): re-reading everything is
     * the reset that costs most. Their plugin is unknown, so other kinds (a
     * stateless transform's scope is always empty) would only be noise. */
    const char *sql =
        !by_plugin ? "SELECT scope FROM checkpoint_scopes WHERE identity=?1 ORDER BY scope"
        : strcmp(kind, "source") == 0
            ? "SELECT scope FROM checkpoint_scopes WHERE plugin=?1 AND kind=?2 UNION"
              " SELECT DISTINCT scope FROM checkpoints WHERE scope NOT IN"
              " (SELECT scope FROM checkpoint_scopes) AND instr(scope, '#') = 0"
              " AND instr(scope, '/dead_letter:') = 0 AND substr(scope, 1, 7) <> 'lookup/'"
              " ORDER BY 1"
            : "SELECT scope FROM checkpoint_scopes WHERE plugin=?1 AND kind=?2 ORDER BY 1";
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        if (by_plugin)
            sqlite3_bind_text(q, 2, kind, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *s = (const char *)sqlite3_column_text(q, 0);
            if (s == NULL || scope_in_use(uses, n, s) || scope_has_rows(st, s) != 1)
                continue;
            fprintf(f, "%s%s", (*count)++ ? "\n" : "", s);
        }
    }
    sqlite3_finalize(q);
    fclose(f);
    return out;
}

bp_status bp_state_scopes_settle(bp_state *st, const bp_scope_use *uses, size_t n, char **errmsg)
{
    *errmsg = NULL;
    int ok = 1;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_exec(st->db,
                     "CREATE TABLE IF NOT EXISTS checkpoint_scopes(scope TEXT PRIMARY KEY,"
                     "  identity TEXT NOT NULL, plugin TEXT NOT NULL, kind TEXT NOT NULL,"
                     "  what TEXT,"
                     "  updated_ms INTEGER NOT NULL);"
                     "BEGIN IMMEDIATE",
                     NULL, NULL, NULL) != SQLITE_OK) {
        if (asprintf(errmsg, "state store: cannot record checkpoint scopes: %s",
                     sqlite3_errmsg(st->db)) < 0)
            *errmsg = NULL;
        pthread_mutex_unlock(&st->mu);
        return BP_ERR_IO;
    }
    /* First every move, then the warnings: a scope another use takes over in
     * this run is not "unused". */
    for (int pass = 0; ok && pass < 2; pass++) {
        for (size_t i = 0; ok && i < n; i++) {
            const bp_scope_use *u = &uses[i];
            int has = scope_has_rows(st, u->scope);
            if (has < 0) {
                ok = 0;
                break;
            }
            if (has)
                continue;
            /* Another scope in use with the same identity and no rows would
             * make the donor ambiguous: then nothing moves (warned). */
            size_t twins = 0;
            for (size_t k = 0; k < n; k++)
                twins += strcmp(uses[k].identity, u->identity) == 0 &&
                         scope_has_rows(st, uses[k].scope) == 0;
            size_t nd = 0;
            char *donors = scope_unused(st, uses, n, u->identity, NULL, 0, &nd);
            if (pass == 0 && nd == 1 && twins == 1) {
                ok = scope_exec(st, "UPDATE checkpoints SET scope=?1 WHERE scope=?2", u->scope,
                                donors) &&
                     scope_exec(st, "UPDATE ledger_writes SET sink=?1 WHERE sink=?2", u->scope,
                                donors) &&
                     scope_exec(st, "DELETE FROM checkpoint_scopes WHERE scope=?1", donors, NULL);
                if (ok)
                    bp_log(BP_LOG_INFO, NULL,
                           "%s: the checkpoints of '%s' now belong to '%s' (same plugin and "
                           "options: a renamed route or connector, or a transform that moved "
                           "in the chain)",
                           u->what, donors, u->scope);
            } else if (pass == 1) {
                size_t np = 0;
                char *same = nd ? NULL : scope_unused(st, uses, n, u->plugin, u->kind, 1, &np);
                char *list = nd ? donors : same;
                if (list && (nd || np)) {
                    /* "a\nb" -> "a', 'b": the list is quoted as a whole below. */
                    char *q = malloc(strlen(list) * 4 + 1), *w = q;
                    for (const char *p = list; q && *p; p++) {
                        if (*p == '\n') {
                            memcpy(w, "', '", 4);
                            w += 4;
                        } else {
                            *w++ = *p;
                        }
                    }
                    if (w)
                        *w = '\0';
                    bp_log(BP_LOG_WARN, NULL,
                           "%s: scope '%s' has no checkpoints, so it starts from the beginning; "
                           "the state store holds checkpoints that nothing in this site uses, of "
                           "%s %s %s%s: '%s'. If '%s' is one of them renamed, rename it back to "
                           "resume there, or move them before the next run: UPDATE checkpoints "
                           "SET scope='%s' WHERE scope='OLD' (sqlite3 on the state file, bus "
                           "stopped)",
                           u->what, u->scope, nd ? "a" : "another", u->plugin, u->kind,
                           nd ? " with the same options"
                              : strcmp(u->kind, "source") == 0 ? " (or from before 1.3)" : "",
                           q ? q : list, u->scope, u->scope);
                    free(q);
                }
                free(same);
            }
            free(donors);
        }
    }
    /* Record what each scope in use is, for the next run to recognise it. */
    int64_t now = bp_now_ms();
    sqlite3_stmt *q = NULL;
    if (ok && sqlite3_prepare_v2(st->db,
                                 "INSERT INTO checkpoint_scopes VALUES(?1,?2,?3,?4,?5,?6)"
                                 " ON CONFLICT(scope) DO UPDATE SET identity=excluded.identity,"
                                 " plugin=excluded.plugin, kind=excluded.kind, what=excluded.what,"
                                 " updated_ms=excluded.updated_ms",
                                 -1, &q, NULL) != SQLITE_OK)
        ok = 0;
    for (size_t i = 0; ok && i < n; i++) {
        sqlite3_bind_text(q, 1, uses[i].scope, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, uses[i].identity, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, uses[i].plugin, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, uses[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, uses[i].what, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 6, now);
        ok = sqlite3_step(q) == SQLITE_DONE;
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    if (!ok && asprintf(errmsg, "state store: cannot settle checkpoint scopes: %s",
                        sqlite3_errmsg(st->db)) < 0)
        *errmsg = NULL;
    bp_status rc = state_end(st, ok);
    pthread_mutex_unlock(&st->mu);
    return ok ? rc : BP_ERR_IO;
}
