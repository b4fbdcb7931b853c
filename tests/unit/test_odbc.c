/* The ODBC connector's pure parts, table-driven: SQLSTATE classification per
 * driver, SQL value -> JSON text, JSON value -> parameter text. Compiled with
 * the connector's own odbc_db.c and odbc_types.c (no server needed). */
#include <stdlib.h>
#include <string.h>

#include "../../connectors/odbc/odbc.h"
#include "tap.h"

static const char *cls_name(enum odbc_class c)
{
    switch (c) {
    case OC_OK: return "ok";
    case OC_CONSTRAINT: return "constraint";
    case OC_RETRY: return "retry";
    case OC_CONNECTION: return "connection";
    case OC_PERMANENT: return "permanent";
    }
    return "?";
}

static void test_classify(void)
{
    static const struct {
        enum odbc_dialect d;
        const char *state;
        long native;
        const char *want;
    } t[] = {
        {OD_SQLITE, "HY000", 19, "constraint"},      /* UNIQUE / NOT NULL / CHECK */
        {OD_SQLITE, "HY000", 20, "constraint"},      /* datatype mismatch */
        {OD_SQLITE, "HY000", 5, "retry"},            /* database is locked */
        {OD_SQLITE, "HY000", 6, "retry"},
        {OD_SQLITE, "HY000", 1, "permanent"},        /* no such table, syntax */
        {OD_SQLITE, "08001", 0, "connection"},
        {OD_POSTGRES, "23505", 7, "constraint"},     /* duplicate key */
        {OD_POSTGRES, "23502", 7, "constraint"},     /* NOT NULL */
        {OD_POSTGRES, "22P02", 7, "constraint"},     /* invalid text representation */
        {OD_POSTGRES, "40001", 7, "retry"},          /* serialization failure */
        {OD_POSTGRES, "40P01", 7, "retry"},          /* deadlock */
        {OD_POSTGRES, "08S01", 7, "connection"},     /* link failure */
        {OD_POSTGRES, "08001", 7, "connection"},     /* cannot connect / bad password */
        {OD_POSTGRES, "57P01", 7, "connection"},     /* admin shutdown */
        {OD_POSTGRES, "57014", 7, "retry"},          /* statement timeout (query_timeout) */
        {OD_OTHER, "HYT00", 0, "retry"},             /* timeout expired (query_timeout) */
        {OD_POSTGRES, "42P01", 7, "permanent"},      /* undefined table */
        {OD_POSTGRES, "HY000", 19, "permanent"},     /* SQLite's code means nothing here */
        /* The rule (connectors/common/fault.h): missing permissions and
         * refused logins are not connected, never a reject. */
        {OD_POSTGRES, "42501", 7, "connection"},     /* insufficient_privilege (no GRANT) */
        {OD_POSTGRES, "28P01", 7, "connection"},     /* invalid_password */
        {OD_OTHER, "28000", 0, "connection"},        /* invalid authorization specification */
        {OD_SQLITE, "HY000", 8, "connection"},       /* attempt to write a readonly database */
        {OD_SQLITE, "HY000", 3, "connection"},       /* SQLITE_PERM */
        {OD_SQLITE, "HY000", 23, "connection"},      /* SQLITE_AUTH */
        {OD_OTHER, "23000", 0, "constraint"},
        {OD_OTHER, "HYT00", 0, "retry"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "dialect %d %s/%ld", (int)t[i].d, t[i].state, t[i].native);
        int ok = strcmp(cls_name(odbc_classify(t[i].d, t[i].state, t[i].native)), t[i].want) == 0;
        tap_check(ok, what, __FILE__, __LINE__);
    }
    CHECK_INT(odbc_class_status(OC_CONSTRAINT), BP_REJECT);
    CHECK_INT(odbc_class_status(OC_RETRY), BP_RETRY);
    CHECK_INT(odbc_class_status(OC_CONNECTION), BP_NOT_CONNECTED);
}

static void test_json(void)
{
    static const struct {
        SQLSMALLINT type;
        const char *in;
        size_t len;   /* 0: strlen */
        int decnum;
        const char *want;
    } t[] = {
        {SQL_INTEGER, "42", 0, 0, "42"},
        {SQL_BIGINT, "-9223372036854775808", 0, 0, "-9223372036854775808"},
        {SQL_INTEGER, "abc", 0, 0, "\"abc\""},                 /* SQLite: text in an INTEGER column */
        {SQL_INTEGER, "007", 0, 0, "\"007\""},
        {SQL_DECIMAL, "0.10", 0, 0, "\"0.10\""},
        {SQL_NUMERIC, "12345678901234567890.12", 0, 0, "\"12345678901234567890.12\""},
        {SQL_NUMERIC, "0.10", 0, 1, "0.10"},
        {SQL_DOUBLE, "1.5", 0, 0, "1.5"},
        {SQL_DOUBLE, "1.0e+300", 0, 0, "1.0e+300"},
        {SQL_DOUBLE, ".5", 0, 0, "0.5"},
        {SQL_DOUBLE, "NaN", 0, 0, "\"NaN\""},
        {SQL_BIT, "1", 0, 0, "true"},
        {SQL_BIT, "f", 0, 0, "false"},
        {SQL_BIT, "true", 0, 0, "true"},
        {SQL_BIT, "FALSE", 0, 0, "false"},
        {SQL_BIT, "yes", 0, 0, "\"yes\""},                   /* SQLite: anything may be stored */
        {SQL_TYPE_TIMESTAMP, "2024-01-02 03:04:05", 0, 0, "\"2024-01-02T03:04:05Z\""},
        {SQL_TYPE_TIMESTAMP, "2024-01-02 03:04:05.25", 0, 0, "\"2024-01-02T03:04:05.25Z\""},
        {SQL_TYPE_TIMESTAMP, "2024-01-02 03:04:05+02", 0, 0, "\"2024-01-02T03:04:05+02:00\""},
        {SQL_TYPE_DATE, "2024-01-02", 0, 0, "\"2024-01-02\""},
        {SQL_VARCHAR, "J\xc3\xb6rg \"q\"\n\\", 0, 0, "\"J\xc3\xb6rg \\\"q\\\"\\n\\\\\""},
        {SQL_VARCHAR, "a\x01" "b", 3, 0, "\"a\\u0001b\""},
        {SQL_VARBINARY, "\x00\xff\x10", 3, 0, "\"AP8Q\""},
        {SQL_LONGVARBINARY, "ab", 2, 0, "\"YWI=\""},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        odbc_buf b = {0};
        size_t len = t[i].len ? t[i].len : strlen(t[i].in);
        odbc_json_value(&b, odbc_jkind_of(t[i].type), t[i].in, len, t[i].decnum);
        char what[64];   /* inputs hold newlines: they cannot name a TAP line */
        snprintf(what, sizeof(what), "SQL value -> JSON, case %zu (SQL type %d)", i + 1,
                 (int)t[i].type);
        tap_check_str(b.p, t[i].want, what, __FILE__, __LINE__);
        free(b.p);
    }
}

static void test_params(void)
{
    static const struct {
        const char *json;
        SQLSMALLINT type;
        const char *want;   /* NULL: SQL NULL */
    } t[] = {
        {"\"0.10\"", SQL_DECIMAL, "0.10"},
        {"0.1", SQL_DECIMAL, "0.1"},
        /* issue 19: totals as the extractor writes them (JSON numbers) reach
         * a NUMERIC column as their exact decimal text, not 1234.5599999. */
        {"1234.56", SQL_DECIMAL, "1234.56"},
        {"1234.56", SQL_VARCHAR, "1234.56"},
        {"80.65", SQL_NUMERIC, "80.65"},
        {"208.13", SQL_DOUBLE, "208.13"},
        {"119", SQL_DECIMAL, "119"},
        {"42", SQL_INTEGER, "42"},
        {"1e300", SQL_DOUBLE, "1e+300"},
        {"true", SQL_BIT, "1"},
        {"false", SQL_VARCHAR, "false"},
        {"null", SQL_VARCHAR, NULL},
        {"\"2024-05-01T12:30:00Z\"", SQL_TYPE_TIMESTAMP, "2024-05-01 12:30:00"},
        {"\"2024-05-01T12:30:00+02:00\"", SQL_TYPE_TIMESTAMP, "2024-05-01 12:30:00+02:00"},
        {"\"Robert'); DROP TABLE x;--\"", SQL_VARCHAR, "Robert'); DROP TABLE x;--"},
        {"{\"a\":[1,2]}", SQL_VARCHAR, "{\"a\":[1,2]}"},
        {"\"YWI=\"", SQL_VARBINARY, "ab"},
    };
    odbc_buf scratch = {0};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        cJSON *v = cJSON_Parse(t[i].json);
        SQLLEN len = 0;
        const char *why = NULL;
        int rc = odbc_param_text(v, t[i].type, &scratch, &len, &why);
        char got[256] = "";
        if (rc == 0 && len != SQL_NULL_DATA)
            snprintf(got, sizeof(got), "%.*s", (int)len, scratch.p);
        tap_check_str(rc == 0 && len == SQL_NULL_DATA ? NULL : got, t[i].want, t[i].json,
                      __FILE__, __LINE__);
        cJSON_Delete(v);
    }
    cJSON *bad = cJSON_CreateString("not base64!");
    SQLLEN len;
    const char *why = NULL;
    CHECK(odbc_param_text(bad, SQL_VARBINARY, &scratch, &len, &why) < 0);
    CHECK_STR(why, "binary column: the value is not base64");
    cJSON_Delete(bad);
    free(scratch.p);
}

static void test_quote(void)
{
    char *q = odbc_quote_ident("erp.ap_invoices");
    CHECK_STR(q, "\"erp\".\"ap_invoices\"");
    free(q);
    q = odbc_quote_ident("we\"ird");
    CHECK_STR(q, "\"we\"\"ird\"");
    free(q);
}

int main(void)
{
    test_classify();
    test_json();
    test_params();
    test_quote();
    return tap_done();
}
