/* See state_lease.h. All the lease, fence and heartbeat SQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "state_int.h"
#include "state_lease.h"

static const char lease_schema[] =
    "CREATE TABLE IF NOT EXISTS leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
    "  epoch INTEGER NOT NULL, expires_ms INTEGER NOT NULL, taken_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS instances(name TEXT PRIMARY KEY, host TEXT NOT NULL,"
    "  pid INTEGER NOT NULL, started_ms INTEGER NOT NULL, beat_ms INTEGER NOT NULL);";

bp_status bp_state_lease_migrate(bp_state *st, char **sqlerr)
{
    return bp_db_exec(st->db, lease_schema, NULL, NULL, sqlerr) == BP_DB_OK ? BP_OK : BP_ERR_IO;
}

/* "Now" in milliseconds on the database's clock: with PostgreSQL every
 * instance reads the same clock, so a lease's expiry means the same to all. */
static const char *lease_now(bp_state *st)
{
    return bp_db_is_pg(st->db)
               ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
               : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
}

bp_status bp_state_lease_acquire(bp_state *st, const char *name, const char *holder,
                                 int64_t ttl_ms, int64_t *epoch, char **other,
                                 int64_t *expires_in_ms)
{
    char sql[1400];
    const char *now = lease_now(st);
    /* One conditional statement: a free name is inserted at epoch 1; a row
     * whose lease expired (or that is already holder's) is updated, with a
     * new epoch unless holder still held it. Any other row is left alone and
     * nothing is returned. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO leases(name,holder,epoch,expires_ms,taken_ms) VALUES(?1,?2,1,%s+?3,%s)"
             " ON CONFLICT(name) DO UPDATE SET"
             " epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_ms >= %s"
             "   THEN leases.epoch ELSE leases.epoch + 1 END,"
             " taken_ms = CASE WHEN leases.holder = excluded.holder AND leases.expires_ms >= %s"
             "   THEN leases.taken_ms ELSE excluded.taken_ms END,"
             " holder = excluded.holder, expires_ms = excluded.expires_ms"
             " WHERE leases.expires_ms < %s OR leases.holder = excluded.holder"
             " RETURNING epoch",
             now, now, now, now, now);
    bp_status rc = BP_ERR_IO;
    if (other)
        *other = NULL;
    if (expires_in_ms)
        *expires_in_ms = 0;
    *epoch = 0;
    pthread_mutex_lock(&st->mu);
    bp_db_stmt *q = NULL;
    if (bp_db_prepare_v2(st->db, sql, -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, name, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, holder, -1, BP_DB_STATIC);
        bp_db_bind_int64(q, 3, ttl_ms);
        int s = bp_db_step(q);
        if (s == BP_DB_ROW) {
            *epoch = bp_db_column_int64(q, 0);
            rc = BP_OK;
        } else if (s == BP_DB_DONE) {
            rc = BP_AGAIN;
        }
    }
    bp_db_finalize(q);
    q = NULL;
    if (rc == BP_AGAIN) {
        snprintf(sql, sizeof(sql), "SELECT holder, expires_ms - %s FROM leases WHERE name=?1",
                 now);
        if (bp_db_prepare_v2(st->db, sql, -1, &q, NULL) == BP_DB_OK) {
            bp_db_bind_text(q, 1, name, -1, BP_DB_STATIC);
            if (bp_db_step(q) == BP_DB_ROW) {
                const char *h = (const char *)bp_db_column_text(q, 0);
                if (other)
                    *other = strdup(h ? h : "");
                if (expires_in_ms)
                    *expires_in_ms = bp_db_column_int64(q, 1);
            }
        }
        bp_db_finalize(q);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_lease_renew(bp_state *st, const char *name, const char *holder,
                               int64_t epoch, int64_t ttl_ms)
{
    char sql[400];
    snprintf(sql, sizeof(sql),
             "UPDATE leases SET expires_ms = %s + ?4 WHERE name=?1 AND holder=?2 AND epoch=?3",
             lease_now(st));
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    bp_db_stmt *q = NULL;
    if (bp_db_prepare_v2(st->db, sql, -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, name, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, holder, -1, BP_DB_STATIC);
        bp_db_bind_int64(q, 3, epoch);
        bp_db_bind_int64(q, 4, ttl_ms);
        if (bp_db_step(q) == BP_DB_DONE)
            rc = bp_db_changes(st->db) == 1 ? BP_OK : BP_AGAIN;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_lease_release(bp_state *st, const char *name, const char *holder,
                                 int64_t epoch)
{
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    bp_db_stmt *q = NULL;
    if (bp_db_prepare_v2(st->db,
                         "UPDATE leases SET expires_ms = 0 WHERE name=?1 AND holder=?2 AND epoch=?3",
                         -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, name, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, holder, -1, BP_DB_STATIC);
        bp_db_bind_int64(q, 3, epoch);
        if (bp_db_step(q) == BP_DB_DONE)
            rc = BP_OK;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static struct state_fence *fence_find(bp_state *st, const char *route, size_t rlen)
{
    for (size_t i = 0; i < st->n_fences; i++)
        if (strlen(st->fences[i].route) == rlen && memcmp(st->fences[i].route, route, rlen) == 0)
            return &st->fences[i];
    return NULL;
}

bp_status bp_state_fence_set(bp_state *st, const char *route, const char *lease, int64_t epoch)
{
    if (strlen(route) >= sizeof(st->fences[0].route) ||
        strlen(lease) >= sizeof(st->fences[0].lease))
        return BP_ERR_INVALID;
    pthread_mutex_lock(&st->mu);
    struct state_fence *f = fence_find(st, route, strlen(route));
    bp_status rc = BP_OK;
    if (f == NULL && epoch != 0) {
        if (st->n_fences == sizeof(st->fences) / sizeof(st->fences[0]))
            rc = BP_ERR_NOMEM;
        else
            f = &st->fences[st->n_fences++];
    }
    if (f && epoch != 0) {
        snprintf(f->route, sizeof(f->route), "%s", route);
        snprintf(f->lease, sizeof(f->lease), "%s", lease);
        f->epoch = epoch;
        f->fenced = 0;
    } else if (f) {
        *f = st->fences[--st->n_fences];
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int bp_state_fenced(bp_state *st, const char *route)
{
    pthread_mutex_lock(&st->mu);
    struct state_fence *f = fence_find(st, route, strlen(route));
    int r = f && f->fenced;
    pthread_mutex_unlock(&st->mu);
    return r;
}

static struct state_fence *fence_for_scope(bp_state *st, const char *scope)
{
    const char *slash = scope ? strchr(scope, '/') : NULL;
    if (slash == NULL || st->n_fences == 0)
        return NULL;
    return fence_find(st, scope, (size_t)(slash - scope));
}

int state_fence_applies(bp_state *st, const char *scope)
{
    return fence_for_scope(st, scope) != NULL;
}

int state_fence_ok(bp_state *st, const char *scope)
{
    struct state_fence *f = fence_for_scope(st, scope);
    if (f == NULL)
        return 1;
    if (f->fenced)
        return 0;
    /* An UPDATE that changes nothing but locks the lease row until this
     * transaction ends: a takeover (which updates that row) is ordered after
     * this write, or this write sees its new epoch and is refused. */
    bp_db_stmt *q = NULL;
    int ok = 0, known = 0;
    if (bp_db_prepare_v2(st->db, "UPDATE leases SET epoch = epoch WHERE name=?1 AND epoch=?2", -1,
                         &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, f->lease, -1, BP_DB_STATIC);
        bp_db_bind_int64(q, 2, f->epoch);
        if (bp_db_step(q) == BP_DB_DONE) {
            known = 1;
            ok = bp_db_changes(st->db) == 1;
        }
    }
    bp_db_finalize(q);
    if (known && !ok) {
        f->fenced = 1;
        bp_log(BP_LOG_ERROR, f->route,
               "fenced: lease '%s' is past epoch %lld (another instance took it over); "
               "this write of '%s' is refused and the route stops here",
               f->lease, (long long)f->epoch, scope);
    }
    return ok;
}

bp_status bp_state_heartbeat(bp_state *st, const char *instance, const char *host, int64_t pid,
                             int64_t started_ms)
{
    char sql[600];
    const char *now = lease_now(st);
    snprintf(sql, sizeof(sql),
             "INSERT INTO instances(name,host,pid,started_ms,beat_ms) VALUES(?1,?2,?3,?4,%s)"
             " ON CONFLICT(name) DO UPDATE SET host=excluded.host, pid=excluded.pid,"
             " started_ms=excluded.started_ms, beat_ms=excluded.beat_ms",
             now);
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    bp_db_stmt *q = NULL;
    if (bp_db_prepare_v2(st->db, sql, -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, instance, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, host, -1, BP_DB_STATIC);
        bp_db_bind_int64(q, 3, pid);
        bp_db_bind_int64(q, 4, started_ms);
        if (bp_db_step(q) == BP_DB_DONE)
            rc = BP_OK;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* The rows of sql (text, text, int64, int64) to fn, under the store's lock:
 * the leases' and the instances' listings differ only in their query. */
static bp_status lease_rows(bp_state *st, const char *sql,
                            void (*fn)(const char *, const char *, int64_t, int64_t, void *),
                            void *ud)
{
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    bp_db_stmt *q = NULL;
    if (bp_db_prepare_v2(st->db, sql, -1, &q, NULL) == BP_DB_OK) {
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW)
            fn((const char *)bp_db_column_text(q, 0), (const char *)bp_db_column_text(q, 1),
               bp_db_column_int64(q, 2), bp_db_column_int64(q, 3), ud);
        rc = s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_lease_foreach(bp_state *st,
                                 void (*fn)(const char *name, const char *holder, int64_t epoch,
                                            int64_t expires_in_ms, void *ud),
                                 void *ud)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "SELECT name, holder, epoch, expires_ms - %s FROM leases ORDER BY name",
             lease_now(st));
    return lease_rows(st, sql, fn, ud);
}

bp_status bp_state_instance_foreach(bp_state *st,
                                    void (*fn)(const char *name, const char *host, int64_t pid,
                                               int64_t beat_age_ms, void *ud),
                                    void *ud)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "SELECT name, host, pid, %s - beat_ms FROM instances ORDER BY name", lease_now(st));
    return lease_rows(st, sql, fn, ud);
}
