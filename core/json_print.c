/* See json_print.h. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_print.h"

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
    int deep, bad;   /* nested deeper than BP_JSON_MAX_DEPTH; an invalid node */
} jp_buf;

static int jp_reserve(jp_buf *b, size_t more)
{
    if (b->oom)
        return 0;
    if (b->n + more + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

static void jp_put(jp_buf *b, const char *s, size_t n)
{
    if (!jp_reserve(b, n))
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* Unsigned decimal digits of v into out (no NUL); returns their count. */
static size_t jp_utoa(uint64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static void jp_number(jp_buf *b, double d)
{
    char out[40];
    size_t n = 0;
    if (!isfinite(d)) {
        jp_put(b, "null", 4);   /* JSON has no NaN/Infinity; cJSON prints null too */
        return;
    }
    double a = fabs(d);
    if (a < 9007199254740992.0) {   /* 2^53: every integer below is exact */
        static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
        for (int k = 0; k <= 6; k++) {
            double scaled = a * pow10[k];
            if (scaled >= 9007199254740992.0)
                break;
            double m = nearbyint(scaled);
            /* m / 10^k is the double nearest to the decimal m·10^-k; equal to a
             * exactly when that decimal is a's shortest form with k places. */
            if (m / pow10[k] != a)
                continue;
            uint64_t u = (uint64_t)m;
            char digits[24];
            size_t nd = jp_utoa(u, digits);
            if (d < 0 && u != 0)
                out[n++] = '-';
            if (k == 0) {
                memcpy(out + n, digits, nd);
                n += nd;
            } else {
                size_t ip = nd > (size_t)k ? nd - (size_t)k : 0;
                if (ip == 0)
                    out[n++] = '0';
                else {
                    memcpy(out + n, digits, ip);
                    n += ip;
                }
                out[n++] = '.';
                for (size_t z = nd; z < (size_t)k; z++)
                    out[n++] = '0';
                memcpy(out + n, digits + ip, nd - ip);
                n += nd - ip;
            }
            jp_put(b, out, n);
            return;
        }
    }
    /* Everything else: the shortest of %.15g / %.17g that reads back exactly. */
    int len = snprintf(out, sizeof(out), "%.15g", d);
    if (strtod(out, NULL) != d)
        len = snprintf(out, sizeof(out), "%.17g", d);
    jp_put(b, out, (size_t)len);
}

static void jp_string(jp_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!jp_reserve(b, 2))
        return;
    b->p[b->n++] = '"';
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    const unsigned char *run = p;
    for (;; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jp_put(b, (const char *)run, (size_t)(p - run));
        if (c == '\0')
            break;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t en = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            en = 6;
        }
        jp_put(b, esc, en);
        run = p + 1;
    }
    jp_put(b, "\"", 1);
}

/* depth: containers around it (0 for the root). */
static void jp_item(jp_buf *b, const cJSON *it, int depth)
{
    switch (it->type & 0xff) {
    case cJSON_NULL: jp_put(b, "null", 4); return;
    case cJSON_False: jp_put(b, "false", 5); return;
    case cJSON_True: jp_put(b, "true", 4); return;
    case cJSON_Number: jp_number(b, it->valuedouble); return;
    case cJSON_String: jp_string(b, it->valuestring); return;
    case cJSON_Raw:
        if (it->valuestring)
            jp_put(b, it->valuestring, strlen(it->valuestring));
        return;
    case cJSON_Array:
    case cJSON_Object: {
        if (depth >= BP_JSON_MAX_DEPTH) {
            b->deep = 1;   /* cJSON refuses deeper trees too (CJSON_NESTING_LIMIT) */
            return;
        }
        int obj = (it->type & 0xff) == cJSON_Object;
        jp_put(b, obj ? "{" : "[", 1);
        for (const cJSON *c = it->child; c; c = c->next) {
            if (obj) {
                jp_string(b, c->string);
                jp_put(b, ":", 1);
            }
            jp_item(b, c, depth + 1);
            if (c->next)
                jp_put(b, ",", 1);
        }
        jp_put(b, obj ? "}" : "]", 1);
        return;
    }
    default:
        b->bad = 1;   /* an invalid node: refuse rather than print garbage */
    }
}

bp_status bp_json_append(const cJSON *item, char **buf, size_t *len, size_t *cap)
{
    if (item == NULL)
        return BP_ERR_INVALID;
    jp_buf b = {.p = *buf, .n = *len, .cap = *cap};
    size_t start = b.n;
    jp_item(&b, item, 0);
    if (!b.oom && jp_reserve(&b, 0))
        b.p[b.n] = '\0';
    *buf = b.p;
    *cap = b.cap;
    if (b.oom || b.deep || b.bad) {
        *len = start;
        if (b.p && start < b.cap)
            b.p[start] = '\0';
        return b.oom ? BP_ERR_NOMEM : b.deep ? BP_ERR_DEPTH : BP_ERR_INVALID;
    }
    *len = b.n;
    return BP_OK;
}
