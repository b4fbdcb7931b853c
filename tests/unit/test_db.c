/* The common SQL dialect's rewrite for PostgreSQL (core/db.h): placeholders
 * numbered as SQLite numbers them, literals left alone, the few SQLite forms
 * the state code uses. No server needed. */
#include <stdlib.h>

#include "db.h"
#include "tap.h"
#include "state_target.h"

static void tr(const char *in, const char *want, int want_n)
{
    int n = -1;
    char *got = bp_db_pg_translate(in, &n);
    CHECK_STR(got, want);
    CHECK_INT(n, want_n);
    free(got);
}

int main(void)
{
    tr("SELECT a FROM t WHERE x=?1 AND y=?2", "SELECT a FROM t WHERE x=$1 AND y=$2", 2);
    tr("INSERT INTO t VALUES(?,?,?)", "INSERT INTO t VALUES($1,$2,$3)", 3);
    /* A bare ? takes the number after the largest so far, as in SQLite. */
    tr("UPDATE t SET a=?3 WHERE b=?", "UPDATE t SET a=$3 WHERE b=$4", 4);
    /* Literals and quoted names are copied: no ? or keyword inside is touched. */
    tr("SELECT '?1 INTEGER', \"BLOB\" FROM t WHERE c='it''s ?'",
       "SELECT '?1 INTEGER', \"BLOB\" FROM t WHERE c='it''s ?'", 0);
    tr("BEGIN IMMEDIATE", "BEGIN", 0);
    tr("INSERT OR IGNORE INTO meta VALUES('site', ?1)",
       "INSERT INTO meta VALUES('site', $1) ON CONFLICT DO NOTHING", 1);
    tr("INSERT OR IGNORE INTO a VALUES(1);INSERT INTO b VALUES(2)",
       "INSERT INTO a VALUES(1) ON CONFLICT DO NOTHING;INSERT INTO b VALUES(2)", 0);
    tr("CREATE TABLE t(seq INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, c REAL,"
       " b BLOB)",
       "CREATE TABLE t(seq BIGSERIAL PRIMARY KEY , n BIGINT NOT NULL, c DOUBLE PRECISION,"
       " b BYTEA)", 0);
    tr("ALTER TABLE t ADD COLUMN x TEXT", "ALTER TABLE t ADD COLUMN IF NOT EXISTS x TEXT", 0);
    /* An optional filter: PostgreSQL cannot type a parameter from IS NULL. */
    tr("SELECT 1 WHERE ?1 IS NULL OR route=?1", "SELECT 1 WHERE $1::text IS NULL OR route=$1", 1);
    /* Identifiers that merely contain a keyword are not types. */
    tr("SELECT integer_part, blobs FROM t", "SELECT integer_part, blobs FROM t", 0);
    /* A PL/pgSQL body is copied. */
    tr("CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NULL; END $$ LANGUAGE plpgsql",
       "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NULL; END $$ LANGUAGE plpgsql", 0);
    CHECK(bp_db_target_is_pg("postgresql://u@h/db"));
    CHECK(bp_db_target_is_pg("postgres://h/db"));
    CHECK(!bp_db_target_is_pg("/srv/acme/acme.state.db"));
    CHECK(!bp_db_target_is_pg("postgresql.db"));
    /* PostgreSQL (db-pg): a connection lost inside a transaction. The
     * statements after the loss must not run alone in autocommit on the
     * reconnected session: all fail until the caller ends the transaction,
     * COMMIT fails, and nothing of the transaction is in the table. */
    if (test_state_pg()) {
        const char *uri = test_state_target("unused");
        bp_db *a = NULL, *b = NULL;
        char *err = NULL;
        CHECK_INT(bp_db_open_pg(uri, &a, &err), BP_DB_OK);
        CHECK_INT(bp_db_open_pg(uri, &b, &err), BP_DB_OK);
        if (a == NULL || b == NULL)
            return tap_done();
        CHECK_INT(bp_db_exec(a, "CREATE TABLE t(n INTEGER)", NULL, NULL, NULL), BP_DB_OK);
        bp_db_stmt *q = NULL;
        int64_t pid = 0;
        CHECK_INT(bp_db_prepare_v2(a, "SELECT pg_backend_pid()", -1, &q, NULL), BP_DB_OK);
        if (bp_db_step(q) == BP_DB_ROW)
            pid = bp_db_column_int64(q, 0);
        bp_db_finalize(q);
        CHECK_INT(bp_db_exec(a, "BEGIN IMMEDIATE", NULL, NULL, NULL), BP_DB_OK);
        CHECK_INT(bp_db_exec(a, "INSERT INTO t VALUES(1)", NULL, NULL, NULL), BP_DB_OK);
        char kill[96];
        snprintf(kill, sizeof(kill), "SELECT pg_terminate_backend(%lld)", (long long)pid);
        CHECK_INT(bp_db_exec(b, kill, NULL, NULL, NULL), BP_DB_OK);
        CHECK(bp_db_exec(a, "INSERT INTO t VALUES(2)", NULL, NULL, NULL) != BP_DB_OK);  /* lost */
        CHECK(bp_db_prepare_v2(a, "INSERT INTO t VALUES(?1)", -1, &q, NULL) == BP_DB_OK);
        bp_db_bind_int64(q, 1, 3);
        CHECK(bp_db_step(q) != BP_DB_DONE);   /* would have run in autocommit */
        bp_db_finalize(q);
        CHECK(bp_db_exec(a, "COMMIT", NULL, NULL, NULL) != BP_DB_OK);
        /* After the transaction ended, the reconnected session works. */
        CHECK_INT(bp_db_prepare_v2(a, "SELECT count(*) FROM t", -1, &q, NULL), BP_DB_OK);
        CHECK_INT(bp_db_step(q), BP_DB_ROW);
        CHECK_INT(bp_db_column_int64(q, 0), 0);
        bp_db_finalize(q);
        bp_db_close(a);
        bp_db_close(b);
    }
    return tap_done();
}
