/* The database layer's private parts, shared by db.c (SQLite and the
 * dispatch) and db_pg.c (PostgreSQL). */
#ifndef BP_CORE_DB_INT_H
#define BP_CORE_DB_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "db.h"

struct pg_conn;

struct bp_db {
    int pg;                  /* 1: conn; 0: lite */
    sqlite3 *lite;
    void *conn;              /* PGconn * */
    char *err;               /* PostgreSQL: the last error, malloc'ed */
    int changes;
    int xerr;                /* PostgreSQL: the last failure's extended code */
    int in_tx;               /* PostgreSQL: between BEGIN and COMMIT/ROLLBACK */
    int tx_lost;             /* the connection was reset inside that transaction */
};

struct bp_db_stmt {
    bp_db *db;
    sqlite3_stmt *lite;
    /* PostgreSQL */
    char *sql;               /* rewritten ($N) */
    int nparams;
    char **vals;             /* owned copies; NULL = SQL NULL */
    int *lens, *fmts;
    unsigned *types;         /* Oid */
    void *res;               /* PGresult * of the current execution */
    int executed, row, nrows;
    unsigned char **bcache;  /* unescaped BYTEA per column of the current row */
    size_t *blen;
    int ncols;
    int readonly;
};

int bp_db_pg_exec(bp_db *db, const char *sql, int (*cb)(void *, int, char **, char **), void *ud,
                  char **errmsg);
int bp_db_pg_prepare(bp_db *db, const char *sql, bp_db_stmt *q);
int bp_db_pg_step(bp_db_stmt *q);
void bp_db_pg_reset(bp_db_stmt *q);
void bp_db_pg_free_stmt(bp_db_stmt *q);
int bp_db_pg_bind(bp_db_stmt *q, int i, const void *v, size_t n, int fmt, unsigned type);
int bp_db_pg_column_type(bp_db_stmt *q, int col);
const unsigned char *bp_db_pg_column_text(bp_db_stmt *q, int col);
const void *bp_db_pg_column_blob(bp_db_stmt *q, int col);
int bp_db_pg_column_bytes(bp_db_stmt *q, int col);
int bp_db_pg_column_count(bp_db_stmt *q);
int64_t bp_db_pg_last_insert_rowid(bp_db *db);
void bp_db_pg_close(bp_db *db);

#endif
