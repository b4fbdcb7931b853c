/* See state.h. */
#include <fcntl.h>
#include <pthread.h>
#include "db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "log.h"
#include "clock.h"

/* "BPL1": marks the file as ours, so a foreign database is never written to. */
#define STATE_APP_ID 0x42504c31
#define STATE_SCHEMA 1

#include "state_int.h"
#include "state_tokens.h"
#include "state_control.h"
#include "audit_int.h"

#define STATE_CKPT_UPSERT                                                            \
    "INSERT INTO checkpoints VALUES(?1,?2,?3,?4) ON CONFLICT(scope,key)"            \
    " DO UPDATE SET value=excluded.value, updated_ms=excluded.updated_ms"

static const char state_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS checkpoints(scope TEXT NOT NULL, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY(scope, key));"
    "CREATE TABLE IF NOT EXISTS dead_letters(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  route TEXT NOT NULL, stage TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ledger_writes(row INTEGER PRIMARY KEY, sink TEXT NOT NULL,"
    "  applied_ms INTEGER NOT NULL, keys BLOB NOT NULL);"
    /* issue 18: the Merkle log (audit_log, state_audit.c) is the one audit
     * store. An older file's plain `audit` table is left as it was: nothing
     * writes or reads it any more. */
    "DROP INDEX IF EXISTS audit_record;"
    "CREATE TABLE IF NOT EXISTS review_queue(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  route TEXT NOT NULL, stage TEXT NOT NULL, reason TEXT NOT NULL, payload TEXT,"
    "  created_ms INTEGER NOT NULL);";

static char *state_fmt_err(const char *path, const char *what, const char *detail)
{
    char *s = NULL;
    if (asprintf(&s,
                 "state file %s: %s (%s). Recovery: move the file aside and start again; "
                 "sources then resume from their configured start (see docs/state.md)",
                 path, what, detail) < 0)
        s = NULL;
    return s;
}

/* Missing and permission denied are told apart from corrupt before SQLite
 * sees the file: their fix is never "move the file aside" (that would throw
 * the review queue and the dead letters away). */
static bp_status state_precheck(const char *path, int create, char **errmsg)
{
    struct stat sb;
    char *s = NULL;
    if (stat(path, &sb) != 0) {
        int e = errno;
        if (e == ENOENT && create)
            return BP_OK;
        if (e == ENOENT) {
            if (asprintf(&s, "state file %s does not exist (the site has not run yet, or "
                             "its 'state:' names another file)", path) < 0)
                s = NULL;
            *errmsg = s;
            return BP_ERR_NOT_FOUND;
        }
        if (asprintf(&s, "state file %s: %s", path,
                     e == EACCES ? "permission denied (a directory on its path is not "
                                   "searchable by this user)" : strerror(e)) < 0)
            s = NULL;
        *errmsg = s;
        return BP_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        if (asprintf(&s, "state file %s: not a regular file", path) < 0)
            s = NULL;
        *errmsg = s;
        return BP_ERR_INVALID;
    }
    if (access(path, R_OK | W_OK) != 0) {
        int e = errno;
        if (asprintf(&s, "state file %s: %s (owner uid %ld, mode %04o; run as its owner or "
                         "a user it grants read and write)", path,
                     e == EACCES ? "permission denied" : strerror(e), (long)sb.st_uid,
                     (unsigned)(sb.st_mode & 07777)) < 0)
            s = NULL;
        *errmsg = s;
        return BP_ERR_IO;
    }
    return BP_OK;
}

static bp_status state_init(bp_state *st, const char *path, const char *site, char **errmsg);

/* uri without its password (user:PASSWORD@ and password=...), for messages,
 * status and the log: malloc'ed. */
static char *state_redact_uri(const char *uri)
{
    char *r = strdup(uri);
    if (r == NULL)
        return NULL;
    char *auth = strstr(r, "://");
    if (auth) {
        auth += 3;
        char *at = strchr(auth, '@');
        char *slash = strchr(auth, '/');
        char *colon = strchr(auth, ':');
        if (at && (slash == NULL || at < slash) && colon && colon < at)
            memmove(colon, at, strlen(at) + 1);
    }
    char *pw = strstr(r, "password=");
    if (pw) {
        char *end = strchr(pw, '&');
        memmove(pw + 9, end ? end : pw + strlen(pw), strlen(end ? end : pw + strlen(pw)) + 1);
    }
    return r;
}

/* SQLite's functions that the common dialect uses, defined in PostgreSQL. */
static const char state_pg_compat[] =
    "CREATE OR REPLACE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE"
    "  AS 'SELECT strpos($1, $2)';"
    "CREATE OR REPLACE FUNCTION json_quote(text) RETURNS text LANGUAGE sql IMMUTABLE"
    "  AS 'SELECT to_json($1)::text';"
    /* SQLite's JSON1 as the review reopen uses them (json_extract's '$.a.b'
     * paths only): NULL or false for text that is no JSON, as in SQLite. */
    "CREATE OR REPLACE FUNCTION json_valid(text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE"
    "  AS 'BEGIN PERFORM $1::jsonb; RETURN $1 IS NOT NULL;"
    "  EXCEPTION WHEN others THEN RETURN false; END';"
    "CREATE OR REPLACE FUNCTION json_extract(text, text) RETURNS text LANGUAGE plpgsql IMMUTABLE"
    "  AS 'BEGIN RETURN ($1::jsonb) #>> string_to_array(substr($2, 3), ''.'');"
    "  EXCEPTION WHEN others THEN RETURN NULL; END';";

/* PostgreSQL state (DESIGN.md §10): the same tables, shared by the site's
 * instances. Two instances starting at once create the tables under an
 * advisory lock (CREATE TABLE IF NOT EXISTS races in the catalog). */
static bp_status state_open_pg(const char *uri, const char *site, bp_state **out, char **errmsg)
{
    char *shown = state_redact_uri(uri);
    bp_state *st = calloc(1, sizeof(*st));
    if (st == NULL || shown == NULL) {
        free(st);
        free(shown);
        return BP_ERR_NOMEM;
    }
    pthread_mutex_init(&st->mu, NULL);
    char *why = NULL;
    if (bp_db_open_pg(uri, &st->db, &why) != BP_DB_OK) {
        if (asprintf(errmsg, "state %s: cannot connect (%s)", shown, why ? why : "?") < 0)
            *errmsg = NULL;
        free(why);
        free(shown);
        bp_state_close(st);
        return BP_ERR_IO;
    }
    st->path = shown;
    bp_status rc = BP_ERR_IO;
    if (bp_db_exec(st->db, "SELECT pg_advisory_lock(1112558641)", NULL, NULL, NULL) == BP_DB_OK) {
        rc = bp_db_exec(st->db, state_pg_compat, NULL, NULL, NULL) == BP_DB_OK
                 ? state_init(st, shown, site, errmsg)
                 : BP_ERR_IO;
        /* Tables other parts create when first used: here too, so instances
         * starting together never race on them in the catalog. */
        if (rc == BP_OK && (bp_state_scopes_migrate(st) != BP_OK ||
                            bp_state_control_migrate(st) != BP_OK ||
                            bp_state_tokens_migrate(st) != BP_OK))
            rc = BP_ERR_IO;
        bp_db_exec(st->db, "SELECT pg_advisory_unlock(1112558641)", NULL, NULL, NULL);
    }
    if (rc != BP_OK) {
        if (*errmsg == NULL &&
            asprintf(errmsg, "state %s: cannot initialise (%s)", shown, bp_db_errmsg(st->db)) < 0)
            *errmsg = NULL;
        bp_state_close(st);
        return rc;
    }
    *out = st;
    return BP_OK;
}

/* The schema version (meta): a store written by a newer backplane is
 * refused (its tables may mean something this one does not know); an older
 * one was migrated by state_init and gets this version. */
static bp_status state_check_version(bp_state *st, const char *path, const char *site,
                                     char **errmsg)
{
    (void)site;
    bp_db_stmt *q = NULL;
    int64_t v = -1;
    if (bp_db_prepare_v2(st->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &q,
                         NULL) == BP_DB_OK &&
        bp_db_step(q) == BP_DB_ROW)
        v = bp_db_column_int64(q, 0);
    bp_db_finalize(q);
    if (v < 0) {
        *errmsg = state_fmt_err(path, "no schema version", bp_db_errmsg(st->db));
        return BP_ERR_IO;
    }
    if (v > STATE_SCHEMA) {
        char detail[96];
        snprintf(detail, sizeof(detail), "schema version %lld, this backplane knows %d",
                 (long long)v, STATE_SCHEMA);
        *errmsg = state_fmt_err(path, "written by a newer backplane", detail);
        return BP_ERR_INVALID;
    }
    if (v < STATE_SCHEMA) {
        char sql[96];
        snprintf(sql, sizeof(sql), "UPDATE meta SET value='%d' WHERE key='schema_version'",
                 STATE_SCHEMA);
        if (bp_db_exec(st->db, sql, NULL, NULL, NULL) != BP_DB_OK)
            return BP_ERR_IO;
    }
    return BP_OK;
}

static bp_status state_open(const char *path, const char *site, int create, bp_state **out,
                            char **errmsg)
{
    *out = NULL;
    *errmsg = NULL;
    if (bp_db_target_is_pg(path))
        return state_open_pg(path, site, out, errmsg);
    bp_status pre = state_precheck(path, create, errmsg);
    if (pre != BP_OK)
        return pre;
    bp_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return BP_ERR_NOMEM;
    pthread_mutex_init(&st->mu, NULL);
    /* The state holds mail bodies, attachments and personal data: a new
     * file is created 0600 whatever the umask (SQLite would make it 0644),
     * and SQLite gives its -wal and -shm the database file's mode. */
    int cfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (cfd >= 0)
        close(cfd);
    int rc = bp_db_open_sqlite(path,
                               BP_DB_OPEN_READWRITE | (create ? BP_DB_OPEN_CREATE : 0) |
                                   BP_DB_OPEN_FULLMUTEX,
                               &st->db);
    if (rc != BP_DB_OK) {
        char *m = NULL;
        if (asprintf(&m, "state file %s: cannot open (%s)", path,
                     st->db ? bp_db_errmsg(st->db) : bp_db_errstr(rc)) < 0)
            m = NULL;
        *errmsg = m;
        bp_state_close(st);
        return BP_ERR_IO;
    }
    bp_db_busy_timeout(st->db, 5000);
    bp_db_stmt *q = NULL;
    int app_id = -1, tables = -1;
    /* Reading the header is where a corrupt or non-SQLite file shows itself. */
    if (bp_db_prepare_v2(st->db, "PRAGMA application_id", -1, &q, NULL) == BP_DB_OK &&
        bp_db_step(q) == BP_DB_ROW)
        app_id = bp_db_column_int(q, 0);
    bp_db_finalize(q);
    q = NULL;   /* the next query may be skipped: never finalize twice */
    if (app_id >= 0 &&
        bp_db_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL) ==
            BP_DB_OK &&
        bp_db_step(q) == BP_DB_ROW)
        tables = bp_db_column_int(q, 0);
    bp_db_finalize(q);
    if (app_id < 0 || tables < 0) {
        *errmsg = state_fmt_err(path, "not a SQLite database (corrupt or foreign file)",
                                bp_db_errmsg(st->db));
        bp_state_close(st);
        return BP_ERR_INVALID;
    }
    if (app_id != STATE_APP_ID && !(app_id == 0 && tables == 0)) {
        char detail[64];
        snprintf(detail, sizeof(detail), "application_id 0x%08x, %d tables", (unsigned)app_id,
                 tables);
        *errmsg = state_fmt_err(path, "not a backplane state file", detail);
        bp_state_close(st);
        return BP_ERR_INVALID;
    }
    rc = bp_db_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                    NULL);
    if (rc == BP_DB_OK) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA application_id=%d;", STATE_APP_ID);
        rc = bp_db_exec(st->db, pragma, NULL, NULL, NULL);
    }
    bp_status ist = rc == BP_DB_OK ? state_init(st, path, site, errmsg) : BP_ERR_IO;
    if (ist != BP_OK) {
        if (*errmsg == NULL)
            *errmsg = state_fmt_err(path, "cannot initialise", bp_db_errmsg(st->db));
        bp_state_close(st);
        return ist;
    }
    {
        struct stat sb;
        if (stat(path, &sb) == 0) {
            st->dev = sb.st_dev;
            st->ino = sb.st_ino;
        }
        st->path = strdup(path);
    }
    *out = st;
    return BP_OK;
}

/* The tables, migrations and prepared statements, on either backend. */
static bp_status state_init(bp_state *st, const char *path, const char *site, char **errmsg)
{
    char *sqlerr = NULL;
    char *init = NULL;
    if (asprintf(&init, "%sINSERT OR IGNORE INTO meta VALUES('schema_version','%d');",
                 state_schema, STATE_SCHEMA) < 0)
        return BP_ERR_NOMEM;
    int rc = bp_db_exec(st->db, init, NULL, NULL, &sqlerr);
    free(init);
    if (rc == BP_DB_OK) {
        bp_db_stmt *ins = NULL;
        rc = bp_db_prepare_v2(st->db, "INSERT OR IGNORE INTO meta VALUES('site', ?1)", -1,
                                &ins, NULL);
        if (rc == BP_DB_OK) {
            bp_db_bind_text(ins, 1, site ? site : "", -1, BP_DB_TRANSIENT);
            rc = bp_db_step(ins) == BP_DB_DONE ? BP_DB_OK : BP_DB_ERROR;
        }
        bp_db_finalize(ins);
    }
    if (rc != BP_DB_OK) {
        *errmsg = state_fmt_err(path, "cannot initialise",
                                sqlerr ? sqlerr : bp_db_errmsg(st->db));
        bp_db_free(sqlerr);
        return BP_ERR_IO;
    }
    if (rc == BP_DB_OK && bp_state_review_migrate(st, &sqlerr) != BP_OK) {
        *errmsg = state_fmt_err(path, "cannot add the review tables",
                                sqlerr ? sqlerr : bp_db_errmsg(st->db));
        bp_db_free(sqlerr);
        return BP_ERR_IO;
    }
    if (bp_state_lease_migrate(st, &sqlerr) != BP_OK) {
        *errmsg = state_fmt_err(path, "cannot add the lease tables",
                                sqlerr ? sqlerr : bp_db_errmsg(st->db));
        bp_db_free(sqlerr);
        return BP_ERR_IO;
    }
    if (bp_state_audit_migrate(st, &sqlerr) != BP_OK) {
        *errmsg = state_fmt_err(path, "cannot add the audit log tables",
                                sqlerr ? sqlerr : bp_db_errmsg(st->db));
        bp_db_free(sqlerr);
        return BP_ERR_IO;
    }
    if (bp_db_prepare_v2(st->db, "INSERT INTO ledger_writes(sink,applied_ms,keys) VALUES(?1,?2,?3)",
                           -1, &st->ledger_put, NULL) != BP_DB_OK ||
        bp_db_prepare_v2(st->db, "DELETE FROM ledger_writes WHERE row = ?1", -1,
                           &st->ledger_forget, NULL) != BP_DB_OK ||
        bp_db_prepare_v2(st->db, STATE_CKPT_UPSERT, -1, &st->ckpt_put, NULL) != BP_DB_OK) {
        *errmsg = state_fmt_err(path, "cannot prepare statements", bp_db_errmsg(st->db));
        return BP_ERR_IO;
    }
    return state_check_version(st, path, site, errmsg);
}

int bp_state_is_shared(const bp_state *st)
{
    return st && bp_db_is_pg(st->db);
}

bp_status bp_state_open(const char *path, const char *site, bp_state **out, char **errmsg)
{
    return state_open(path, site, 1, out, errmsg);
}

bp_status bp_state_open_existing(const char *path, const char *site, bp_state **out,
                                 char **errmsg)
{
    return state_open(path, site, 0, out, errmsg);
}

bp_status bp_state_check_file(bp_state *st, char **why)
{
    *why = NULL;
    if (st == NULL || st->path == NULL || bp_db_is_pg(st->db))
        return BP_OK;   /* a database server, not a file that can be replaced */
    struct stat sb;
    char *s = NULL;
    int r = -1;
    if (stat(st->path, &sb) != 0) {
        if (errno != ENOENT)
            return BP_OK;   /* cannot tell (EACCES on a parent?): not proof of loss */
        r = asprintf(&s, "state file %s was deleted while running", st->path);
    } else if (sb.st_dev != st->dev || sb.st_ino != st->ino) {
        r = asprintf(&s, "state file %s was replaced while running (inode %llu, was %llu)",
                     st->path, (unsigned long long)sb.st_ino, (unsigned long long)st->ino);
    } else if (sb.st_nlink == 0) {
        r = asprintf(&s, "state file %s was deleted while running", st->path);
    } else {
        return BP_OK;
    }
    *why = r < 0 ? NULL : s;
    return BP_ERR_IO;
}

const char *bp_state_path(const bp_state *st)
{
    return st ? st->path : NULL;
}

void bp_state_close(bp_state *st)
{
    if (st == NULL)
        return;
    bp_db_finalize(st->ledger_put);
    bp_db_finalize(st->ledger_forget);
    bp_db_finalize(st->ckpt_put);
    bp_db_finalize(st->audit_put);
    bp_audit_signer_free(st->audit_signer);
    bp_db_close(st->db);
    pthread_mutex_destroy(&st->mu);
    free(st->path);
    free(st);
}

/* Upserts a checkpoint with the prepared statement. Caller holds mu. */
static int state_put_checkpoint(bp_state *st, const char *scope, const char *key,
                                const char *value, int64_t now)
{
    bp_db_stmt *q = st->ckpt_put;
    bp_db_bind_text(q, 1, scope, -1, BP_DB_STATIC);
    bp_db_bind_text(q, 2, key, -1, BP_DB_STATIC);
    bp_db_bind_text(q, 3, value, -1, BP_DB_STATIC);
    bp_db_bind_int64(q, 4, now);
    int s = bp_db_step(q);
    bp_db_reset(q);
    return s == BP_DB_DONE;
}

/* Ends the transaction a write began: COMMIT when ok, else ROLLBACK.
 * Returns BP_OK only for a successful commit. Caller holds mu. */
int state_file_gone(bp_state *st)
{
    if (st->gone)
        return 1;
    char *why = NULL;
    if (bp_state_check_file(st, &why) != BP_OK) {
        st->gone = 1;
        free(why);
        return 1;
    }
    return 0;
}

bp_status state_end(bp_state *st, int ok)
{
    /* Never commit into a file that was deleted or replaced: a source would
     * then ack what nobody can read back (§9, the owner's watch). */
    if (ok && state_file_gone(st))
        ok = 0;
    if (ok && bp_db_exec(st->db, "COMMIT", NULL, NULL, NULL) == BP_DB_OK)
        return BP_OK;
    bp_db_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return BP_ERR_IO;
}

bp_status bp_state_checkpoint_get(bp_state *st, const char *scope, const char *key, char **value)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    *value = NULL;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "SELECT value FROM checkpoints WHERE scope=?1 AND key=?2", -1,
                           &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, scope, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, key, -1, BP_DB_STATIC);
        int s = bp_db_step(q);
        if (s == BP_DB_ROW) {
            const char *v = (const char *)bp_db_column_text(q, 0);
            *value = strdup(v ? v : "");
            rc = *value ? BP_OK : BP_ERR_NOMEM;
        } else if (s == BP_DB_DONE) {
            rc = BP_ERR_NOT_FOUND;
        }
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_checkpoint_set(bp_state *st, const char *scope, const char *key,
                                  const char *value)
{
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (state_file_gone(st)) {
        pthread_mutex_unlock(&st->mu);
        return BP_ERR_IO;
    }
    int fenced = state_fence_applies(st, scope);
    if (fenced && bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != BP_DB_OK) {
        pthread_mutex_unlock(&st->mu);
        return BP_ERR_IO;
    }
    if (fenced && !state_fence_ok(st, scope)) {
        state_end(st, 0);
        pthread_mutex_unlock(&st->mu);
        return BP_ERR_IO;
    }
    if (value) {
        if (state_put_checkpoint(st, scope, key, value, bp_now_ms()))
            rc = BP_OK;
    } else {
        bp_db_stmt *q = NULL;
        if (bp_db_prepare_v2(st->db, "DELETE FROM checkpoints WHERE scope=?1 AND key=?2", -1,
                               &q, NULL) == BP_DB_OK) {
            bp_db_bind_text(q, 1, scope, -1, BP_DB_STATIC);
            bp_db_bind_text(q, 2, key, -1, BP_DB_STATIC);
            if (bp_db_step(q) == BP_DB_DONE)
                rc = BP_OK;
        }
        bp_db_finalize(q);
    }
    if (fenced)
        rc = state_end(st, rc == BP_OK);
    pthread_mutex_unlock(&st->mu);
    return rc;
}


static bp_status state_insert(bp_state *st, const char *sql, const char *route, const char *stage,
                              const char *reason, const char *payload, size_t len, int blob)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (!state_file_gone(st) && bp_db_prepare_v2(st->db, sql, -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, route, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, stage, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 3, reason ? reason : "", -1, BP_DB_STATIC);
        if (payload == NULL)
            bp_db_bind_null(q, 4);
        else if (blob)
            bp_db_bind_blob64(q, 4, payload, len, BP_DB_STATIC);
        else
            bp_db_bind_text64(q, 4, payload, len, BP_DB_STATIC, BP_DB_UTF8);
        bp_db_bind_int64(q, 5, bp_now_ms());
        if (bp_db_step(q) == BP_DB_DONE)
            rc = BP_OK;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_dead_letter(bp_state *st, const char *route, const char *stage,
                               const char *reason, const char *payload, size_t len)
{
    /* A reason quotes a peer's error, which may quote a URL with its
     * credentials or a secret: masked as in the log. */
    char *masked = reason ? bp_log_mask(strdup(reason)) : NULL;
    bp_status rc = state_insert(st,
                                "INSERT INTO dead_letters(route,stage,reason,payload,created_ms)"
                                " VALUES(?1,?2,?3,?4,?5)",
                                route, stage, masked ? masked : reason ? "(reason not kept: out of memory)" : NULL,
                                payload, len, 1);
    free(masked);
    return rc;
}

bp_status bp_state_dead_letter_once(bp_state *st, const char *route, const char *stage,
                                    const char *reason, const char *payload, size_t len,
                                    const char *source, const char *id, int64_t *attempts)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "INSERT INTO dead_letters(route,stage,reason,payload,created_ms,source,"
                           "rec_id,attempts,updated_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,1,?5)"
                           " ON CONFLICT(route,stage,source,rec_id) DO UPDATE SET"
                           " reason=excluded.reason, payload=excluded.payload,"
                           " attempts=dead_letters.attempts+1, updated_ms=excluded.updated_ms"
                           " RETURNING attempts",
                           -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, route, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, stage, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 3, reason ? reason : "", -1, BP_DB_STATIC);
        if (payload == NULL)
            bp_db_bind_null(q, 4);
        else
            bp_db_bind_blob64(q, 4, payload, len, BP_DB_STATIC);
        bp_db_bind_int64(q, 5, bp_now_ms());
        bp_db_bind_text(q, 6, source, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 7, id, -1, BP_DB_STATIC);
        if (bp_db_step(q) == BP_DB_ROW) {
            if (attempts)
                *attempts = bp_db_column_int64(q, 0);
            if (bp_db_step(q) == BP_DB_DONE)
                rc = BP_OK;
        }
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int64_t bp_state_count(bp_state *st, const char *table)
{
    char sql[96];
    bp_db_stmt *q = NULL;
    int64_t n = -1;
    if (strcmp(table, "dead_letters") != 0 && strcmp(table, "review_queue") != 0 &&
        strcmp(table, "checkpoints") != 0 && strcmp(table, "ledger_writes") != 0 &&
        strcmp(table, "audit_log") != 0 && strcmp(table, "corrections") != 0)
        return -1;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, sql, -1, &q, NULL) == BP_DB_OK && bp_db_step(q) == BP_DB_ROW)
        n = bp_db_column_int64(q, 0);
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return n;
}




void bp_dead_letter_clear(bp_dead_letter *dl)
{
    free(dl->route);
    free(dl->stage);
    free(dl->reason);
    free(dl->payload);
    memset(dl, 0, sizeof(*dl));
}

static char *state_col_dup(bp_db_stmt *q, int col)
{
    const unsigned char *t = bp_db_column_text(q, col);
    return strdup(t ? (const char *)t : "");
}

/* Fills dl from a row of SELECT seq,route,stage,reason,created_ms[,payload]. */
static int state_row_to_dl(bp_db_stmt *q, int with_payload, bp_dead_letter *dl)
{
    memset(dl, 0, sizeof(*dl));
    dl->seq = bp_db_column_int64(q, 0);
    dl->route = state_col_dup(q, 1);
    dl->stage = state_col_dup(q, 2);
    dl->reason = state_col_dup(q, 3);
    dl->created_ms = bp_db_column_int64(q, 4);
    dl->attempts = bp_db_column_int64(q, 6);
    if (with_payload) {
        int n = bp_db_column_bytes(q, 5);
        const void *b = bp_db_column_blob(q, 5);
        dl->payload = malloc((size_t)n + 1);
        if (dl->payload) {
            if (n)
                memcpy(dl->payload, b, (size_t)n);
            dl->payload[n] = '\0';
            dl->payload_len = (size_t)n;
        }
    }
    return dl->route && dl->stage && dl->reason && (!with_payload || dl->payload);
}

bp_status bp_state_dlq_foreach(bp_state *st, const char *route, int with_payload,
                               int (*fn)(const bp_dead_letter *dl, void *ud), void *ud)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    /* Rows are copied out one at a time so fn may call back into the store
     * (replay deletes what it delivered) without holding the lock. */
    int64_t after = -1;
    for (;;) {
        bp_dead_letter dl;
        int got = 0;
        pthread_mutex_lock(&st->mu);
        if (bp_db_prepare_v2(st->db,
                               "SELECT seq,route,stage,reason,created_ms,payload,attempts FROM dead_letters"
                               " WHERE seq > ?1 AND (?2 IS NULL OR route = ?2) ORDER BY seq LIMIT 1",
                               -1, &q, NULL) == BP_DB_OK) {
            bp_db_bind_int64(q, 1, after);
            if (route)
                bp_db_bind_text(q, 2, route, -1, BP_DB_STATIC);
            int s = bp_db_step(q);
            if (s == BP_DB_ROW)
                got = state_row_to_dl(q, with_payload, &dl) ? 1 : -1;
            else if (s != BP_DB_DONE)
                got = -1;
        } else {
            got = -1;
        }
        bp_db_finalize(q);
        q = NULL;
        pthread_mutex_unlock(&st->mu);
        if (got <= 0) {
            if (got < 0)
                bp_dead_letter_clear(&dl);
            rc = got == 0 ? BP_OK : BP_ERR_IO;
            break;
        }
        after = dl.seq;
        int stop = fn(&dl, ud);
        bp_dead_letter_clear(&dl);
        if (stop) {
            rc = BP_OK;
            break;
        }
    }
    return rc;
}

bp_status bp_state_dlq_get(bp_state *st, int64_t seq, bp_dead_letter *out)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "SELECT seq,route,stage,reason,created_ms,payload,attempts FROM dead_letters"
                           " WHERE seq = ?1", -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_int64(q, 1, seq);
        int s = bp_db_step(q);
        if (s == BP_DB_ROW)
            rc = state_row_to_dl(q, 1, out) ? BP_OK : BP_ERR_NOMEM;
        else if (s == BP_DB_DONE)
            rc = BP_ERR_NOT_FOUND;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    if (rc != BP_OK)
        bp_dead_letter_clear(out);
    return rc;
}

bp_status bp_state_dlq_delete(bp_state *st, int64_t seq)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "DELETE FROM dead_letters WHERE seq = ?1", -1, &q, NULL) ==
        BP_DB_OK) {
        bp_db_bind_int64(q, 1, seq);
        if (bp_db_step(q) == BP_DB_DONE)
            rc = bp_db_changes(st->db) ? BP_OK : BP_ERR_NOT_FOUND;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_ledger_load(bp_state *st, const char *sink,
                               void (*fn)(const char *key, size_t len, void *ud), void *ud)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "SELECT keys FROM ledger_writes WHERE sink = ?1", -1, &q,
                           NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, sink, -1, BP_DB_STATIC);
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW) {
            const char *b = bp_db_column_blob(q, 0);
            size_t n = (size_t)bp_db_column_bytes(q, 0);
            /* Keys are NUL-terminated, one after the other. */
            for (size_t off = 0; b && off < n;) {
                size_t len = strnlen(b + off, n - off);
                fn(b + off, len, ud);
                off += len + 1;
            }
        }
        if (s == BP_DB_DONE)
            rc = BP_OK;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_ledger_commit(bp_state *st, const char *sink, const char *const *sources,
                                 const char *const *ids, size_t n, const char *ckpt_key,
                                 const char *ckpt_value, const int64_t *forget, size_t n_forget,
                                 int64_t *row)
{
    bp_status rc = BP_ERR_IO;
    int64_t now = bp_now_ms();
    char *keys = NULL;
    size_t len = 0;
    if (row)
        *row = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(sources[i]) + 1 + strlen(ids[i]) + 1;
    if (n && (keys = malloc(len)) == NULL)
        return BP_ERR_NOMEM;
    for (size_t i = 0, off = 0; i < n; i++) {
        size_t a = strlen(sources[i]), b = strlen(ids[i]);
        memcpy(keys + off, sources[i], a);
        keys[off + a] = '\x1f';
        memcpy(keys + off + a + 1, ids[i], b);
        keys[off + a + 1 + b] = '\0';
        off += a + b + 2;
    }
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != BP_DB_OK)
        goto out;
    int ok = state_fence_ok(st, sink);   /* issue 20: refused once taken over */
    if (ok && n) {
        bp_db_stmt *q = st->ledger_put;
        bp_db_bind_text(q, 1, sink, -1, BP_DB_STATIC);
        bp_db_bind_int64(q, 2, now);
        bp_db_bind_blob64(q, 3, keys, len, BP_DB_STATIC);
        ok = bp_db_step(q) == BP_DB_DONE;
        bp_db_reset(q);
        if (ok && row)
            *row = bp_db_last_insert_rowid(st->db);
    }
    for (size_t i = 0; ok && i < n_forget; i++) {
        bp_db_stmt *q = st->ledger_forget;
        bp_db_bind_int64(q, 1, forget[i]);
        ok = bp_db_step(q) == BP_DB_DONE;
        bp_db_reset(q);
    }
    if (ok && ckpt_key)
        ok = state_put_checkpoint(st, sink, ckpt_key, ckpt_value ? ckpt_value : "", now);
    rc = state_end(st, ok);
    if (rc != BP_OK && row)
        *row = 0;
out:
    pthread_mutex_unlock(&st->mu);
    free(keys);
    return rc;
}

int64_t bp_state_ledger_prune(bp_state *st, int64_t older_than_ms)
{
    bp_db_stmt *q = NULL;
    int64_t n = -1;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "DELETE FROM ledger_writes WHERE applied_ms < ?1", -1, &q,
                           NULL) == BP_DB_OK) {
        bp_db_bind_int64(q, 1, older_than_ms);
        if (bp_db_step(q) == BP_DB_DONE)
            n = bp_db_changes(st->db);
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return n;
}
