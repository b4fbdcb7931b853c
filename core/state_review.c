/* The state store's human-review side: the review queue with its triage
 * columns, reviewers' decisions (leaves of the audit log), corrections kept as labelled
 * examples, and the per-route counters `backplane report` reads. See state.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json_print.h"
#include "state_int.h"
#include "audit_int.h"
#include "strutil.h"

/* Columns and tables added after schema 1; ALTER TABLE for files written
 * before them (an ALTER of a column that exists fails and is ignored). */
static const char *const review_alters[] = {
    "ALTER TABLE review_queue ADD COLUMN confidence REAL",
    "ALTER TABLE review_queue ADD COLUMN flags TEXT",
    "ALTER TABLE review_queue ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE review_queue ADD COLUMN subject TEXT",
    /* robust2 (issue 17): one dead letter per record and stage, one review
     * entry per record, however often a crash redelivers it. Rows of older
     * files keep NULL keys (never equal in a UNIQUE index). */
    "ALTER TABLE dead_letters ADD COLUMN source TEXT",
    "ALTER TABLE dead_letters ADD COLUMN rec_id TEXT",
    "ALTER TABLE dead_letters ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE dead_letters ADD COLUMN updated_ms INTEGER",
    "ALTER TABLE review_queue ADD COLUMN source TEXT",
    "ALTER TABLE review_queue ADD COLUMN rec_id TEXT",
    /* issue 22: a reviewed record's cycle spans its wait for a person. */
    "ALTER TABLE review_queue ADD COLUMN arrived_ms INTEGER",
    NULL,
};

static const char review_tables[] =
    "CREATE TABLE IF NOT EXISTS corrections(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  route TEXT NOT NULL, source TEXT, id TEXT, path TEXT NOT NULL, old_value TEXT,"
    "  new_value TEXT NOT NULL, actor TEXT NOT NULL, at_ms INTEGER NOT NULL, payload TEXT);"
    "CREATE TABLE IF NOT EXISTS route_stats(route TEXT NOT NULL, name TEXT NOT NULL,"
    "  value INTEGER NOT NULL, PRIMARY KEY(route, name));"
    "CREATE INDEX IF NOT EXISTS review_order ON review_queue(priority DESC, seq);"
    "CREATE UNIQUE INDEX IF NOT EXISTS dead_letter_record"
    "  ON dead_letters(route, stage, source, rec_id);"
    "CREATE UNIQUE INDEX IF NOT EXISTS review_record ON review_queue(route, source, rec_id);";

static char *review_col(bp_db_stmt *q, int col);

static int review_has_column(bp_state *st, const char *table, const char *col)
{
    bp_db_stmt *q = NULL;
    int found = 0;
    if (bp_db_is_pg(st->db))
        return 0;   /* its ADD COLUMN is ADD COLUMN IF NOT EXISTS */
    if (bp_db_prepare_v2(st->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name=?2", -1, &q,
                           NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, table, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, col, -1, BP_DB_STATIC);
        found = bp_db_step(q) == BP_DB_ROW;
    }
    bp_db_finalize(q);
    return found;
}

bp_status bp_state_review_migrate(bp_state *st, char **sqlerr)
{
    for (size_t i = 0; review_alters[i]; i++) {
        /* "ALTER TABLE <table> ADD COLUMN <name> ..." */
        char table[32], name[32];
        if (sscanf(review_alters[i], "ALTER TABLE %31s ADD COLUMN %31s", table, name) != 2)
            return BP_ERR_INVALID;
        if (!review_has_column(st, table, name) &&
            bp_db_exec(st->db, review_alters[i], NULL, NULL, sqlerr) != BP_DB_OK)
            return BP_ERR_IO;
    }
    if (bp_db_exec(st->db, review_tables, NULL, NULL, sqlerr) != BP_DB_OK)
        return BP_ERR_IO;
    return bp_state_stats_migrate(st, sqlerr);
}

void bp_review_item_clear(bp_review_item *it)
{
    free(it->route);
    free(it->stage);
    free(it->reason);
    free(it->payload);
    free(it->flags);
    free(it->subject);
    memset(it, 0, sizeof(*it));
}

static void review_bind_opt(bp_db_stmt *q, int i, const char *s)
{
    if (s)
        bp_db_bind_text(q, i, s, -1, BP_DB_STATIC);
    else
        bp_db_bind_null(q, i);
}

/* INSERT of an item (source, id: its key, or NULL); lock held. */
static int review_insert(bp_state *st, const bp_review_item *it, int64_t created_ms,
                         const char *source, const char *id)
{
    bp_db_stmt *q = NULL;
    int ok = bp_db_prepare_v2(st->db,
                                "INSERT INTO review_queue(route,stage,reason,payload,created_ms,"
                                "confidence,flags,priority,subject,source,rec_id,arrived_ms)"
                                " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
                                -1, &q, NULL) == BP_DB_OK;
    if (ok) {
        bp_db_bind_text(q, 1, it->route, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, it->stage, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 3, it->reason ? it->reason : "", -1, BP_DB_STATIC);
        review_bind_opt(q, 4, it->payload);
        bp_db_bind_int64(q, 5, created_ms);
        if (it->confidence >= 0)
            bp_db_bind_double(q, 6, it->confidence);
        else
            bp_db_bind_null(q, 6);
        review_bind_opt(q, 7, it->flags);
        bp_db_bind_int64(q, 8, it->priority);
        review_bind_opt(q, 9, it->subject);
        review_bind_opt(q, 10, source);
        review_bind_opt(q, 11, id);
        if (it->arrived_ms > 0)
            bp_db_bind_int64(q, 12, it->arrived_ms);
        else
            bp_db_bind_null(q, 12);
        ok = bp_db_step(q) == BP_DB_DONE;
    }
    bp_db_finalize(q);
    return ok;
}

bp_status bp_state_park_review(bp_state *st, const bp_review_item *it)
{
    pthread_mutex_lock(&st->mu);
    int ok = review_insert(st, it, bp_now_ms(), NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    return ok ? BP_OK : BP_ERR_IO;
}

bp_status bp_state_park_review_once(bp_state *st, const bp_review_item *it, const char *source,
                                    const char *id, bp_park_result *out)
{
    *out = (bp_park_result){0};
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != BP_DB_OK)
        goto out;
    int ok = bp_db_prepare_v2(st->db,
                                "SELECT seq FROM review_queue WHERE route=?1 AND source=?2"
                                " AND rec_id=?3", -1, &q, NULL) == BP_DB_OK;
    int s = BP_DB_ERROR;
    if (ok) {
        bp_db_bind_text(q, 1, it->route, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, source, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 3, id, -1, BP_DB_STATIC);
        s = bp_db_step(q);
        ok = s == BP_DB_ROW || s == BP_DB_DONE;
        if (s == BP_DB_ROW) {
            out->seq = bp_db_column_int64(q, 0);
            out->already_parked = 1;
        }
    }
    bp_db_finalize(q);
    q = NULL;
    /* Not parked: was it decided before (the decision's entry in the audit
     * log)? The last review event counts: a reopened record is parked anew.
     * A payload pruned by audit.retention leaves the decision known. */
    if (ok && !out->already_parked)
        ok = bp_db_prepare_v2(st->db,
                                "SELECT kind, payload FROM audit_log WHERE source=?2 AND id=?3"
                                " AND route=?1 AND kind LIKE 'review:%' ORDER BY seq DESC"
                                " LIMIT 1", -1, &q, NULL) == BP_DB_OK;
    if (ok && !out->already_parked) {
        bp_db_bind_text(q, 1, it->route, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, source, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 3, id, -1, BP_DB_STATIC);
        s = bp_db_step(q);
        ok = s == BP_DB_ROW || s == BP_DB_DONE;
        const char *o = s == BP_DB_ROW ? (const char *)bp_db_column_text(q, 0) : NULL;
        if (o && (strcmp(o, "review:approved") == 0 || strcmp(o, "review:corrected") == 0 ||
                  strcmp(o, "review:rejected") == 0)) {
            out->decided = strdup(o + 7);
            out->decision_json = review_col(q, 1);
            ok = out->decided != NULL;
        }
    }
    bp_db_finalize(q);
    q = NULL;
    if (ok && !out->already_parked && out->decided == NULL) {
        ok = review_insert(st, it, bp_now_ms(), source, id);
        if (ok)
            out->seq = bp_db_last_insert_rowid(st->db);
    }
    rc = state_end(st, ok);
    if (rc != BP_OK)
        bp_park_result_clear(out);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void bp_park_result_clear(bp_park_result *r)
{
    free(r->decided);
    free(r->decision_json);
    *r = (bp_park_result){0};
}

bp_status bp_state_review_repark(bp_state *st, const bp_review_item *it)
{
    pthread_mutex_lock(&st->mu);
    int ok = review_insert(st, it, it->created_ms ? it->created_ms : bp_now_ms(), NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    return ok ? BP_OK : BP_ERR_IO;
}

static char *review_col(bp_db_stmt *q, int col)
{
    const unsigned char *t = bp_db_column_text(q, col);
    return t ? strdup((const char *)t) : NULL;
}

#define REVIEW_COLS \
    "seq,route,stage,reason,payload,created_ms,confidence,flags,priority,subject,arrived_ms"

static void review_row(bp_db_stmt *q, bp_review_item *it)
{
    it->seq = bp_db_column_int64(q, 0);
    it->route = review_col(q, 1);
    it->stage = review_col(q, 2);
    it->reason = review_col(q, 3);
    it->payload = review_col(q, 4);
    it->created_ms = bp_db_column_int64(q, 5);
    it->confidence = bp_db_column_type(q, 6) == BP_DB_NULL ? -1 : bp_db_column_double(q, 6);
    it->flags = review_col(q, 7);
    it->priority = bp_db_column_int64(q, 8);
    it->subject = review_col(q, 9);
    it->arrived_ms = bp_db_column_int64(q, 10);
}

bp_status bp_state_review_get(bp_state *st, int64_t seq, bp_review_item *out)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "SELECT " REVIEW_COLS " FROM review_queue WHERE seq=?1", -1,
                           &q, NULL) == BP_DB_OK) {
        bp_db_bind_int64(q, 1, seq);
        int s = bp_db_step(q);
        if (s == BP_DB_ROW) {
            review_row(q, out);
            rc = BP_OK;
        } else if (s == BP_DB_DONE) {
            rc = BP_ERR_NOT_FOUND;
        }
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_review_foreach(bp_state *st, const char *route,
                                  int (*fn)(const bp_review_item *it, void *ud), void *ud)
{
    /* Copied out first, so fn may call back into the store. */
    bp_db_stmt *q = NULL;
    bp_review_item *items = NULL;
    size_t n = 0, cap = 0;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "SELECT " REVIEW_COLS " FROM review_queue WHERE ?1 IS NULL OR route=?1"
                           " ORDER BY priority DESC, seq",
                           -1, &q, NULL) == BP_DB_OK) {
        review_bind_opt(q, 1, route);
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 32;
                bp_review_item *p = realloc(items, nc * sizeof(*p));
                if (p == NULL)
                    break;
                items = p;
                cap = nc;
            }
            review_row(q, &items[n++]);
        }
        rc = s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    size_t i = 0;
    for (; rc == BP_OK && i < n; i++)
        if (fn(&items[i], ud))
            break;
    for (size_t k = 0; k < n; k++)
        bp_review_item_clear(&items[k]);
    free(items);
    return rc;
}

/* {"decision","by","note","stage","reason","changes":[{"path","from","to"}]}, built
 * with cJSON and printed by the core's JSON printer. from/to are JSON texts. */
static char *review_decision_json(const bp_review_item *it, const char *outcome,
                                  const char *actor, const char *note,
                                  const bp_correction *changes, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = NULL;
    int ok = o && cJSON_AddStringToObject(o, "decision", outcome) &&
             cJSON_AddStringToObject(o, "by", actor) &&
             cJSON_AddStringToObject(o, "note", note ? note : "") &&
             cJSON_AddStringToObject(o, "stage", it->stage) &&
             cJSON_AddStringToObject(o, "reason", it->reason ? it->reason : "") &&
             (arr = cJSON_AddArrayToObject(o, "changes")) != NULL;
    /* What a reopen (bp_state_review_reopen) needs to park the entry again
     * as it was: its number and its triage fields. */
    if (ok) {
        cJSON_AddNumberToObject(o, "seq", (double)it->seq);
        if (it->confidence >= 0)
            cJSON_AddNumberToObject(o, "confidence", it->confidence);
        if (it->flags)
            cJSON_AddStringToObject(o, "flags", it->flags);
        cJSON_AddNumberToObject(o, "priority", (double)it->priority);
        cJSON_AddNumberToObject(o, "created_ms", (double)it->created_ms);
    }
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON *from = changes[i].old_json ? cJSON_Parse(changes[i].old_json) : cJSON_CreateNull();
        cJSON *to = cJSON_Parse(changes[i].new_json);
        ok = c && from && to && cJSON_AddStringToObject(c, "path", changes[i].path);
        if (ok) {
            cJSON_AddItemToObject(c, "from", from);
            cJSON_AddItemToObject(c, "to", to);
            cJSON_AddItemToArray(arr, c);
        } else {
            cJSON_Delete(c);
            cJSON_Delete(from);
            cJSON_Delete(to);
        }
    }
    char *out = NULL;
    size_t len = 0, cap = 0;
    if (!ok || bp_json_append(o, &out, &len, &cap) != BP_OK) {
        free(out);
        out = NULL;
    }
    cJSON_Delete(o);
    return out;
}

bp_status bp_state_review_decide(bp_state *st, const bp_review_item *it, const char *outcome,
                                 const char *actor, const char *note,
                                 const bp_correction *changes, size_t n_changes,
                                 const char *source, const char *id)
{
    char *decision = review_decision_json(it, outcome, actor, note, changes, n_changes);
    if (decision == NULL)
        return BP_ERR_NOMEM;
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    int64_t now = bp_now_ms();
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != BP_DB_OK)
        goto out;
    int ok = bp_db_prepare_v2(st->db, "DELETE FROM review_queue WHERE seq=?1", -1, &q, NULL) ==
             BP_DB_OK;
    if (ok) {
        bp_db_bind_int64(q, 1, it->seq);
        ok = bp_db_step(q) == BP_DB_DONE;
        if (ok && bp_db_changes(st->db) == 0) {
            bp_db_finalize(q);
            q = NULL;
            state_end(st, 0);
            rc = BP_ERR_NOT_FOUND;
            goto out;
        }
    }
    bp_db_finalize(q);
    q = NULL;
    if (ok) {
        /* issue 18: a person's decision is always a leaf of the audit log
         * (its one store: who, what changed, the note). */
        char what[64];
        snprintf(what, sizeof(what), "review:%s", outcome);
        bp_audit_entry e = {.actor = actor, .kind = what, .route = it->route, .source = source,
                            .id = id, .subject = it->subject, .payload = decision, .at_ms = now};
        ok = bp_state_audit_append_locked(st, &e, 1);
    }
    for (size_t i = 0; ok && i < n_changes; i++) {
        ok = bp_db_prepare_v2(st->db,
                                "INSERT INTO corrections(route,source,id,path,old_value,new_value,"
                                "actor,at_ms,payload) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                                -1, &q, NULL) == BP_DB_OK;
        if (ok) {
            bp_db_bind_text(q, 1, it->route, -1, BP_DB_STATIC);
            review_bind_opt(q, 2, source);
            review_bind_opt(q, 3, id);
            bp_db_bind_text(q, 4, changes[i].path, -1, BP_DB_STATIC);
            review_bind_opt(q, 5, changes[i].old_json);
            bp_db_bind_text(q, 6, changes[i].new_json, -1, BP_DB_STATIC);
            bp_db_bind_text(q, 7, actor, -1, BP_DB_STATIC);
            bp_db_bind_int64(q, 8, now);
            review_bind_opt(q, 9, it->payload);
            ok = bp_db_step(q) == BP_DB_DONE;
        }
        bp_db_finalize(q);
        q = NULL;
    }
    if (ok && strcmp(outcome, "rejected") == 0) {
        char *why = NULL;
        if (asprintf(&why, "rejected in review by %s%s%s", actor, note && *note ? ": " : "",
                     note ? note : "") < 0)
            why = NULL;
        /* Keyed by the record (source, id), so a reopen finds it. */
        ok = why && bp_db_prepare_v2(st->db,
                                       "INSERT INTO dead_letters(route,stage,reason,payload,"
                                       "created_ms,source,rec_id) VALUES(?1,'review',?2,?3,?4,"
                                       "?5,?6)",
                                       -1, &q, NULL) == BP_DB_OK;
        if (ok) {
            bp_db_bind_text(q, 1, it->route, -1, BP_DB_STATIC);
            bp_db_bind_text(q, 2, why, -1, BP_DB_STATIC);
            if (it->payload)
                bp_db_bind_blob64(q, 3, it->payload, strlen(it->payload), BP_DB_STATIC);
            else
                bp_db_bind_null(q, 3);
            bp_db_bind_int64(q, 4, now);
            review_bind_opt(q, 5, source);
            review_bind_opt(q, 6, id);
            ok = bp_db_step(q) == BP_DB_DONE;
        }
        bp_db_finalize(q);
        q = NULL;
        free(why);
    }
    rc = state_end(st, ok);
out:
    pthread_mutex_unlock(&st->mu);
    free(decision);
    return rc;
}

/* The number of a JSON member of obj, or def. */
static double review_num(const cJSON *obj, const char *name, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

bp_status bp_state_review_reopen(bp_state *st, int64_t seq, const char *actor, const char *note,
                                 int64_t *new_seq, char **who)
{
    *new_seq = 0;
    *who = NULL;
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    int ok = 0;
    char *route = NULL, *source = NULL, *id = NULL, *subject = NULL, *lineage = NULL;
    char *payload = NULL, *decision = NULL;
    cJSON *dj = NULL, *rd = NULL;
    int64_t dl_seq = 0, now = bp_now_ms();
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != BP_DB_OK)
        goto unlock;
    /* The decision of entry seq (its entry in the audit log names it). */
    if (bp_db_prepare_v2(st->db,
                           "SELECT route,source,id,subject,kind,payload FROM audit_log WHERE"
                           " kind LIKE 'review:%' AND json_valid(payload) AND"
                           " CAST(json_extract(payload,'$.seq') AS INTEGER)=?1 ORDER BY seq DESC LIMIT 1",
                           -1, &q, NULL) != BP_DB_OK)
        goto end;
    bp_db_bind_int64(q, 1, seq);
    int s = bp_db_step(q);
    if (s == BP_DB_DONE) {
        rc = BP_ERR_NOT_FOUND;
        ok = 1;
        goto end;
    }
    if (s != BP_DB_ROW)
        goto end;
    route = review_col(q, 0);
    source = review_col(q, 1);
    id = review_col(q, 2);
    subject = review_col(q, 3);
    const char *outcome = (const char *)bp_db_column_text(q, 4);
    lineage = review_col(q, 5);
    int rejected = outcome && strcmp(outcome, "review:rejected") == 0;
    bp_db_finalize(q);
    q = NULL;
    dj = lineage ? cJSON_Parse(lineage) : NULL;
    if (!rejected || dj == NULL) {
        const cJSON *by = cJSON_GetObjectItemCaseSensitive(dj, "by");
        const cJSON *dec = cJSON_GetObjectItemCaseSensitive(dj, "decision");
        *who = bp_strfmt("%s by %s", cJSON_IsString(dec) ? dec->valuestring : "decided",
                         cJSON_IsString(by) ? by->valuestring : "someone");
        rc = BP_ERR_FULL;   /* approved or corrected: delivered, nothing to reopen */
        ok = 1;
        goto end;
    }
    /* Still the record's last review event: not reopened (or parked) since. */
    if (bp_db_prepare_v2(st->db,
                           "SELECT kind, payload FROM audit_log WHERE route=?1 AND source=?2 AND"
                           " id=?3 AND kind LIKE 'review:%' ORDER BY seq DESC LIMIT 1",
                           -1, &q, NULL) != BP_DB_OK)
        goto end;
    bp_db_bind_text(q, 1, route, -1, BP_DB_STATIC);
    bp_db_bind_text(q, 2, source ? source : "", -1, BP_DB_STATIC);
    bp_db_bind_text(q, 3, id ? id : "", -1, BP_DB_STATIC);
    if (bp_db_step(q) == BP_DB_ROW &&
        strcmp((const char *)bp_db_column_text(q, 0), "review:rejected") != 0) {
        cJSON *last = cJSON_Parse((const char *)bp_db_column_text(q, 1));
        const cJSON *by = cJSON_GetObjectItemCaseSensitive(last, "by");
        *who = bp_strfmt("%s by %s", (const char *)bp_db_column_text(q, 0) + 7,
                         cJSON_IsString(by) ? by->valuestring : "someone");
        cJSON_Delete(last);
        rc = BP_ERR_FULL;
        ok = 1;
        goto end;
    }
    bp_db_finalize(q);
    q = NULL;
    /* Its dead letter holds the record; gone when it was replayed or dropped. */
    if (bp_db_prepare_v2(st->db,
                           "SELECT seq, payload FROM dead_letters WHERE route=?1 AND"
                           " stage='review' AND source=?2 AND rec_id=?3",
                           -1, &q, NULL) != BP_DB_OK)
        goto end;
    bp_db_bind_text(q, 1, route, -1, BP_DB_STATIC);
    bp_db_bind_text(q, 2, source ? source : "", -1, BP_DB_STATIC);
    bp_db_bind_text(q, 3, id ? id : "", -1, BP_DB_STATIC);
    if (bp_db_step(q) != BP_DB_ROW) {
        *who = strdup("its dead letter was replayed or dropped since");
        rc = BP_ERR_FULL;
        ok = 1;
        goto end;
    }
    dl_seq = bp_db_column_int64(q, 0);
    payload = review_col(q, 1);
    bp_db_finalize(q);
    q = NULL;
    /* Parked again as it was, a new entry (entries are never rewritten). */
    const cJSON *stage = cJSON_GetObjectItemCaseSensitive(dj, "stage");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(dj, "reason");
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(dj, "flags");
    bp_review_item it = {
        .route = route,
        .stage = cJSON_IsString(stage) ? stage->valuestring : "review",
        .reason = cJSON_IsString(reason) ? reason->valuestring : "",
        .payload = payload,
        .flags = cJSON_IsString(flags) ? flags->valuestring : NULL,
        .subject = subject,
        .confidence = review_num(dj, "confidence", -1),
        .priority = (int64_t)review_num(dj, "priority", 0),
    };
    if (!review_insert(st, &it, (int64_t)review_num(dj, "created_ms", (double)now), source, id))
        goto end;
    *new_seq = bp_db_last_insert_rowid(st->db);
    if (bp_db_prepare_v2(st->db, "DELETE FROM dead_letters WHERE seq=?1", -1, &q, NULL) !=
        BP_DB_OK)
        goto end;
    bp_db_bind_int64(q, 1, dl_seq);
    if (bp_db_step(q) != BP_DB_DONE)
        goto end;
    bp_db_finalize(q);
    q = NULL;
    /* The reopening is a new review event (the record's last: a redelivery
     * parks it, never applies the rejection) and a leaf of the audit log. */
    rd = cJSON_CreateObject();
    cJSON_AddStringToObject(rd, "decision", "reopened");
    cJSON_AddStringToObject(rd, "by", actor);
    cJSON_AddStringToObject(rd, "note", note ? note : "");
    cJSON_AddNumberToObject(rd, "reopens", (double)seq);
    cJSON_AddNumberToObject(rd, "seq", (double)*new_seq);
    cJSON_AddNumberToObject(rd, "dlq_seq", (double)dl_seq);
    decision = cJSON_PrintUnformatted(rd);
    if (decision == NULL)
        goto end;
    bp_audit_entry e = {.actor = actor, .kind = "review:reopened", .route = route,
                        .source = source, .id = id, .subject = subject, .payload = decision,
                        .at_ms = now};
    ok = bp_state_audit_append_locked(st, &e, 1);
    rc = BP_OK;
end:
    bp_db_finalize(q);
    if (state_end(st, ok) != BP_OK && rc == BP_OK)
        rc = BP_ERR_IO;
    if (rc != BP_OK)
        *new_seq = 0;
unlock:
    pthread_mutex_unlock(&st->mu);
    cJSON_Delete(dj);
    cJSON_Delete(rd);
    free(decision);
    free(route);
    free(source);
    free(id);
    free(subject);
    free(lineage);
    free(payload);
    return rc;
}

bp_status bp_state_corrections_foreach(bp_state *st,
                                       int (*fn)(const char *route, const char *path,
                                                 const char *old_json, const char *new_json,
                                                 const char *payload, void *ud),
                                       void *ud)
{
    int64_t after = 0;
    for (;;) {
        bp_db_stmt *q = NULL;
        char *c[5] = {0};
        int got = -1;
        pthread_mutex_lock(&st->mu);
        if (bp_db_prepare_v2(st->db,
                               "SELECT seq,route,path,old_value,new_value,payload FROM corrections"
                               " WHERE seq > ?1 ORDER BY seq LIMIT 1",
                               -1, &q, NULL) == BP_DB_OK) {
            bp_db_bind_int64(q, 1, after);
            int s = bp_db_step(q);
            if (s == BP_DB_ROW) {
                after = bp_db_column_int64(q, 0);
                for (int i = 0; i < 5; i++)
                    c[i] = review_col(q, i + 1);
                got = 1;
            } else if (s == BP_DB_DONE) {
                got = 0;
            }
        }
        bp_db_finalize(q);
        pthread_mutex_unlock(&st->mu);
        int stop = got != 1 || fn(c[0], c[1], c[2], c[3], c[4], ud);
        for (int i = 0; i < 5; i++)
            free(c[i]);
        if (stop)
            return got < 0 ? BP_ERR_IO : BP_OK;
    }
}

bp_status bp_state_stats_add(bp_state *st, const char *route, const char *const *names,
                             const int64_t *deltas, size_t n)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != BP_DB_OK)
        goto out;
    int ok = bp_db_prepare_v2(st->db,
                                "INSERT INTO route_stats VALUES(?1,?2,?3) ON CONFLICT(route,name)"
                                " DO UPDATE SET value = route_stats.value + excluded.value",
                                -1, &q, NULL) == BP_DB_OK;
    for (size_t i = 0; ok && i < n; i++) {
        if (deltas[i] == 0)
            continue;
        bp_db_bind_text(q, 1, route, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, names[i], -1, BP_DB_STATIC);
        bp_db_bind_int64(q, 3, deltas[i]);
        ok = bp_db_step(q) == BP_DB_DONE;
        bp_db_reset(q);
    }
    bp_db_finalize(q);
    rc = state_end(st, ok);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bp_status bp_state_select(bp_state *st, const char *sql,
                          int (*fn)(int ncol, const char *const *cols, void *ud), void *ud)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, sql, -1, &q, NULL) == BP_DB_OK && bp_db_stmt_readonly(q)) {
        const char *cols[32];
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW) {
            /* Counted on a row: PostgreSQL knows its columns once it ran. */
            int ncol = bp_db_column_count(q);
            if (ncol > 32)
                ncol = 32;
            for (int i = 0; i < ncol; i++)
                cols[i] = (const char *)bp_db_column_text(q, i);
            if (fn(ncol, cols, ud))
                break;
        }
        rc = s == BP_DB_ROW || s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}
