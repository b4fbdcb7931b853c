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
    /* Only a separator between two digits counts: the dot of "Rs. 1939" or
     * "Fr. 12" is an abbreviation's, the comma of "12,-" ends the number. */
    const char *last_dot = NULL, *last_comma = NULL;
    int n_dot = 0, n_comma = 0;
    for (const char *p = s; *p; p++) {
        int between = p > s && isdigit((unsigned char)p[-1]) && isdigit((unsigned char)p[1]);
        if (*p == '.' && between) {
            n_dot++;
            last_dot = p;
        } else if (*p == ',' && between) {
            n_comma++;
            last_comma = p;
        }
    }
    /* Which separator is the decimal one: the later of the two when both
     * appear; a lone comma followed by one or two digits; a lone dot unless
     * it repeats ("1.234.567"). */
    const char *dec = NULL;
    if (last_dot && last_comma)
        dec = last_dot > last_comma ? last_dot : last_comma;
    else if (last_comma && n_comma == 1) {
        size_t after = strspn(last_comma + 1, "0123456789");
        if (after == 1 || after == 2)
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
                   (unsigned char)*p >= 128 || *p == '$' || *p == '+' || *p == ':') {
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

/* ---- issue 19: values an ERP can take ---------------------------------- */

/* Month names and abbreviations, lower case ASCII or UTF-8, in EN, DE, FR,
 * NL, ES, IT, PL (Polish in the nominative and the genitive a date uses);
 * matched as a whole word or as a prefix of at least 3 letters of a listed
 * full name ("Sept", "Dez."). */
static const char *const norm_months[12][16] = {
    {"january", "jan", "januar", "jänner", "janvier", "janv", "januari", "enero", "ene",
     "gennaio", "gen", "styczeń", "stycznia", "sty", NULL},
    {"february", "feb", "februar", "février", "fevrier", "févr", "fevr", "februari", "febrero",
     "febbraio", "luty", "lutego", "lut", NULL},
    {"march", "mar", "märz", "maerz", "mrz", "mars", "maart", "mrt", "marzo", "marzec", "marca",
     NULL},
    {"april", "apr", "avril", "avr", "abril", "abr", "aprile", "kwiecień", "kwietnia", "kwi",
     NULL},
    {"may", "mai", "mei", "mayo", "maggio", "mag", "maj", "maja", NULL},
    {"june", "jun", "juni", "juin", "junio", "giugno", "giu", "czerwiec", "czerwca", "cze", NULL},
    {"july", "jul", "juli", "juillet", "juil", "julio", "luglio", "lug", "lipiec", "lipca", "lip",
     NULL},
    {"august", "aug", "août", "aout", "augustus", "agosto", "ago", "sierpień", "sierpnia", "sie",
     NULL},
    {"september", "sep", "sept", "septembre", "septiembre", "set", "settembre", "wrzesień",
     "września", "wrz", NULL},
    {"october", "oct", "oktober", "okt", "octobre", "octubre", "ottobre", "ott", "październik",
     "października", "paź", "paz", NULL},
    {"november", "nov", "novembre", "noviembre", "listopad", "listopada", "lis", NULL},
    {"december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic",
     "dicembre", "grudzień", "grudnia", "gru", NULL},
};

/* Lower-cases ASCII and the Latin-1/Latin Extended-A capitals that month
 * names use (Ä Ö Ü É È Û Ś Ź Ż Ł Ń), in place. */
static void norm_lower_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;
    for (; *p; p++) {
        if (*p < 128) {
            *p = (unsigned char)tolower(*p);
        } else if (*p == 0xC3 && p[1] >= 0x80 && p[1] <= 0x9E && p[1] != 0x97) {
            p[1] += 0x20;
            p++;
        } else if (*p == 0xC5 && (p[1] == 0x9A || p[1] == 0xB9 || p[1] == 0xBB || p[1] == 0x83 ||
                                  p[1] == 0x81)) {
            p[1] += 1;   /* Ś->ś, Ź->ź, Ż->ż, Ń->ń; Ł (C5 81) -> ł (C5 82) */
            p++;
        }
    }
}

static int norm_word_char(unsigned char c)
{
    return isalpha(c) || c >= 128;
}

/* The month (1-12) a word names, or 0. */
static int norm_month_word(const char *w, size_t n)
{
    for (int m = 0; m < 12; m++)
        for (int k = 0; norm_months[m][k]; k++) {
            const char *name = norm_months[m][k];
            size_t ln = strlen(name);
            if (ln == n && memcmp(name, w, n) == 0)
                return m + 1;
        }
    /* A prefix of a full name, 3 letters or more ("sept", "dezem"). */
    if (n >= 3)
        for (int m = 0; m < 12; m++)
            for (int k = 0; norm_months[m][k]; k++) {
                const char *name = norm_months[m][k];
                if (strlen(name) > n && strlen(name) >= 5 && memcmp(name, w, n) == 0)
                    return m + 1;
            }
    return 0;
}

/* A date with the month as a word: "13 November 2023", "13. Nov. 2023",
 * "November 13, 2023", "Nov 13 2023", "13-Nov-2023", "2023 Nov 13",
 * "le 1er mars 2023". */
static int norm_date_words(const char *s, int32_t *days)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    norm_lower_utf8(buf);
    /* Tokens: numbers and words, in order. */
    struct {
        int num, month;
        size_t ndig;
    } tok[32];
    int nt = 0;
    for (const char *p = buf; *p && nt < 32;) {
        unsigned char c = (unsigned char)*p;
        if (isdigit(c)) {
            long v = 0;
            size_t k = 0;
            while (isdigit((unsigned char)p[k]) && k < 9)
                v = v * 10 + (p[k++] - '0');
            if (isdigit((unsigned char)p[k]))
                return 0;
            tok[nt].num = (int)v;
            tok[nt].month = 0;
            tok[nt].ndig = k;
            nt++;
            p += k;
            /* "1st", "2nd", "1er", "3rd", "4th": the suffix goes with the day. */
            if ((p[0] == 's' && p[1] == 't') || (p[0] == 'n' && p[1] == 'd') ||
                (p[0] == 'r' && p[1] == 'd') || (p[0] == 't' && p[1] == 'h') ||
                (p[0] == 'e' && p[1] == 'r'))
                if (!norm_word_char((unsigned char)p[2]))
                    p += 2;
        } else if (norm_word_char(c)) {
            size_t k = 0;
            while (norm_word_char((unsigned char)p[k]))
                k++;
            int m = norm_month_word(p, k);
            if (m) {
                tok[nt].num = 0;
                tok[nt].month = m;
                tok[nt].ndig = 0;
                nt++;
            }
            p += k;
        } else {
            p++;
        }
    }
    for (int i = 0; i < nt; i++) {
        if (!tok[i].month)
            continue;
        int m = tok[i].month, d = 0, y = 0;
        /* day month year */
        if (i >= 1 && i + 1 < nt && !tok[i - 1].month && tok[i - 1].ndig <= 2 && !tok[i + 1].month &&
            (tok[i + 1].ndig == 4 || tok[i + 1].ndig == 2))
            d = tok[i - 1].num, y = tok[i + 1].num;
        /* month day year */
        else if (i + 2 < nt && !tok[i + 1].month && tok[i + 1].ndig <= 2 && !tok[i + 2].month &&
                 tok[i + 2].ndig == 4)
            d = tok[i + 1].num, y = tok[i + 2].num;
        /* year month day */
        else if (i >= 1 && i + 1 < nt && tok[i - 1].ndig == 4 && !tok[i + 1].month &&
                 tok[i + 1].ndig <= 2)
            y = tok[i - 1].num, d = tok[i + 1].num;
        else
            continue;
        if (y < 100)
            y += 2000;
        if (norm_valid(y, m, d)) {
            *days = norm_days(y, m, d);
            return 1;
        }
    }
    return 0;
}

int norm_date_any(const char *s, int day_first, int32_t *days)
{
    /* Numbers first: the first run that reads as a date. */
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > s && isalnum((unsigned char)p[-1])))
            continue;
        char buf[32];
        size_t k = 0;
        while (k + 1 < sizeof buf && (isdigit((unsigned char)p[k]) || p[k] == '.' || p[k] == '/' ||
                                      p[k] == '-')) {
            buf[k] = p[k];
            k++;
        }
        while (k && (buf[k - 1] == '.' || buf[k - 1] == '-' || buf[k - 1] == '/'))
            k--;
        buf[k] = '\0';
        int a = 0, b = 0, c = 0;
        char s1 = 0, s2 = 0;
        int n = 0;
        if (sscanf(buf, "%d%c%d%c%d%n", &a, &s1, &b, &s2, &c, &n) == 5 && (size_t)n == k) {
            int df = day_first;
            const char *first_end = strchr(buf, s1);
            if (first_end - buf != 4) {
                /* The order is settled by a part above 12, else by the
                 * separator (a dotted date is day first everywhere), else by
                 * the caller's hint (the document's language); with no hint,
                 * day first (most of the world). */
                if (a > 12 && b <= 12)
                    df = 1;
                else if (b > 12 && a <= 12)
                    df = 0;
                else if (s1 == '.')
                    df = 1;
                else if (df < 0)
                    df = 1;
            }
            if (norm_date(buf, df < 0 ? 1 : df, days))
                return 1;
        }
        p += k ? k - 1 : 0;
    }
    return norm_date_words(s, days);
}

char *norm_date_iso(int32_t days, char *buf)
{
    /* civil_from_days (Howard Hinnant). */
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    snprintf(buf, 11, "%04d-%02u-%02u", (int)y % 10000, m % 100, d % 100);
    return buf;
}

/* ISO 4217 codes an invoice is likely to carry. */
static const char *const norm_codes[] = {
    "EUR", "USD", "GBP", "CHF", "INR", "PLN", "JPY", "CNY", "AUD", "CAD", "NZD", "SEK", "NOK",
    "DKK", "CZK", "HUF", "RON", "BGN", "TRY", "RUB", "UAH", "MYR", "SGD", "HKD", "THB", "IDR",
    "PHP", "VND", "KRW", "TWD", "ZAR", "BRL", "MXN", "ARS", "CLP", "COP", "AED", "SAR", "ILS",
    "EGP", "NGN", "KES", "PKR", "BDT", "LKR", NULL,
};

/* Symbols and local abbreviations, longest first within a prefix family. */
static const struct {
    const char *sym, *code;
    int word;   /* 1: must stand as a word (letters) */
} norm_syms[] = {
    {"US$", "USD", 0}, {"A$", "AUD", 0}, {"AU$", "AUD", 0}, {"C$", "CAD", 0}, {"CA$", "CAD", 0},
    {"NZ$", "NZD", 0}, {"S$", "SGD", 0}, {"HK$", "HKD", 0}, {"R$", "BRL", 0},
    {"\xE2\x82\xAC", "EUR", 0},   /* € */
    {"\xC2\xA3", "GBP", 0},       /* £ */
    {"\xE2\x82\xB9", "INR", 0},   /* ₹ */
    {"\xC2\xA5", "JPY", 0},       /* ¥ */
    {"z\xC5\x82", "PLN", 1},      /* zł */
    {"Z\xC5\x81", "PLN", 1},      /* ZŁ */
    {"Rs", "INR", 1}, {"RS", "INR", 1}, {"Rs.", "INR", 0}, {"RM", "MYR", 1},
    {"SFr", "CHF", 1}, {"K\xC4\x8D", "CZK", 1},
    {"$", "USD", 0},
};

static int norm_bounded(const char *s, const char *p, size_t n)
{
    return (p == s || !isalpha((unsigned char)p[-1])) && !isalpha((unsigned char)p[n]);
}

/* The first currency s names, by code or symbol, or NULL. */
static const char *norm_currency_in(const char *s)
{
    const char *best = NULL, *at = NULL;
    for (int i = 0; norm_codes[i]; i++)
        for (const char *p = strstr(s, norm_codes[i]); p; p = strstr(p + 1, norm_codes[i]))
            if (norm_bounded(s, p, 3)) {
                if (at == NULL || p < at)
                    at = p, best = norm_codes[i];
                break;
            }
    for (size_t i = 0; i < sizeof norm_syms / sizeof norm_syms[0]; i++) {
        size_t n = strlen(norm_syms[i].sym);
        for (const char *p = strstr(s, norm_syms[i].sym); p; p = strstr(p + 1, norm_syms[i].sym)) {
            if (norm_syms[i].word && !norm_bounded(s, p, n))
                continue;
            /* "US$" found as "$" later in the list: the longer one is already there. */
            if (at == NULL || p < at)
                at = p, best = norm_syms[i].code;
            break;
        }
    }
    return best;
}

/* The currency s names most often (a document's text: the code on every
 * amount line outweighs a "$" in a footnote), or NULL. */
static const char *norm_currency_most(const char *s)
{
    const char *best = NULL;
    int best_n = 0;
    for (int i = 0; norm_codes[i]; i++) {
        int n = 0;
        for (const char *p = strstr(s, norm_codes[i]); p; p = strstr(p + 1, norm_codes[i]))
            n += norm_bounded(s, p, 3);
        for (size_t k = 0; k < sizeof norm_syms / sizeof norm_syms[0]; k++) {
            if (strcmp(norm_syms[k].code, norm_codes[i]) != 0)
                continue;
            size_t ln = strlen(norm_syms[k].sym);
            for (const char *p = strstr(s, norm_syms[k].sym); p; p = strstr(p + 1, norm_syms[k].sym))
                n += !norm_syms[k].word || norm_bounded(s, p, ln);
        }
        if (n > best_n)
            best_n = n, best = norm_codes[i];
    }
    return best;
}

const char *norm_currency(const char *s, const char *context)
{
    const char *c = s ? norm_currency_in(s) : NULL;
    /* A bare "$" is the US dollar unless the document names another dollar. */
    if (c && strcmp(c, "USD") == 0 && s && !strstr(s, "USD") && !strstr(s, "US$") && context) {
        static const char *const dollars[] = {"AUD", "CAD", "NZD", "SGD", "HKD", NULL};
        for (int i = 0; dollars[i]; i++) {
            const char *p = strstr(context, dollars[i]);
            if (p && norm_bounded(context, p, 3))
                return dollars[i];
        }
    }
    if (c == NULL && context)
        c = norm_currency_most(context);
    return c;
}

int norm_amount_value(const char *s, double *out)
{
    int64_t v;
    if (!norm_amount_str(s, &v))
        return 0;
    /* Cents are exact in a double up to 2^53 / 100; the value printed with
     * %.15g (cJSON) reads back as the same decimal text. */
    *out = (double)v / NORM_AMOUNT_SCALE;
    return 1;
}
