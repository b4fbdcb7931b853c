/* See state_stats.h. */
#include <stdlib.h>
#include <string.h>

#include "state_int.h"
#include "state_stats.h"

/* The dead-letter ledger is kept by triggers, so that every writer of the
 * store (a run, a CLI replay, a future owner process) counts alike and the
 * counts agree with the table at every commit. A file made before the
 * triggers starts its ledger with the entries it holds. */
static const char stats_tables[] =
    "CREATE TABLE IF NOT EXISTS plugin_stats(route TEXT NOT NULL, stage TEXT NOT NULL,"
    "  plugin TEXT NOT NULL, connector TEXT, name TEXT NOT NULL, gauge INTEGER NOT NULL,"
    "  value REAL NOT NULL, PRIMARY KEY(route, stage, name));";

static const char stats_dlq_triggers[] =
    "INSERT OR REPLACE INTO route_stats SELECT route, 'dlq.added', count(*) FROM dead_letters"
    "  GROUP BY route;"
    "CREATE TRIGGER dlq_added AFTER INSERT ON dead_letters BEGIN"
    "  INSERT OR IGNORE INTO route_stats VALUES(NEW.route, 'dlq.added', 0);"
    "  UPDATE route_stats SET value = value + 1 WHERE route = NEW.route AND name = 'dlq.added';"
    " END;"
    "CREATE TRIGGER dlq_removed AFTER DELETE ON dead_letters BEGIN"
    "  INSERT OR IGNORE INTO route_stats VALUES(OLD.route, 'dlq.removed', 0);"
    "  UPDATE route_stats SET value = value + 1 WHERE route = OLD.route AND name = 'dlq.removed';"
    " END;";

bp_status bp_state_stats_migrate(bp_state *st, char **sqlerr)
{
    if (sqlite3_exec(st->db, stats_tables, NULL, NULL, sqlerr) != SQLITE_OK)
        return BP_ERR_IO;
    /* Checked inside the transaction: two processes opening one old file
     * must not both seed the ledger. */
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, sqlerr) != SQLITE_OK)
        return BP_ERR_IO;
    sqlite3_stmt *q = NULL;
    int have = -1;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT count(*) FROM sqlite_master WHERE type='trigger'"
                           " AND name='dlq_added'",
                           -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        have = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    int ok = have == 1 ||
             (have == 0 && sqlite3_exec(st->db, stats_dlq_triggers, NULL, NULL, sqlerr) == SQLITE_OK);
    return state_end(st, ok);
}

static void stats_bind_opt(sqlite3_stmt *q, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
}

bp_status bp_state_plugin_stats_add(bp_state *st, const char *route, const bp_plugin_stat *s,
                                    size_t n)
{
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    int ok = sqlite3_prepare_v2(st->db,
                                "INSERT INTO plugin_stats VALUES(?1,?2,?3,?4,?5,?6,?7)"
                                " ON CONFLICT(route,stage,name) DO UPDATE SET plugin = ?3,"
                                " connector = ?4, gauge = ?6, value = CASE WHEN ?6 THEN ?7"
                                " ELSE value + ?7 END",
                                -1, &q, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < n; i++) {
        sqlite3_bind_text(q, 1, route, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, s[i].stage, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, s[i].plugin, -1, SQLITE_STATIC);
        stats_bind_opt(q, 4, s[i].connector);
        sqlite3_bind_text(q, 5, s[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 6, s[i].gauge != 0);
        sqlite3_bind_double(q, 7, s[i].value);
        ok = sqlite3_step(q) == SQLITE_DONE;
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    rc = state_end(st, ok);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static const char *stats_col(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

bp_status bp_state_plugin_stats_foreach(bp_state *st,
                                        int (*fn)(const char *route, const bp_plugin_stat *s,
                                                  void *ud),
                                        void *ud)
{
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT route, stage, plugin, connector, name, gauge, value"
                           " FROM plugin_stats ORDER BY route, stage, name",
                           -1, &q, NULL) == SQLITE_OK) {
        int s;
        while ((s = sqlite3_step(q)) == SQLITE_ROW) {
            bp_plugin_stat ps = {.stage = stats_col(q, 1), .plugin = stats_col(q, 2),
                                 .connector = stats_col(q, 3), .name = stats_col(q, 4),
                                 .gauge = sqlite3_column_int(q, 5),
                                 .value = sqlite3_column_double(q, 6)};
            if (fn(stats_col(q, 0), &ps, ud))
                break;
        }
        rc = s == SQLITE_ROW || s == SQLITE_DONE ? BP_OK : BP_ERR_IO;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_route_stats_foreach(bp_state *st,
                                       int (*fn)(const char *route, const char *name,
                                                 int64_t value, void *ud),
                                       void *ud)
{
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db, "SELECT route, name, value FROM route_stats ORDER BY route, name",
                           -1, &q, NULL) == SQLITE_OK) {
        int s;
        while ((s = sqlite3_step(q)) == SQLITE_ROW)
            if (fn(stats_col(q, 0), stats_col(q, 1), sqlite3_column_int64(q, 2), ud))
                break;
        rc = s == SQLITE_ROW || s == SQLITE_DONE ? BP_OK : BP_ERR_IO;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_dlq_resolve(bp_state *st, int64_t seq, const char *outcome)
{
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    char name[64];
    if (strlen(outcome) > sizeof(name) - 5)
        return BP_ERR_INVALID;
    strcpy(name, "dlq.");
    strcat(name, outcome);
    pthread_mutex_lock(&st->mu);
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    int ok = sqlite3_prepare_v2(st->db,
                                "INSERT INTO route_stats SELECT route, ?2, 1 FROM dead_letters"
                                " WHERE seq = ?1 ON CONFLICT(route,name)"
                                " DO UPDATE SET value = value + 1",
                                -1, &q, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(q, 1, seq);
        sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    int found = ok && sqlite3_changes(st->db) > 0;
    sqlite3_finalize(q);
    q = NULL;
    if (found) {
        ok = sqlite3_prepare_v2(st->db, "DELETE FROM dead_letters WHERE seq = ?1", -1, &q,
                                NULL) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_int64(q, 1, seq);
            ok = sqlite3_step(q) == SQLITE_DONE;
        }
        sqlite3_finalize(q);
    }
    rc = state_end(st, ok && found);
    if (ok && !found)
        rc = BP_ERR_NOT_FOUND;
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static const char *const report_sql[] = {
    [BP_REPORT_REVIEW_QUEUE] = "SELECT route, NULL, count(*), min(created_ms) FROM review_queue"
                               " GROUP BY route ORDER BY route",
    [BP_REPORT_CORRECTIONS] = "SELECT route, path, count(*), 0 FROM corrections"
                              " GROUP BY route, path ORDER BY route, count(*) DESC, path",
    [BP_REPORT_DEAD_LETTERS] = "SELECT route, stage, count(*), 0 FROM dead_letters"
                               " GROUP BY route, stage ORDER BY route, count(*) DESC, stage",
};

bp_status bp_state_report_rows(bp_state *st, bp_report_section what,
                               int (*fn)(const char *route, const char *key, int64_t count,
                                         int64_t extra, void *ud),
                               void *ud)
{
    if (what < BP_REPORT_REVIEW_QUEUE || what > BP_REPORT_DEAD_LETTERS)
        return BP_ERR_INVALID;
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db, report_sql[what], -1, &q, NULL) == SQLITE_OK) {
        int s;
        while ((s = sqlite3_step(q)) == SQLITE_ROW)
            if (fn(stats_col(q, 0), stats_col(q, 1), sqlite3_column_int64(q, 2),
                   sqlite3_column_int64(q, 3), ud))
                break;
        rc = s == SQLITE_ROW || s == SQLITE_DONE ? BP_OK : BP_ERR_IO;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}
