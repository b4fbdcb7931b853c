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
    "INSERT INTO route_stats SELECT route, 'dlq.added', count(*) FROM dead_letters"
    "  WHERE true GROUP BY route ON CONFLICT(route, name) DO UPDATE SET value = excluded.value;"
    "CREATE TRIGGER dlq_added AFTER INSERT ON dead_letters BEGIN"
    "  INSERT OR IGNORE INTO route_stats VALUES(NEW.route, 'dlq.added', 0);"
    "  UPDATE route_stats SET value = value + 1 WHERE route = NEW.route AND name = 'dlq.added';"
    " END;"
    "CREATE TRIGGER dlq_removed AFTER DELETE ON dead_letters BEGIN"
    "  INSERT OR IGNORE INTO route_stats VALUES(OLD.route, 'dlq.removed', 0);"
    "  UPDATE route_stats SET value = value + 1 WHERE route = OLD.route AND name = 'dlq.removed';"
    " END;";

/* The same triggers in PL/pgSQL (PostgreSQL state). */
static const char stats_dlq_triggers_pg[] =
    "INSERT INTO route_stats SELECT route, 'dlq.added', count(*) FROM dead_letters"
    "  WHERE true GROUP BY route ON CONFLICT(route, name) DO UPDATE SET value = excluded.value;"
    "CREATE OR REPLACE FUNCTION bp_dlq_count() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "   INSERT INTO route_stats VALUES(NEW.route, 'dlq.added', 1) ON CONFLICT(route, name)"
    "    DO UPDATE SET value = route_stats.value + 1;"
    "  ELSE"
    "   INSERT INTO route_stats VALUES(OLD.route, 'dlq.removed', 1) ON CONFLICT(route, name)"
    "    DO UPDATE SET value = route_stats.value + 1;"
    "  END IF;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER dlq_added AFTER INSERT OR DELETE ON dead_letters"
    " FOR EACH ROW EXECUTE FUNCTION bp_dlq_count();";

bp_status bp_state_stats_migrate(bp_state *st, char **sqlerr)
{
    if (bp_db_exec(st->db, stats_tables, NULL, NULL, sqlerr) != BP_DB_OK)
        return BP_ERR_IO;
    /* Checked inside the transaction: two processes opening one old file
     * must not both seed the ledger. */
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, sqlerr) != BP_DB_OK)
        return BP_ERR_IO;
    bp_db_stmt *q = NULL;
    int have = -1;
    if (bp_db_prepare_v2(st->db,
                           bp_db_is_pg(st->db)
                               ? "SELECT count(*) FROM pg_trigger WHERE tgname='dlq_added'"
                               : "SELECT count(*) FROM sqlite_master WHERE type='trigger'"
                                 " AND name='dlq_added'",
                           -1, &q, NULL) == BP_DB_OK && bp_db_step(q) == BP_DB_ROW)
        have = bp_db_column_int(q, 0);
    bp_db_finalize(q);
    int ok = have == 1 ||
             (have == 0 && bp_db_exec(st->db, bp_db_is_pg(st->db) ? stats_dlq_triggers_pg : stats_dlq_triggers, NULL, NULL, sqlerr) == BP_DB_OK);
    return state_end(st, ok);
}

static void stats_bind_opt(bp_db_stmt *q, int i, const char *s)
{
    if (s)
        bp_db_bind_text(q, i, s, -1, BP_DB_STATIC);
    else
        bp_db_bind_null(q, i);
}

bp_status bp_state_plugin_stats_add(bp_state *st, const char *route, const bp_plugin_stat *s,
                                    size_t n)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != BP_DB_OK)
        goto out;
    int ok = bp_db_prepare_v2(st->db,
                                "INSERT INTO plugin_stats VALUES(?1,?2,?3,?4,?5,?6,?7)"
                                " ON CONFLICT(route,stage,name) DO UPDATE SET plugin = ?3,"
                                " connector = ?4, gauge = ?6, value = CASE WHEN ?6 <> 0 THEN ?7"
                                " ELSE plugin_stats.value + ?7 END",
                                -1, &q, NULL) == BP_DB_OK;
    for (size_t i = 0; ok && i < n; i++) {
        bp_db_bind_text(q, 1, route, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, s[i].stage, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 3, s[i].plugin, -1, BP_DB_STATIC);
        stats_bind_opt(q, 4, s[i].connector);
        bp_db_bind_text(q, 5, s[i].name, -1, BP_DB_STATIC);
        bp_db_bind_int(q, 6, s[i].gauge != 0);
        bp_db_bind_double(q, 7, s[i].value);
        ok = bp_db_step(q) == BP_DB_DONE;
        bp_db_reset(q);
    }
    bp_db_finalize(q);
    rc = state_end(st, ok);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static const char *stats_col(bp_db_stmt *q, int i)
{
    return (const char *)bp_db_column_text(q, i);
}

bp_status bp_state_plugin_stats_foreach(bp_state *st,
                                        int (*fn)(const char *route, const bp_plugin_stat *s,
                                                  void *ud),
                                        void *ud)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "SELECT route, stage, plugin, connector, name, gauge, value"
                           " FROM plugin_stats ORDER BY route, stage, name",
                           -1, &q, NULL) == BP_DB_OK) {
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW) {
            bp_plugin_stat ps = {.stage = stats_col(q, 1), .plugin = stats_col(q, 2),
                                 .connector = stats_col(q, 3), .name = stats_col(q, 4),
                                 .gauge = bp_db_column_int(q, 5),
                                 .value = bp_db_column_double(q, 6)};
            if (fn(stats_col(q, 0), &ps, ud))
                break;
        }
        rc = s == BP_DB_ROW || s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_route_stats_foreach(bp_state *st,
                                       int (*fn)(const char *route, const char *name,
                                                 int64_t value, void *ud),
                                       void *ud)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "SELECT route, name, value FROM route_stats ORDER BY route, name",
                           -1, &q, NULL) == BP_DB_OK) {
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW)
            if (fn(stats_col(q, 0), stats_col(q, 1), bp_db_column_int64(q, 2), ud))
                break;
        rc = s == BP_DB_ROW || s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_dlq_resolve(bp_state *st, int64_t seq, const char *outcome)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    char name[64];
    if (strlen(outcome) > sizeof(name) - 5)
        return BP_ERR_INVALID;
    strcpy(name, "dlq.");
    strcat(name, outcome);
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != BP_DB_OK)
        goto out;
    int ok = bp_db_prepare_v2(st->db,
                                "INSERT INTO route_stats SELECT route, CAST(?2 AS TEXT), 1 FROM"
                                " dead_letters WHERE seq = ?1 ON CONFLICT(route,name)"
                                " DO UPDATE SET value = route_stats.value + 1",
                                -1, &q, NULL) == BP_DB_OK;
    if (ok) {
        bp_db_bind_int64(q, 1, seq);
        bp_db_bind_text(q, 2, name, -1, BP_DB_STATIC);
        ok = bp_db_step(q) == BP_DB_DONE;
    }
    int found = ok && bp_db_changes(st->db) > 0;
    bp_db_finalize(q);
    q = NULL;
    if (found) {
        ok = bp_db_prepare_v2(st->db, "DELETE FROM dead_letters WHERE seq = ?1", -1, &q,
                                NULL) == BP_DB_OK;
        if (ok) {
            bp_db_bind_int64(q, 1, seq);
            ok = bp_db_step(q) == BP_DB_DONE;
        }
        bp_db_finalize(q);
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
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, report_sql[what], -1, &q, NULL) == BP_DB_OK) {
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW)
            if (fn(stats_col(q, 0), stats_col(q, 1), bp_db_column_int64(q, 2),
                   bp_db_column_int64(q, 3), ud))
                break;
        rc = s == BP_DB_ROW || s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}
