/* The audit log's tables (issue 18, audit_log.h): audit_log (one row a leaf,
 * seq = the leaf's index from 0), audit_tree (the frontier: size and the
 * right-edge subtree roots), audit_checkpoints (signed notes). All their SQL. */
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "clock.h"
#include "state_int.h"

static const char audit_schema[] =
    "CREATE TABLE IF NOT EXISTS audit_log(seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,"
    "  actor TEXT, kind TEXT NOT NULL, route TEXT, source TEXT, id TEXT, subject TEXT,"
    "  payload TEXT, pruned INTEGER NOT NULL DEFAULT 0, leaf BLOB NOT NULL);"
    /* No index: an index per column would cost every append, and a trace
     * (by id, subject, or an id inside a batch entry's payload) scans anyway. */
    "CREATE TABLE IF NOT EXISTS audit_tree(one INTEGER PRIMARY KEY CHECK(one = 1),"
    "  size INTEGER NOT NULL, frontier BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_checkpoints(size INTEGER PRIMARY KEY,"
    "  root BLOB NOT NULL, note TEXT NOT NULL, at_ms INTEGER NOT NULL);";

bp_status bp_state_audit_migrate(bp_state *st, char **sqlerr)
{
    return bp_db_exec(st->db, audit_schema, NULL, NULL, sqlerr) == BP_DB_OK ? BP_OK
                                                                              : BP_ERR_IO;
}

static void audit_bind_opt(bp_db_stmt *q, int col, const char *s)
{
    if (s)
        bp_db_bind_text(q, col, s, -1, BP_DB_STATIC);
    else
        bp_db_bind_null(q, col);
}

/* The frontier as stored (size 0 when there is no row yet). Lock held. */
static int audit_load_tree(bp_state *st, bp_merkle_frontier *f)
{
    bp_db_stmt *q = NULL;
    int ok = 0;
    bp_merkle_frontier_init(f);
    if (bp_db_prepare_v2(st->db, "SELECT size, frontier FROM audit_tree WHERE one = 1", -1,
                           &q, NULL) != BP_DB_OK)
        return 0;
    int s = bp_db_step(q);
    if (s == BP_DB_DONE)
        ok = 1;
    else if (s == BP_DB_ROW)
        ok = bp_merkle_frontier_unpack(f, (uint64_t)bp_db_column_int64(q, 0),
                                       bp_db_column_blob(q, 1),
                                       (size_t)bp_db_column_bytes(q, 1)) == 0;
    bp_db_finalize(q);
    return ok;
}

/* The newest checkpoint's size and time (0, 0 when none). Lock held. */
static void audit_last_ckpt(bp_state *st, uint64_t *size, int64_t *at_ms)
{
    bp_db_stmt *q = NULL;
    *size = 0;
    *at_ms = 0;
    if (bp_db_prepare_v2(st->db, "SELECT size, at_ms FROM audit_checkpoints ORDER BY size DESC"
                           " LIMIT 1", -1, &q, NULL) == BP_DB_OK &&
        bp_db_step(q) == BP_DB_ROW) {
        *size = (uint64_t)bp_db_column_int64(q, 0);
        *at_ms = bp_db_column_int64(q, 1);
    }
    bp_db_finalize(q);
}

/* Stores a signed note of the tree f. Lock held, in a transaction. */
static int audit_store_ckpt(bp_state *st, const bp_merkle_frontier *f, int64_t now)
{
    bp_mhash root;
    if (bp_merkle_frontier_root(f, root) != 0)
        return 0;
    char *note = bp_audit_sign_note(st->audit_signer, f->size, root);
    if (note == NULL)
        return 0;
    bp_db_stmt *q = NULL;
    int ok = bp_db_prepare_v2(st->db, "INSERT INTO audit_checkpoints VALUES(?1,?2,?3,?4)"
                                " ON CONFLICT(size) DO UPDATE SET root=excluded.root,"
                                " note=excluded.note, at_ms=excluded.at_ms", -1, &q, NULL) == BP_DB_OK;
    if (ok) {
        bp_db_bind_int64(q, 1, (int64_t)f->size);
        bp_db_bind_blob(q, 2, root, BP_MERKLE_HASH, BP_DB_STATIC);
        bp_db_bind_text(q, 3, note, -1, BP_DB_STATIC);
        bp_db_bind_int64(q, 4, now);
        ok = bp_db_step(q) == BP_DB_DONE;
    }
    bp_db_finalize(q);
    free(note);
    return ok;
}

int bp_state_audit_append_locked(bp_state *st, const bp_audit_entry *e, size_t n)
{
    bp_merkle_frontier f;
    if (!audit_load_tree(st, &f))
        return 0;
    if (st->audit_put == NULL &&
        bp_db_prepare_v2(st->db, "INSERT INTO audit_log(seq,at_ms,actor,kind,route,source,id,"
                           "subject,payload,leaf) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)", -1,
                           &st->audit_put, NULL) != BP_DB_OK)
        return 0;
    int64_t now = bp_now_ms();
    int ok = 1;
    for (size_t i = 0; ok && i < n; i++) {
        bp_audit_entry x = e[i];
        if (x.at_ms == 0)
            x.at_ms = now;
        size_t len = 0;
        unsigned char *leaf = bp_audit_leaf_bytes(f.size, &x, &len);
        bp_mhash h;
        ok = leaf && bp_merkle_leaf_hash(leaf, len, h) == 0;
        free(leaf);
        if (!ok)
            break;
        bp_db_stmt *q = st->audit_put;
        bp_db_bind_int64(q, 1, (int64_t)f.size);
        bp_db_bind_int64(q, 2, x.at_ms);
        audit_bind_opt(q, 3, x.actor);
        audit_bind_opt(q, 4, x.kind ? x.kind : "");
        audit_bind_opt(q, 5, x.route);
        audit_bind_opt(q, 6, x.source);
        audit_bind_opt(q, 7, x.id);
        audit_bind_opt(q, 8, x.subject);
        audit_bind_opt(q, 9, x.payload);
        bp_db_bind_blob(q, 10, h, BP_MERKLE_HASH, BP_DB_STATIC);
        ok = bp_db_step(q) == BP_DB_DONE;
        bp_db_reset(q);
        bp_db_clear_bindings(q);
        ok = ok && bp_merkle_frontier_append(&f, h) == 0;
    }
    if (!ok)
        return 0;
    unsigned char buf[64 * BP_MERKLE_HASH];
    size_t blen = bp_merkle_frontier_pack(&f, buf);
    bp_db_stmt *q = NULL;
    ok = bp_db_prepare_v2(st->db, "INSERT INTO audit_tree VALUES(1, ?1, ?2) ON CONFLICT(one)"
                            " DO UPDATE SET size=excluded.size, frontier=excluded.frontier", -1, &q,
                            NULL) == BP_DB_OK;
    if (ok) {
        bp_db_bind_int64(q, 1, (int64_t)f.size);
        bp_db_bind_blob(q, 2, buf, (int)blen, BP_DB_STATIC);
        ok = bp_db_step(q) == BP_DB_DONE;
    }
    bp_db_finalize(q);
    if (ok && st->audit_signer) {
        uint64_t last;
        int64_t last_ms;
        audit_last_ckpt(st, &last, &last_ms);
        if (bp_audit_signer_due(st->audit_signer, f.size, last, last_ms, now))
            ok = audit_store_ckpt(st, &f, now);
    }
    return ok;
}

bp_status bp_audit_append_n(bp_state *st, const bp_audit_entry *e, size_t n)
{
    if (n == 0)
        return BP_OK;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == BP_DB_OK)
        rc = state_end(st, bp_state_audit_append_locked(st, e, n));
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_audit_append(bp_state *st, const bp_audit_entry *e)
{
    return bp_audit_append_n(st, e, 1);
}

bp_status bp_audit_checkpoint_now(bp_state *st)
{
    if (st->audit_signer == NULL)
        return BP_ERR_INVALID;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == BP_DB_OK) {
        bp_merkle_frontier f;
        uint64_t last;
        int64_t last_ms;
        int ok = audit_load_tree(st, &f);
        audit_last_ckpt(st, &last, &last_ms);
        if (ok && (f.size > last || last_ms == 0))
            ok = audit_store_ckpt(st, &f, bp_now_ms());
        rc = state_end(st, ok);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_audit_checkpoint_if_due(bp_state *st)
{
    bp_status rc = BP_OK;
    pthread_mutex_lock(&st->mu);
    bp_merkle_frontier f;
    uint64_t last;
    int64_t last_ms, now = bp_now_ms();
    if (st->audit_signer == NULL)
        goto out;
    /* Two reads a second, no write lock, while nothing is due. */
    if (!audit_load_tree(st, &f)) {
        rc = BP_ERR_IO;
        goto out;
    }
    audit_last_ckpt(st, &last, &last_ms);
    if (!bp_audit_signer_due(st->audit_signer, f.size, last, last_ms, now))
        goto out;
    rc = BP_ERR_IO;
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == BP_DB_OK) {
        /* Another process may have appended since: sign the tree as it is. */
        int ok = audit_load_tree(st, &f);
        rc = state_end(st, ok && audit_store_ckpt(st, &f, now));
    }
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_audit_latest_checkpoint(bp_state *st, char **note)
{
    *note = NULL;
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
                           -1, &q, NULL) == BP_DB_OK) {
        int s = bp_db_step(q);
        if (s == BP_DB_ROW) {
            *note = strdup((const char *)bp_db_column_text(q, 0));
            rc = *note ? BP_OK : BP_ERR_NOMEM;
        } else if (s == BP_DB_DONE) {
            rc = BP_ERR_NOT_FOUND;
        }
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static const char *audit_col(bp_db_stmt *q, int c)
{
    return (const char *)bp_db_column_text(q, c);
}

bp_status bp_state_audit_rows(bp_state *st, const char *where_sql, const char *arg,
                              int (*fn)(const bp_audit_row *row, void *ud), void *ud)
{
    char *sql = NULL;
    if (asprintf(&sql, "SELECT seq,at_ms,actor,kind,route,source,id,subject,payload,pruned,leaf"
                 " FROM audit_log %s ORDER BY seq", where_sql ? where_sql : "") < 0)
        return BP_ERR_NOMEM;
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, sql, -1, &q, NULL) == BP_DB_OK) {
        if (arg)
            bp_db_bind_text(q, 1, arg, -1, BP_DB_STATIC);
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW) {
            bp_audit_row r = {0};
            r.seq = bp_db_column_int64(q, 0);
            r.e.at_ms = bp_db_column_int64(q, 1);
            r.e.actor = audit_col(q, 2);
            r.e.kind = audit_col(q, 3);
            r.e.route = audit_col(q, 4);
            r.e.source = audit_col(q, 5);
            r.e.id = audit_col(q, 6);
            r.e.subject = audit_col(q, 7);
            r.e.payload = audit_col(q, 8);
            r.pruned = bp_db_column_int(q, 9);
            r.leaf = bp_db_column_blob(q, 10);
            r.leaf_len = (size_t)bp_db_column_bytes(q, 10);
            if (fn(&r, ud))
                break;
        }
        rc = s == BP_DB_ROW || s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    free(sql);
    return rc;
}

bp_status bp_state_audit_head(bp_state *st, bp_merkle_frontier *f, int *present)
{
    pthread_mutex_lock(&st->mu);
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    *present = 0;
    bp_merkle_frontier_init(f);
    if (bp_db_prepare_v2(st->db, "SELECT size, frontier FROM audit_tree", -1, &q, NULL) ==
        BP_DB_OK) {
        int s = bp_db_step(q);
        rc = BP_OK;
        if (s == BP_DB_ROW) {
            *present = 1;
            if (bp_merkle_frontier_unpack(f, (uint64_t)bp_db_column_int64(q, 0),
                                          bp_db_column_blob(q, 1),
                                          (size_t)bp_db_column_bytes(q, 1)) != 0)
                *present = -1;     /* damaged */
            if (bp_db_step(q) == BP_DB_ROW)
                *present = -1;
        } else if (s != BP_DB_DONE) {
            rc = BP_ERR_IO;
        }
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_audit_checkpoints(bp_state *st,
                                     int (*fn)(int64_t size, const void *root, size_t root_len,
                                               const char *note, void *ud),
                                     void *ud)
{
    pthread_mutex_lock(&st->mu);
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    if (bp_db_prepare_v2(st->db, "SELECT size, root, note FROM audit_checkpoints ORDER BY size",
                           -1, &q, NULL) == BP_DB_OK) {
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW)
            if (fn(bp_db_column_int64(q, 0), bp_db_column_blob(q, 1),
                   (size_t)bp_db_column_bytes(q, 1), audit_col(q, 2), ud))
                break;
        rc = s == BP_DB_ROW || s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int64_t bp_audit_prune(bp_state *st, int64_t older_than_ms)
{
    pthread_mutex_lock(&st->mu);
    bp_db_stmt *q = NULL;
    int64_t n = -1;
    if (bp_db_prepare_v2(st->db, "UPDATE audit_log SET payload = NULL, pruned = 1"
                           " WHERE at_ms < ?1 AND pruned = 0", -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_int64(q, 1, bp_now_ms() - older_than_ms);
        if (bp_db_step(q) == BP_DB_DONE)
            n = bp_db_changes(st->db);
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return n;
}
