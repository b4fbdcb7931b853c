/* The ODBC connector (unixODBC): an incremental-polling source, a write-back
 * sink and a lookup provider for ERP databases. Internal header. */
#ifndef BP_ODBC_H
#define BP_ODBC_H

#include <pthread.h>
#include <string.h>
#include <sql.h>
#include <sqlext.h>
#include <backplane/plugin.h>

typedef struct osrc osrc;
typedef struct osnk osnk;
typedef struct olkp olkp;
typedef struct oapplied oapplied;

/* Which SQL dialect the server speaks (from SQL_DBMS_NAME): upserts and error
 * classes differ. */
enum odbc_dialect { OD_OTHER, OD_SQLITE, OD_POSTGRES };

enum odbc_mode {
    OM_BULK, OM_INCREMENTING, OM_TIMESTAMP, OM_TS_INC,      /* source */
    OM_INSERT, OM_UPDATE, OM_UPSERT, OM_DELETE               /* sink */
};

enum odbc_bind { OB_AUTO, OB_ARRAY, OB_MULTIROW, OB_SINGLE };

/* One connection. */
typedef struct odbc_db {
    SQLHENV env;
    SQLHDBC dbc;
    int connected;
    enum odbc_dialect dialect;
    /* ---- issue 17 (robust) ---- */
    SQLULEN query_timeout_s;   /* SQL_ATTR_QUERY_TIMEOUT of every statement (0: none) */
} odbc_db;

/* What went wrong, classified by SQLSTATE per driver. */
enum odbc_class {
    OC_OK,
    OC_CONSTRAINT,     /* this record is refused: reject it */
    OC_RETRY,          /* serialization failure, deadlock, busy: try again */
    OC_CONNECTION,     /* the server went away: reconnect, then retry */
    OC_PERMANENT       /* anything else the server refused (syntax, unknown table) */
};

typedef struct odbc_err {
    char state[6];
    long native;
    char msg[512];
    enum odbc_class cls;
} odbc_err;

typedef struct odbc_conn {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *dsn;                 /* connection string (may hold a password: never logged) */
    char *name;                /* connector name, for source = odbc://NAME/TABLE */
    char *table;
    char *query;               /* source: a SELECT instead of table */
    enum odbc_mode mode;
    int mode_set;
    char *column;              /* incrementing column */
    char *ts_column;           /* timestamp column */
    char **keys;               /* key column(s) */
    size_t n_keys;
    cJSON *columns;            /* sink: column -> envelope path */
    char *type;                /* source: CloudEvents type */
    long long batch_rows;      /* fetch / parameter array size */
    long long max_rows;        /* rows per source query (LIMIT) */
    long long interval_ms;     /* source: wait when caught up */
    int decimal_number;        /* DECIMAL/NUMERIC as JSON numbers */
    int once;                  /* source: end when caught up */
    enum odbc_bind bind;       /* sink: how a batch is sent */
    char *applied_table;       /* sink: exactly-once marker table, or NULL */
    cJSON *queries;            /* lookup: name -> SQL or {sql, params} */
    long long lookup_ttl_ms;
    long long lookup_cache;
    osrc *src;
    osnk *snk;
    olkp *lkp;
    /* ---- issue 17 (robust) ---- */
    long long query_timeout_ms;  /* option query_timeout (0: none) */
} odbc_conn;

/* ---- odbc_db.c ---- */

/* Connects (idempotent while connected). BP_NOT_CONNECTED with err filled
 * when the server cannot be reached or refuses the login. */
bp_status odbc_connect(odbc_conn *self, odbc_db *db, odbc_err *err);
void odbc_disconnect(odbc_db *db);
/* Fills err from the diagnostics of handle and classifies them for the
 * connection's dialect. */
void odbc_diag(odbc_db *db, SQLSMALLINT type, SQLHANDLE h, odbc_err *err);
/* Classification only (table-driven, see odbc_db.c), exposed for tests. */
enum odbc_class odbc_classify(enum odbc_dialect d, const char *state, long native);
/* A status for a whole batch or a lookup from a class. */
bp_status odbc_class_status(enum odbc_class c);
/* A new statement handle on db's connection with the query timeout set
 * (SQL_ATTR_QUERY_TIMEOUT, option query_timeout): a statement that waits
 * longer (a row lock another session holds) fails with HYT00 or, on
 * PostgreSQL, 57014, both classed as retry. Free it with SQLFreeHandle. */
SQLRETURN odbc_stmt_new(odbc_db *db, SQLHSTMT *st);
/* Runs a statement without results (BEGIN, SAVEPOINT ...). */
int odbc_exec(odbc_db *db, const char *sql, odbc_err *err);
/* Autocommit on/off; commit or roll back the current transaction. */
int odbc_autocommit(odbc_db *db, int on, odbc_err *err);
int odbc_end(odbc_db *db, int commit, odbc_err *err);
/* "name" quoted as an SQL identifier into a new string. */
char *odbc_quote_ident(const char *name);

/* ---- odbc_types.c ---- */

/* A growable text buffer. */
typedef struct odbc_buf {
    char *p;
    size_t n, cap;
} odbc_buf;
/* Appends n bytes (kept NUL-terminated); -1 when out of memory. Inline: a
 * source row is a few dozen small appends, and the buffer is nearly always
 * big enough already. */
int odbc_put_grow(odbc_buf *b, const char *s, size_t n);
static inline int odbc_put(odbc_buf *b, const char *s, size_t n)
{
    if (b->n + n >= b->cap)
        return odbc_put_grow(b, s, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}
int odbc_puts(odbc_buf *b, const char *s);
/* Appends the decimal text of x (as %lld, without snprintf's cost per row). */
int odbc_put_int(odbc_buf *b, long long x);

/* How a column's values become JSON. */
enum odbc_jkind { OJ_INT, OJ_FLOAT, OJ_DECIMAL, OJ_BOOL, OJ_DATE, OJ_TIME, OJ_TIMESTAMP,
                  OJ_BINARY, OJ_TEXT };
enum odbc_jkind odbc_jkind_of(SQLSMALLINT sqltype);
/* The same for result column col of st, also by its type name: a column
 * named bool/boolean is OJ_BOOL whatever SQL type the driver reports
 * (psqlODBC with BoolsAsChar=1 says SQL_VARCHAR). */
enum odbc_jkind odbc_jkind_of_col(SQLHSTMT st, SQLUSMALLINT col, SQLSMALLINT sqltype);
/* Appends the JSON text of one value (text as the driver returned it as
 * SQL_C_CHAR, or bytes for OJ_BINARY). */
int odbc_json_value(odbc_buf *b, enum odbc_jkind k, const char *v, size_t len, int decimal_number);
/* Appends s as a JSON string (escaped). */
int odbc_json_string(odbc_buf *b, const char *s, size_t len);
/* Timestamp text as RFC 3339 ("2024-01-02 03:04:05.5" -> "2024-01-02T03:04:05.5Z"). */
int odbc_rfc3339(odbc_buf *b, const char *v, size_t len);

/* A JSON value as parameter text for a column of sqltype: *out points into
 * scratch or the value; *len is SQL_NULL_DATA for null. Binary columns take
 * base64 text and get the decoded bytes. Returns 0, or -1 with *why set. */
int odbc_param_text(const cJSON *v, SQLSMALLINT sqltype, odbc_buf *scratch, SQLLEN *len,
                    const char **why);

/* ---- source, sink, lookup ---- */

bp_status odbc_source_poll(odbc_conn *self, bp_poll_batch *batch, int timeout_ms);
bp_status odbc_source_ack(odbc_conn *self, const uint64_t *tokens, size_t n);
void odbc_source_free(odbc_conn *self);

/* odbc_applied.c: the applied_table (exactly-once inserts across crashes).
 * open: creates the table if needed, reads this sink's row, compares it with
 * the core's checkpoint. skip: 1 when env belongs to a batch the database has
 * and the ledger missed (report it done, do not write it). mark: records the
 * batch's keys (rows not excluded) inside the open transaction. committed:
 * after the commit, hands the batch number to the core's ledger commit. */
bp_status odbc_applied_open(odbc_conn *self, odbc_db *db, oapplied **out, char **why);
int odbc_applied_skip(odbc_conn *self, oapplied *a, const bp_envelope *env);
int odbc_applied_mark(odbc_conn *self, oapplied *a, odbc_db *db, bp_write_batch *wb,
                      const unsigned char *excluded, size_t n, odbc_err *e);
void odbc_applied_committed(odbc_conn *self, oapplied *a, bp_write_batch *wb);
void odbc_applied_free(oapplied *a);

bp_status odbc_sink_write(odbc_conn *self, bp_write_batch *wb);
void odbc_sink_free(odbc_conn *self);

/* The lookup state (mutex, connection, cache), made in init. NULL: no memory. */
olkp *odbc_lookup_new(void);
bp_status odbc_lookup_run(odbc_conn *self, const char *query, const cJSON *params,
                          cJSON **result, char **errmsg);
void odbc_lookup_free(odbc_conn *self);

#endif
