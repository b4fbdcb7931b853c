/* The state store's database layer: one statement interface over two
 * backends, SQLite (the default, a file) and PostgreSQL (libpq, shared by
 * several instances of a site, DESIGN.md §10). It has SQLite's shape (prepare,
 * bind, step, column, reset, finalize) so core/state*.c is written once; SQL is
 * written once in a common dialect and rewritten for PostgreSQL when prepared:
 *   ?N and ?           -> $N (numbered as SQLite numbers them)
 *   BEGIN IMMEDIATE    -> BEGIN
 *   INSERT OR IGNORE   -> INSERT ... ON CONFLICT DO NOTHING
 *   INTEGER PRIMARY KEY [AUTOINCREMENT] -> BIGSERIAL PRIMARY KEY
 *   INTEGER, REAL, BLOB (upper case, as types) -> BIGINT, DOUBLE PRECISION, BYTEA
 *   ADD COLUMN         -> ADD COLUMN IF NOT EXISTS
 * Upserts are INSERT ... ON CONFLICT(...) DO UPDATE, which both accept (never
 * INSERT OR REPLACE). Text outside single quotes only is rewritten.
 *
 * Thread: a bp_db and its statements are used by one thread at a time (the
 * state store's mutex). Errors: the BP_DB_* codes below; bp_db_errmsg has the
 * backend's message (borrowed, valid until the next call on db). */
#ifndef BP_CORE_DB_H
#define BP_CORE_DB_H

#include <stdint.h>

typedef struct bp_db bp_db;
typedef struct bp_db_stmt bp_db_stmt;

/* Result codes: SQLite's values, so a step's result reads the same. */
#define BP_DB_OK 0
#define BP_DB_ERROR 1
#define BP_DB_BUSY 5
#define BP_DB_CONSTRAINT 19
#define BP_DB_CONSTRAINT_PRIMARYKEY 1555   /* extended codes (bp_db_extended_errcode) */
#define BP_DB_CONSTRAINT_UNIQUE 2067
#define BP_DB_ROW 100
#define BP_DB_DONE 101

/* Column types (bp_db_column_type). */
#define BP_DB_INTEGER 1
#define BP_DB_FLOAT 2
#define BP_DB_TEXT 3
#define BP_DB_BLOB 4
#define BP_DB_NULL 5

/* Lifetime of a bound value: STATIC (the caller keeps it until the statement
 * is reset or finalized) or TRANSIENT (copied). The PostgreSQL backend copies
 * always. */
typedef void (*bp_db_destructor)(void *);
#define BP_DB_STATIC ((bp_db_destructor)0)
#define BP_DB_TRANSIENT ((bp_db_destructor)-1)
#define BP_DB_UTF8 1

/* SQLite open flags (bp_db_open_sqlite). */
#define BP_DB_OPEN_READONLY 0x00000001
#define BP_DB_OPEN_READWRITE 0x00000002
#define BP_DB_OPEN_CREATE 0x00000004
#define BP_DB_OPEN_NOMUTEX 0x00008000
#define BP_DB_OPEN_FULLMUTEX 0x00010000

/* 1 when target names a PostgreSQL database ("postgresql://..." or
 * "postgres://..."), 0 for a file path. */
int bp_db_target_is_pg(const char *target);

/* Opens a SQLite file: *out is set (even on failure, for bp_db_errmsg;
 * bp_db_close it). Returns BP_DB_OK or a SQLite code. */
int bp_db_open_sqlite(const char *path, int flags, bp_db **out);
/* Connects to PostgreSQL (a libpq URI). *out set on BP_DB_OK; otherwise
 * *errmsg is malloc'ed (the server's reason; never the password). */
int bp_db_open_pg(const char *uri, bp_db **out, char **errmsg);
void bp_db_close(bp_db *db);
/* 1 for PostgreSQL. */
int bp_db_is_pg(const bp_db *db);
/* SQLite only: milliseconds a statement waits for a lock. */
void bp_db_busy_timeout(bp_db *db, int ms);

/* Runs one or more statements without parameters. cb (may be NULL) gets each
 * row as text. *errmsg (when errmsg not NULL): malloc'ed on failure, release
 * with bp_db_free. COMMIT of a transaction the server rolled back fails. */
int bp_db_exec(bp_db *db, const char *sql, int (*cb)(void *, int, char **, char **), void *ud,
               char **errmsg);
void bp_db_free(void *p);

int bp_db_prepare_v2(bp_db *db, const char *sql, int nbyte, bp_db_stmt **out, const char **tail);
int bp_db_step(bp_db_stmt *q);
/* Ready to run again; bindings are kept (as in SQLite). */
int bp_db_reset(bp_db_stmt *q);
int bp_db_clear_bindings(bp_db_stmt *q);
int bp_db_finalize(bp_db_stmt *q);
/* 1 when the statement cannot write. */
int bp_db_stmt_readonly(bp_db_stmt *q);

int bp_db_bind_text(bp_db_stmt *q, int i, const char *s, int n, bp_db_destructor d);
int bp_db_bind_text64(bp_db_stmt *q, int i, const char *s, uint64_t n, bp_db_destructor d,
                      unsigned char enc);
int bp_db_bind_blob(bp_db_stmt *q, int i, const void *b, int n, bp_db_destructor d);
int bp_db_bind_blob64(bp_db_stmt *q, int i, const void *b, uint64_t n, bp_db_destructor d);
int bp_db_bind_int64(bp_db_stmt *q, int i, int64_t v);
int bp_db_bind_int(bp_db_stmt *q, int i, int v);
int bp_db_bind_double(bp_db_stmt *q, int i, double v);
int bp_db_bind_null(bp_db_stmt *q, int i);

/* Columns of the current row (valid until the next step, reset or finalize).
 * A BYTEA column reads as its bytes (blob, and NUL-terminated text). */
int bp_db_column_count(bp_db_stmt *q);
int bp_db_column_type(bp_db_stmt *q, int col);
const unsigned char *bp_db_column_text(bp_db_stmt *q, int col);
const void *bp_db_column_blob(bp_db_stmt *q, int col);
int bp_db_column_bytes(bp_db_stmt *q, int col);
int64_t bp_db_column_int64(bp_db_stmt *q, int col);
int bp_db_column_int(bp_db_stmt *q, int col);
double bp_db_column_double(bp_db_stmt *q, int col);

const char *bp_db_errmsg(bp_db *db);
const char *bp_db_errstr(int rc);
/* The last failure's extended code (SQLite's; PostgreSQL's unique violation
 * maps to BP_DB_CONSTRAINT_PRIMARYKEY on a "..._pkey" constraint, else
 * BP_DB_CONSTRAINT_UNIQUE; other classes to their primary code). */
int bp_db_extended_errcode(bp_db *db);
/* Rows changed by the last INSERT, UPDATE or DELETE. */
int bp_db_changes(bp_db *db);
/* The id the last INSERT into a table with an INTEGER PRIMARY KEY
 * (PostgreSQL: BIGSERIAL) gave its row, in this connection. */
int64_t bp_db_last_insert_rowid(bp_db *db);

/* The PostgreSQL rewrite of sql (see above), malloc'ed; for tests. */
char *bp_db_pg_translate(const char *sql, int *nparams);

#endif
