/* Type mapping: SQL values to JSON text that loses nothing, and JSON values
 * back to parameter text (see the table in README.md, "ODBC connector"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/grow_buf.h"
#include "odbc.h"

int odbc_put_grow(odbc_buf *b, const char *s, size_t n)
{
    return grow_buf_append(&b->p, &b->n, &b->cap, s, n);
}

int odbc_puts(odbc_buf *b, const char *s)
{
    return odbc_put(b, s, strlen(s));
}

int odbc_put_int(odbc_buf *b, long long x)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    do
        tmp[--i] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (x < 0)
        tmp[--i] = '-';
    return odbc_put(b, tmp + i, sizeof(tmp) - i);
}

enum odbc_jkind odbc_jkind_of(SQLSMALLINT t)
{
    switch (t) {
    case SQL_TINYINT: case SQL_SMALLINT: case SQL_INTEGER: case SQL_BIGINT:
        return OJ_INT;
    case SQL_BIT:
        return OJ_BOOL;
    case SQL_REAL: case SQL_FLOAT: case SQL_DOUBLE:
        return OJ_FLOAT;
    case SQL_DECIMAL: case SQL_NUMERIC:
        return OJ_DECIMAL;
    case SQL_TYPE_DATE: case SQL_DATE:
        return OJ_DATE;
    case SQL_TYPE_TIME: case SQL_TIME:
        return OJ_TIME;
    case SQL_TYPE_TIMESTAMP: case SQL_TIMESTAMP:
        return OJ_TIMESTAMP;
    case SQL_BINARY: case SQL_VARBINARY: case SQL_LONGVARBINARY:
        return OJ_BINARY;
    default:
        return OJ_TEXT;
    }
}

enum odbc_jkind odbc_jkind_of_col(SQLHSTMT st, SQLUSMALLINT col, SQLSMALLINT sqltype)
{
    enum odbc_jkind k = odbc_jkind_of(sqltype);
    if (k != OJ_TEXT)
        return k;
    /* psqlODBC's default BoolsAsChar=1 describes a boolean column as
     * SQL_VARCHAR and sends "1"/"0": `data.blocked == true` never held. The
     * type name still says what the column is. (Setting BoolsAsChar=0 in the
     * connection string would be psqlODBC's alone; the name works for any
     * driver that reports one.) */
    SQLCHAR tname[64] = "";
    SQLSMALLINT n = 0;
    if (SQL_SUCCEEDED(SQLColAttribute(st, col, SQL_DESC_TYPE_NAME, tname, sizeof(tname), &n, NULL)) &&
        (strcasecmp((char *)tname, "bool") == 0 || strcasecmp((char *)tname, "boolean") == 0))
        return OJ_BOOL;
    return k;
}

/* Is v (len bytes) a JSON number? integer_only: no fraction or exponent. */
static int odbc_is_number(const char *v, size_t len, int integer_only)
{
    size_t i = 0;
    if (i < len && v[i] == '-')
        i++;
    if (i >= len || v[i] < '0' || v[i] > '9')
        return 0;
    if (v[i] == '0' && i + 1 < len && v[i + 1] >= '0' && v[i + 1] <= '9')
        return 0;
    while (i < len && v[i] >= '0' && v[i] <= '9')
        i++;
    if (integer_only)
        return i == len;
    if (i < len && v[i] == '.') {
        i++;
        size_t d = i;
        while (i < len && v[i] >= '0' && v[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    if (i < len && (v[i] == 'e' || v[i] == 'E')) {
        i++;
        if (i < len && (v[i] == '+' || v[i] == '-'))
            i++;
        size_t d = i;
        while (i < len && v[i] >= '0' && v[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    return i == len;
}

int odbc_json_string(odbc_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (odbc_put(b, "\"", 1) < 0)
        return -1;
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (odbc_put(b, s + run, i - run) < 0)
            return -1;
        char esc[7] = {'\\', (char)c, 0};
        size_t n = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (odbc_put(b, esc, n) < 0)
            return -1;
        run = i + 1;
    }
    if (odbc_put(b, s + run, len - run) < 0)
        return -1;
    return odbc_put(b, "\"", 1);
}

int odbc_rfc3339(odbc_buf *b, const char *v, size_t len)
{
    char tmp[64];
    /* Anything that is not "YYYY-MM-DD hh:mm:ss[.f][offset]" passes as is. */
    if (len < 19 || len >= sizeof(tmp) - 8 || v[4] != '-' || v[7] != '-' ||
        (v[10] != ' ' && v[10] != 'T') || v[13] != ':' || v[16] != ':')
        return odbc_json_string(b, v, len);
    memcpy(tmp, v, len);
    tmp[10] = 'T';
    size_t i = 19;
    if (i < len && tmp[i] == '.') {
        i++;
        while (i < len && tmp[i] >= '0' && tmp[i] <= '9')
            i++;
    }
    size_t n = len;
    if (i == len) {
        tmp[n++] = 'Z';                       /* no zone: the value is taken as UTC */
    } else if ((tmp[i] == '+' || tmp[i] == '-') && len - i == 3) {
        memcpy(tmp + n, ":00", 3);            /* "+02" -> "+02:00" */
        n += 3;
    }
    return odbc_json_string(b, tmp, n);
}

static int odbc_base64(odbc_buf *b, const unsigned char *s, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (odbc_put(b, "\"", 1) < 0)
        return -1;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < len ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < len ? s[i + 2] : 0);
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < len ? tab[v >> 6 & 63] : '=',
                     i + 2 < len ? tab[v & 63] : '='};
        if (odbc_put(b, q, 4) < 0)
            return -1;
    }
    return odbc_put(b, "\"", 1);
}

int odbc_json_value(odbc_buf *b, enum odbc_jkind k, const char *v, size_t len, int decimal_number)
{
    switch (k) {
    case OJ_INT:
        /* SQLite is dynamically typed: an INTEGER column can hold text. */
        if (odbc_is_number(v, len, 1))
            return odbc_put(b, v, len);
        return odbc_json_string(b, v, len);
    case OJ_FLOAT:
        if (odbc_is_number(v, len, 0))
            return odbc_put(b, v, len);
        {
            char tmp[64];
            if (len < sizeof(tmp)) {
                memcpy(tmp, v, len);
                tmp[len] = '\0';
                char *end;
                double d = strtod(tmp, &end);
                if (*end == '\0' && end != tmp && isfinite(d)) {
                    snprintf(tmp, sizeof(tmp), "%.17g", d);
                    return odbc_puts(b, tmp);
                }
            }
        }
        return odbc_json_string(b, v, len);   /* NaN, Infinity: kept as text */
    case OJ_DECIMAL:
        if (decimal_number && odbc_is_number(v, len, 0))
            return odbc_put(b, v, len);
        return odbc_json_string(b, v, len);
    case OJ_BOOL:
        if ((len == 1 && (v[0] == '1' || v[0] == 't')) || (len == 4 && strncasecmp(v, "true", 4) == 0))
            return odbc_puts(b, "true");
        if ((len == 1 && (v[0] == '0' || v[0] == 'f')) || (len == 5 && strncasecmp(v, "false", 5) == 0))
            return odbc_puts(b, "false");
        return odbc_json_string(b, v, len);
    case OJ_TIMESTAMP:
        return odbc_rfc3339(b, v, len);
    case OJ_BINARY:
        return odbc_base64(b, (const unsigned char *)v, len);
    case OJ_DATE:
    case OJ_TIME:
    case OJ_TEXT:
        break;
    }
    return odbc_json_string(b, v, len);
}

static int odbc_b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

static int odbc_unbase64(odbc_buf *out, const char *s)
{
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        int v = odbc_b64val((unsigned char)*s);
        if (v < 0)
            return -1;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)(acc >> bits & 0xff);
            if (odbc_put(out, &c, 1) < 0)
                return -1;
        }
    }
    return 0;
}

static int odbc_is_text_type(SQLSMALLINT t)
{
    return t == SQL_CHAR || t == SQL_VARCHAR || t == SQL_LONGVARCHAR || t == SQL_WCHAR ||
           t == SQL_WVARCHAR || t == SQL_WLONGVARCHAR;
}

int odbc_param_text(const cJSON *v, SQLSMALLINT sqltype, odbc_buf *scratch, SQLLEN *len,
                    const char **why)
{
    scratch->n = 0;
    if (odbc_put(scratch, "", 0) < 0)
        goto nomem;
    if (v == NULL || cJSON_IsNull(v)) {
        *len = SQL_NULL_DATA;
        return 0;
    }
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        enum odbc_jkind k = odbc_jkind_of(sqltype);
        if (k == OJ_BINARY) {
            if (odbc_unbase64(scratch, s) < 0) {
                *why = "binary column: the value is not base64";
                return -1;
            }
        } else if (k == OJ_TIMESTAMP && strlen(s) >= 19 && s[10] == 'T') {
            /* RFC 3339 back to the SQL form; "Z" means UTC, which is what a
             * timestamp without zone holds here. */
            size_t n = strlen(s);
            if (s[n - 1] == 'Z')
                n--;
            if (odbc_put(scratch, s, n) < 0)
                goto nomem;
            scratch->p[10] = ' ';
        } else if (odbc_puts(scratch, s) < 0) {
            goto nomem;
        }
        *len = (SQLLEN)scratch->n;
        return 0;
    }
    if (cJSON_IsBool(v)) {
        if (odbc_puts(scratch, odbc_is_text_type(sqltype) ? (cJSON_IsTrue(v) ? "true" : "false")
                                                          : (cJSON_IsTrue(v) ? "1" : "0")) < 0)
            goto nomem;
        *len = (SQLLEN)scratch->n;
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        char tmp[64];
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) {
            if (odbc_put_int(scratch, (long long)d) < 0)
                goto nomem;
        } else {
            /* The shortest text that reads back as the same double: 0.1
             * stays "0.1", not "0.10000000000000001". */
            for (int prec = 15; prec <= 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
                if (strtod(tmp, NULL) == d)
                    break;
            }
            if (odbc_puts(scratch, tmp) < 0)
                goto nomem;
        }
        *len = (SQLLEN)scratch->n;
        return 0;
    }
    /* Objects and arrays are stored as their JSON text. */
    char *text = cJSON_PrintUnformatted(v);
    if (text == NULL)
        goto nomem;
    int rc = odbc_puts(scratch, text);
    free(text);
    if (rc < 0)
        goto nomem;
    *len = (SQLLEN)scratch->n;
    return 0;
nomem:
    *why = "out of memory";
    return -1;
}
