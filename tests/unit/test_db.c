/* The common SQL dialect's rewrite for PostgreSQL (core/db.h): placeholders
 * numbered as SQLite numbers them, literals left alone, the few SQLite forms
 * the state code uses. No server needed. */
#include <stdlib.h>

#include "db.h"
#include "tap.h"

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
    return tap_done();
}
