/* See state_tokens.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "state_int.h"
#include "state_tokens.h"

/* last_used is written at most this often per token: a token used by a
 * dashboard every second must not turn each read into a write. */
#define TOKEN_TOUCH_MS 60000

bp_status bp_state_tokens_migrate(bp_state *st)
{
    pthread_mutex_lock(&st->mu);
    int rc = bp_db_exec(st->db,
                          "CREATE TABLE IF NOT EXISTS tokens(name TEXT PRIMARY KEY,"
                          "  role TEXT NOT NULL, hash BLOB NOT NULL, created_ms INTEGER NOT NULL,"
                          "  created_by TEXT NOT NULL, last_used_ms INTEGER NOT NULL DEFAULT 0);",
                          NULL, NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    return rc == BP_DB_OK ? BP_OK : BP_ERR_IO;
}

bp_status bp_state_token_add(bp_state *st, const char *name, const char *role,
                             const unsigned char hash[BP_TOKEN_HASH_LEN], const char *actor)
{
    if (bp_state_tokens_migrate(st) != BP_OK)
        return BP_ERR_IO;
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "INSERT INTO tokens(name,role,hash,created_ms,created_by) "
                           "VALUES(?,?,?,?,?)", -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, name, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, role, -1, BP_DB_STATIC);
        bp_db_bind_blob(q, 3, hash, BP_TOKEN_HASH_LEN, BP_DB_STATIC);
        bp_db_bind_int64(q, 4, bp_now_ms());
        bp_db_bind_text(q, 5, actor, -1, BP_DB_STATIC);
        int s = bp_db_step(q);
        rc = s == BP_DB_DONE ? BP_OK
             : (bp_db_extended_errcode(st->db) == BP_DB_CONSTRAINT_PRIMARYKEY) ? BP_ERR_FULL
                                                                                  : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_token_remove(bp_state *st, const char *name)
{
    if (bp_state_tokens_migrate(st) != BP_OK)
        return BP_ERR_IO;
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "DELETE FROM tokens WHERE name=?", -1, &q, NULL) ==
        BP_DB_OK) {
        bp_db_bind_text(q, 1, name, -1, BP_DB_STATIC);
        if (bp_db_step(q) == BP_DB_DONE)
            rc = bp_db_changes(st->db) > 0 ? BP_OK : BP_ERR_NOT_FOUND;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_tokens_foreach(bp_state *st, int (*fn)(const bp_token_row *t, void *ud),
                                  void *ud)
{
    if (bp_state_tokens_migrate(st) != BP_OK)
        return BP_ERR_IO;
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "SELECT name,role,created_by,created_ms,last_used_ms FROM tokens "
                           "ORDER BY name", -1, &q, NULL) == BP_DB_OK) {
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW) {
            bp_token_row t = {
                .name = (const char *)bp_db_column_text(q, 0),
                .role = (const char *)bp_db_column_text(q, 1),
                .created_by = (const char *)bp_db_column_text(q, 2),
                .created_ms = bp_db_column_int64(q, 3),
                .last_used_ms = bp_db_column_int64(q, 4),
            };
            if (fn(&t, ud)) {
                s = BP_DB_DONE;
                break;
            }
        }
        rc = s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int bp_state_token_match(bp_state *st, const unsigned char hash[BP_TOKEN_HASH_LEN],
                         int64_t now_ms, char **name, char **role)
{
    *name = *role = NULL;
    bp_db_stmt *q = NULL;
    int r = -1;
    int64_t last = 0;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "SELECT name,role,hash,last_used_ms FROM tokens", -1, &q,
                           NULL) == BP_DB_OK) {
        int s;
        r = 0;
        while ((s = bp_db_step(q)) == BP_DB_ROW) {
            const void *h = bp_db_column_blob(q, 2);
            int same = bp_db_column_bytes(q, 2) == BP_TOKEN_HASH_LEN && h &&
                       CRYPTO_memcmp(h, hash, BP_TOKEN_HASH_LEN) == 0;
            if (same && r == 0) {
                r = 1;
                *name = strdup((const char *)bp_db_column_text(q, 0));
                *role = strdup((const char *)bp_db_column_text(q, 1));
                last = bp_db_column_int64(q, 3);
            }
        }
        if (s != BP_DB_DONE)
            r = -1;
    } else if (strstr(bp_db_errmsg(st->db), "no such table")) {   /* SQLite: at prepare */
        r = 0;   /* no token was ever made */
    }
    bp_db_finalize(q);
    q = NULL;
    if (r == 1 && *name && now_ms - last >= TOKEN_TOUCH_MS &&
        bp_db_prepare_v2(st->db, "UPDATE tokens SET last_used_ms=? WHERE name=?", -1, &q,
                           NULL) == BP_DB_OK) {
        bp_db_bind_int64(q, 1, now_ms);
        bp_db_bind_text(q, 2, *name, -1, BP_DB_STATIC);
        (void)bp_db_step(q);
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    if (r == 1 && (*name == NULL || *role == NULL)) {
        free(*name);
        free(*role);
        *name = *role = NULL;
        r = -1;
    }
    return r;
}
