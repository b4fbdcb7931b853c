/* See state_tokens.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "clock.h"
#include "state_int.h"
#include "state_tokens.h"

/* last_used is written at most this often per token: a token used by a
 * dashboard every second must not turn each read into a write. */
#define TOKEN_TOUCH_MS 60000

bp_status bp_state_tokens_migrate(bp_state *st)
{
    pthread_mutex_lock(&st->mu);
    int rc = sqlite3_exec(st->db,
                          "CREATE TABLE IF NOT EXISTS tokens(name TEXT PRIMARY KEY,"
                          "  role TEXT NOT NULL, hash BLOB NOT NULL, created_ms INTEGER NOT NULL,"
                          "  created_by TEXT NOT NULL, last_used_ms INTEGER NOT NULL DEFAULT 0);",
                          NULL, NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    return rc == SQLITE_OK ? BP_OK : BP_ERR_IO;
}

bp_status bp_state_token_add(bp_state *st, const char *name, const char *role,
                             const unsigned char hash[BP_TOKEN_HASH_LEN], const char *actor)
{
    if (bp_state_tokens_migrate(st) != BP_OK)
        return BP_ERR_IO;
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO tokens(name,role,hash,created_ms,created_by) "
                           "VALUES(?,?,?,?,?)", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, role, -1, SQLITE_STATIC);
        sqlite3_bind_blob(q, 3, hash, BP_TOKEN_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, bp_now_ms());
        sqlite3_bind_text(q, 5, actor, -1, SQLITE_STATIC);
        int s = sqlite3_step(q);
        rc = s == SQLITE_DONE ? BP_OK
             : (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_PRIMARYKEY) ? BP_ERR_FULL
                                                                                  : BP_ERR_IO;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_token_remove(bp_state *st, const char *name)
{
    if (bp_state_tokens_migrate(st) != BP_OK)
        return BP_ERR_IO;
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db, "DELETE FROM tokens WHERE name=?", -1, &q, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_DONE)
            rc = sqlite3_changes(st->db) > 0 ? BP_OK : BP_ERR_NOT_FOUND;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_tokens_foreach(bp_state *st, int (*fn)(const bp_token_row *t, void *ud),
                                  void *ud)
{
    if (bp_state_tokens_migrate(st) != BP_OK)
        return BP_ERR_IO;
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT name,role,created_by,created_ms,last_used_ms FROM tokens "
                           "ORDER BY name", -1, &q, NULL) == SQLITE_OK) {
        int s;
        while ((s = sqlite3_step(q)) == SQLITE_ROW) {
            bp_token_row t = {
                .name = (const char *)sqlite3_column_text(q, 0),
                .role = (const char *)sqlite3_column_text(q, 1),
                .created_by = (const char *)sqlite3_column_text(q, 2),
                .created_ms = sqlite3_column_int64(q, 3),
                .last_used_ms = sqlite3_column_int64(q, 4),
            };
            if (fn(&t, ud)) {
                s = SQLITE_DONE;
                break;
            }
        }
        rc = s == SQLITE_DONE ? BP_OK : BP_ERR_IO;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int bp_state_token_match(bp_state *st, const unsigned char hash[BP_TOKEN_HASH_LEN],
                         int64_t now_ms, char **name, char **role)
{
    *name = *role = NULL;
    sqlite3_stmt *q = NULL;
    int r = -1;
    int64_t last = 0;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db, "SELECT name,role,hash,last_used_ms FROM tokens", -1, &q,
                           NULL) == SQLITE_OK) {
        int s;
        r = 0;
        while ((s = sqlite3_step(q)) == SQLITE_ROW) {
            const void *h = sqlite3_column_blob(q, 2);
            int same = sqlite3_column_bytes(q, 2) == BP_TOKEN_HASH_LEN && h &&
                       CRYPTO_memcmp(h, hash, BP_TOKEN_HASH_LEN) == 0;
            if (same && r == 0) {
                r = 1;
                *name = strdup((const char *)sqlite3_column_text(q, 0));
                *role = strdup((const char *)sqlite3_column_text(q, 1));
                last = sqlite3_column_int64(q, 3);
            }
        }
        if (s != SQLITE_DONE)
            r = -1;
    } else if (strstr(sqlite3_errmsg(st->db), "no such table")) {
        r = 0;   /* no token was ever made */
    }
    sqlite3_finalize(q);
    q = NULL;
    if (r == 1 && *name && now_ms - last >= TOKEN_TOUCH_MS &&
        sqlite3_prepare_v2(st->db, "UPDATE tokens SET last_used_ms=? WHERE name=?", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, now_ms);
        sqlite3_bind_text(q, 2, *name, -1, SQLITE_STATIC);
        (void)sqlite3_step(q);
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    if (r == 1 && (*name == NULL || *role == NULL)) {
        free(*name);
        free(*role);
        *name = *role = NULL;
        r = -1;
    }
    return r;
}
