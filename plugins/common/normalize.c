/* See normalize.h. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"

/* Legal-form words dropped from the end of a vendor name, repeatedly, so
 * "Acme Trading Sdn. Bhd." and "ACME TRADING" compare equal. Single words
 * only: "sdn bhd" drops as "bhd" then "sdn". */
static const char *const norm_suffixes[] = {
    "sdn", "bhd", "berhad", "gmbh", "mbh", "ag", "kg", "ohg", "ug", "ev",
    "ltd", "limited", "inc", "incorporated", "corp", "corporation", "co", "company",
    "llc", "llp", "lp", "plc", "pte", "pty", "pvt", "sa", "sas", "sarl", "srl", "spa",
    "bv", "nv", "oy", "ab", "as", "aps", "kk", "tbk", "enterprise", NULL,
};

static int norm_is_suffix(const char *w, size_t n, const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strlen(list[i]) == n && memcmp(list[i], w, n) == 0)
            return 1;
    return 0;
}

char *norm_vendor(const char *name, const char *const *extra)
{
    size_t len = strlen(name);
    /* "&" becomes " and ": at most 5 bytes per input byte. */
    char *out = malloc(len * 5 + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    int space = 1;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        unsigned char c = *p;
        if (c == '(' && (p[1] == 'M' || p[1] == 'm') && p[2] == ')') {
            p += 2;   /* "(M)": Malaysia, part of the legal name there */
            continue;
        }
        if (c == '&') {
            if (!space)
                out[n++] = ' ';
            memcpy(out + n, "and ", 4);
            n += 4;
            space = 1;
        } else if (c >= 128 || isalnum(c)) {
            out[n++] = (char)(c < 128 ? tolower(c) : c);
            space = 0;
        } else if (c == '\'' || c == '.') {
            /* "O'Brien" is "obrien"; "S.A." is "sa" */
        } else if (!space) {
            out[n++] = ' ';
            space = 1;
        }
    }
    while (n && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    /* Drop trailing legal-form words (never the only word left). */
    for (;;) {
        char *last = strrchr(out, ' ');
        if (last == NULL)
            break;
        size_t wl = strlen(last + 1);
        if (!norm_is_suffix(last + 1, wl, norm_suffixes) && !norm_is_suffix(last + 1, wl, extra))
            break;
        *last = '\0';
    }
    if (strncmp(out, "the ", 4) == 0)
        memmove(out, out + 4, strlen(out + 4) + 1);
    if (norm_is_suffix(out, strlen(out), norm_suffixes))
        out[0] = '\0';
    return out;
}

char *norm_invoice_no(const char *no, const char *strip, int strip_zeros)
{
    char *out = malloc(strlen(no) + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)no;
    for (size_t i = 0; p[i]; i++) {
        /* Zeros lead a run of digits in the number as written: "2024/0007"
         * is 2024 and 7, whatever separators go. The run's last digit stays. */
        if (strip_zeros && p[i] == '0' && isdigit(p[i + 1]) && (i == 0 || !isdigit(p[i - 1]))) {
            while (p[i] == '0' && isdigit(p[i + 1]))
                i++;
        }
        if (p[i] < 128 && (isspace(p[i]) || (strip && strchr(strip, p[i]))))
            continue;
        out[n++] = (char)(p[i] < 128 ? toupper(p[i]) : p[i]);
    }
    out[n] = '\0';
    return out;
}

int norm_amount_str(const char *s, int64_t *out)
{
    size_t nd = 0;
    int neg = 0, seen = 0;
    const char *last_dot = strrchr(s, '.'), *last_comma = strrchr(s, ',');
    int n_dot = 0, n_comma = 0;
    for (const char *p = s; *p; p++) {
        n_dot += *p == '.';
        n_comma += *p == ',';
    }
    /* Which separator is the decimal one: the later of the two when both
     * appear; a lone comma followed by one or two digits; a lone dot unless
     * it repeats ("1.234.567"). */
    const char *dec = NULL;
    if (last_dot && last_comma)
        dec = last_dot > last_comma ? last_dot : last_comma;
    else if (last_comma && n_comma == 1) {
        size_t after = strspn(last_comma + 1, "0123456789");
        if ((after == 1 || after == 2) && last_comma[1 + after] == '\0')
            dec = last_comma;
    } else if (last_dot && n_dot == 1)
        dec = last_dot;
    int64_t whole = 0, frac = 0, frac_div = 1;
    int round_up = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '-' && !seen)
            neg = 1;
        else if (*p >= '0' && *p <= '9') {
            seen = 1;
            if (dec && p > dec) {
                if (frac_div < NORM_AMOUNT_SCALE) {
                    frac = frac * 10 + (*p - '0');
                    frac_div *= 10;
                } else if (frac_div == NORM_AMOUNT_SCALE) {
                    round_up = *p >= '5';
                    frac_div *= 10;   /* only the first dropped digit rounds */
                }
            } else {
                if (whole > (INT64_MAX / NORM_AMOUNT_SCALE) / 10)
                    return 0;
                whole = whole * 10 + (*p - '0');
                if (++nd > 18)
                    return 0;   /* no amount has that many digits */
            }
        } else if (*p == '.' || *p == ',' || *p == ' ' || *p == '\'' || isalpha((unsigned char)*p) ||
                   (unsigned char)*p >= 128 || *p == '$' || *p == '+') {
            /* separators, currency codes and symbols */
        } else {
            return 0;
        }
    }
    if (!seen)
        return 0;
    if (frac_div > NORM_AMOUNT_SCALE)
        frac_div = NORM_AMOUNT_SCALE;
    while (frac_div < NORM_AMOUNT_SCALE) {
        frac *= 10;
        frac_div *= 10;
    }
    int64_t v = whole * NORM_AMOUNT_SCALE + frac + round_up;
    *out = neg ? -v : v;
    return 1;
}

int norm_amount(const cJSON *v, int64_t *out)
{
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble * NORM_AMOUNT_SCALE;
        if (!isfinite(d) || fabs(d) > 9.0e15)
            return 0;
        *out = (int64_t)llround(d);
        return 1;
    }
    if (cJSON_IsString(v))
        return norm_amount_str(v->valuestring, out);
    return 0;
}

char *norm_amount_fmt(int64_t v, char *buf)
{
    int neg = v < 0;
    uint64_t a = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int n = snprintf(buf, 32, "%s%llu.%04llu", neg ? "-" : "",
                     (unsigned long long)(a / NORM_AMOUNT_SCALE),
                     (unsigned long long)(a % NORM_AMOUNT_SCALE));
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
    return buf;
}

int norm_amount_within(int64_t a, int64_t b, int64_t abs_tol, double pct)
{
    int64_t diff = a > b ? a - b : b - a;
    if (diff <= abs_tol)
        return 1;
    double big = fmax(fabs((double)a), fabs((double)b));
    return (double)diff <= big * pct / 100.0 + 1e-9;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil). */
static int32_t norm_days(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

static int norm_valid(int y, int m, int d)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    return 1;
}

int norm_date(const char *s, int day_first, int32_t *days)
{
    int a = 0, b = 0, c = 0, n = 0;
    char s1 = 0, s2 = 0;
    while (*s == ' ')
        s++;
    if (sscanf(s, "%d%c%d%c%d%n", &a, &s1, &b, &s2, &c, &n) != 5 || s1 != s2 ||
        !(s1 == '-' || s1 == '/' || s1 == '.'))
        return 0;
    /* Nothing but a time may follow ("2024-03-05T10:00:00Z", "05/03/2024 10:00"). */
    if (s[n] != '\0' && s[n] != 'T' && s[n] != ' ')
        return 0;
    int y, m, d;
    const char *first_end = strchr(s, s1);
    if (first_end - s == 4) {
        y = a, m = b, d = c;
    } else {
        y = c < 100 ? 2000 + c : c;
        m = day_first ? b : a;
        d = day_first ? a : b;
    }
    if (!norm_valid(y, m, d))
        return 0;
    *days = norm_days(y, m, d);
    return 1;
}

const char *norm_text(const cJSON *v, char *buf)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(buf, NORM_TEXT_CAP, "%.15g", v->valuedouble);
        return buf;
    }
    return NULL;
}

double norm_similarity(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64)
        la = 64;
    if (lb > 64)
        lb = 64;
    if (la == 0 && lb == 0)
        return 1.0;
    unsigned row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return 1.0 - (double)row[lb] / (double)(la > lb ? la : lb);
}
