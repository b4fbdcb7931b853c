/* extract_cand: candidate generation and features. See extract_cand.h. */
#include "extract_cand.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ex_field_names[EX_NFIELDS] = {
    "company", "date", "address", "total", "invoice_number", "po_number", "currency"};

int ex_field_index(const char *name)
{
    /* Invoices name the seller "vendor" (issue 19); receipts keep "company":
     * one field, two names. */
    if (strcmp(name, "vendor") == 0)
        return EX_COMPANY;
    for (int i = 0; i < EX_NFIELDS; i++)
        if (strcmp(name, ex_field_names[i]) == 0)
            return i;
    return -1;
}

void ex_cands_free(ex_cands *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->c[i].text);
    free(c->c);
    free(c->tok);
    memset(c, 0, sizeof(*c));
}

/* ---- hashed words ------------------------------------------------------- */

enum { EX_R_ABOVE = 1, EX_R_BELOW, EX_R_LABEL };

/* Appends bucket b to the last pushed candidate k. 0 ok, -1 out of memory. */
static int ex_tok_add(ex_cands *c, ex_cand *k, uint16_t b)
{
    if (c->ntok == c->tokcap) {
        size_t cap = c->tokcap ? c->tokcap * 2 : 256;
        uint16_t *p = realloc(c->tok, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        c->tok = p;
        c->tokcap = cap;
    }
    c->tok[c->ntok++] = b;
    k->ntok++;
    return 0;
}

#define EX_MAXWORDS 64 /* words of one text that count; more are left out */

/* The distinct buckets of the words of text (role-salted) into out (up to
 * EX_MAXWORDS); returns their number. */
static size_t ex_buckets(const char *text, size_t len, int role, uint16_t *out)
{
    size_t n = 0, i = 0;
    while (i < len && n < EX_MAXWORDS) {
        while (i < len && !isalnum((unsigned char)text[i]))
            i++;
        if (i >= len)
            break;
        uint64_t h = 1469598103934665603ull ^ (uint64_t)role;
        size_t w = 0;
        for (; i < len && isalnum((unsigned char)text[i]); i++, w++) {
            unsigned char ch = (unsigned char)toupper((unsigned char)text[i]);
            if (isdigit(ch))
                ch = '0';
            if (w < 12) /* long numbers share a shape */
                h = (h ^ ch) * 1099511628211ull;
        }
        uint16_t b = (uint16_t)((h >> 17) % EX_NHASH);
        int seen = 0;
        for (size_t q = 0; q < n && !seen; q++)
            seen = out[q] == b;
        if (!seen)
            out[n++] = b;
    }
    return n;
}

/* Appends buckets b[0..n) not yet among them to the last pushed candidate k,
 * which must be c->c[c->n - 1] (its words are contiguous). 0 ok, -1 out of
 * memory. */
static int ex_add_buckets(ex_cands *c, ex_cand *k, const uint16_t *b, size_t n)
{
    if (k->ntok == 0)
        k->tok_off = (uint32_t)c->ntok;
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (uint32_t q = 0; q < k->ntok && !seen; q++)
            seen = c->tok[k->tok_off + q] == b[i];
        if (!seen && ex_tok_add(c, k, b[i]) != 0)
            return -1;
    }
    return 0;
}

static int ex_words(ex_cands *c, ex_cand *k, const char *text, size_t len, int role)
{
    uint16_t b[EX_MAXWORDS];
    return ex_add_buckets(c, k, b, ex_buckets(text, len, role, b));
}

static int ex_words_line(ex_cands *c, ex_cand *k, const ex_doc *d, long li, int role)
{
    if (li < 0 || (size_t)li >= d->n)
        return 0;
    return ex_words(c, k, d->lines[li].text, strlen(d->lines[li].text), role);
}

/* The label of a value at byte off of line li: the words before it on its
 * line and the nearest line to its left. */
static int ex_words_label(ex_cands *c, ex_cand *k, const ex_doc *d, int li, size_t off)
{
    if (ex_words(c, k, d->lines[li].text, off, EX_R_LABEL) != 0)
        return -1;
    return ex_words_line(c, k, d, d->lines[li].left_near, EX_R_LABEL);
}

/* A copy of candidate src's words for the last pushed candidate k. */
static int ex_words_copy(ex_cands *c, ex_cand *k, size_t src)
{
    uint32_t off = c->c[src].tok_off, n = c->c[src].ntok;
    k->tok_off = (uint32_t)c->ntok;
    k->ntok = 0;
    for (uint32_t q = 0; q < n; q++)
        if (ex_tok_add(c, k, c->tok[off + q]) != 0)
            return -1;
    return 0;
}

/* ex_push returns NULL only when out of memory (an all-blank text gives an
 * empty candidate, which never matches a label). */

/* Feature layout: 0..27 common, 28..95 per field. */
enum {
    F_BIAS = 0,
    F_Y0 = 1, /* 1..6: vertical position bins */
    F_RANK0 = 7, F_RANK1, F_RANK2, F_RANK5,
    F_XC = 11, F_WIDTH, F_UPPER, F_DIGITS,
    F_LEN5 = 15, F_LEN15, F_LEN40, F_LENMORE,
    F_BOTTOM5 = 19,
    F_REPEAT2 = 20, F_REPEAT3,
    F_FIRST = 22, F_LAST,
    F_WHOLE = 24,       /* the candidate is the whole line */
    F_TALL = 25,        /* line taller than the median */
    F_CENTRED = 26,
    F_NOBOX = 27,
    F_OWN = 28          /* field block starts here */
};

static ex_cand *ex_push(ex_cands *c, const char *text, size_t len, int line)
{
    while (len && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        ex_cand *p = realloc(c->c, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        c->c = p;
        c->cap = cap;
    }
    ex_cand *k = &c->c[c->n];
    memset(k, 0, sizeof(*k));
    k->text = malloc(len + 1);
    if (k->text == NULL)
        return NULL;
    memcpy(k->text, text, len);
    k->text[len] = '\0';
    k->line = line;
    c->n++;
    return k;
}

/* Common block; F_REPEAT/F_FIRST/F_LAST are set after all candidates exist. */
static void ex_common(const ex_doc *d, float medh, ex_cand *k)
{
    const ex_line *l = &d->lines[k->line];
    float *f = k->f;
    float yc = (l->y0 + l->y1) / 2;
    f[F_BIAS] = 1;
    f[F_Y0 + (yc < .1f ? 0 : yc < .2f ? 1 : yc < .35f ? 2 : yc < .5f ? 3 : yc < .75f ? 4 : 5)] = 1;
    f[F_RANK0] = k->line == 0;
    f[F_RANK1] = k->line == 1;
    f[F_RANK2] = k->line == 2;
    f[F_RANK5] = k->line < 6;
    f[F_XC] = (l->x0 + l->x1) / 2;
    f[F_WIDTH] = l->x1 - l->x0;
    size_t up = 0, letters = 0, digits = 0, len = strlen(k->text);
    for (const char *p = k->text; *p; p++) {
        if (isalpha((unsigned char)*p)) {
            letters++;
            up += isupper((unsigned char)*p) != 0;
        }
        digits += isdigit((unsigned char)*p) != 0;
    }
    f[F_UPPER] = letters ? (float)up / (float)letters : 0;
    f[F_DIGITS] = len ? (float)digits / (float)len : 0;
    f[len < 5 ? F_LEN5 : len < 15 ? F_LEN15 : len < 40 ? F_LEN40 : F_LENMORE] = 1;
    f[F_BOTTOM5] = d->n - 1 - (size_t)k->line < 5;
    f[F_WHOLE] = strcmp(k->text, l->text) == 0;
    f[F_TALL] = d->has_boxes && medh > 0 && (l->y1 - l->y0) > 1.2f * medh;
    f[F_CENTRED] = d->has_boxes && fabsf(f[F_XC] - 0.5f) < 0.1f;
    f[F_NOBOX] = !d->has_boxes;
}

typedef struct {
    uint64_t h;
    size_t i;
} ex_hidx;

static int ex_cmp_hidx(const void *a, const void *b)
{
    const ex_hidx *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h ? 1 : (x->i > y->i) - (x->i < y->i);
}

static uint64_t ex_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* How often each candidate's text occurs among the field's candidates:
 * sorted by hash, so address spans (hundreds) cost n log n, not n^2. */
static void ex_finish_common(ex_cands *c)
{
    ex_hidx stack[512], *hi = c->n <= 512 ? stack : malloc(c->n * sizeof(ex_hidx));
    for (size_t i = 0; i < c->n; i++) {
        c->c[i].f[F_FIRST] = i == 0;
        c->c[i].f[F_LAST] = i + 1 == c->n;
    }
    if (hi == NULL)
        return; /* out of memory: the repeat features stay 0 */
    for (size_t i = 0; i < c->n; i++)
        hi[i] = (ex_hidx){ex_hash(c->c[i].text), i};
    qsort(hi, c->n, sizeof(ex_hidx), ex_cmp_hidx);
    for (size_t a = 0; a < c->n;) {
        size_t b = a;
        while (b < c->n && hi[b].h == hi[a].h)
            b++;
        for (size_t k = a; k < b; k++) {
            c->c[hi[k].i].f[F_REPEAT2] = b - a >= 2;
            c->c[hi[k].i].f[F_REPEAT3] = b - a >= 3;
        }
        a = b;
    }
    if (hi != stack)
        free(hi);
}

/* Flags of a line's own text, the row to its left, and the line above. */
static uint32_t ex_near(const ex_doc *d, int i)
{
    return d->lines[i].flags | d->lines[i].row_left;
}

static uint32_t ex_above(const ex_doc *d, int i)
{
    return i > 0 ? d->lines[i - 1].flags : 0;
}

/* ---- dates -------------------------------------------------------------- */

/* Month names by their first letters in EN DE FR NL ES IT PL (upper case as
 * ex_doc keeps it: ASCII letters upper-cased, other UTF-8 bytes as they are).
 * Longer prefixes first where one language's name starts another's
 * (JUIN, JUIL before JU..). */
static const struct {
    const char *p;
    int m;
} ex_months[] = {
    {"JUIN", 6}, {"JUIL", 7}, {"JAN", 1}, {"FEB", 2}, {"MAR", 3}, {"APR", 4}, {"MAY", 5},
    {"JUN", 6}, {"JUL", 7}, {"AUG", 8}, {"SEP", 9}, {"OCT", 10}, {"NOV", 11}, {"DEC", 12},
    {"STY", 1}, {"GEN", 1}, {"ENE", 1}, {"F\xc3\xa9V", 2}, {"F\xc3\x89V", 2}, {"FEV", 2},
    {"LUT", 2}, {"M\xc3\xa4R", 3}, {"M\xc3\x84R", 3}, {"MRZ", 3}, {"MAA", 3}, {"AVR", 4},
    {"ABR", 4}, {"KWI", 4}, {"MAI", 5}, {"MEI", 5}, {"MAG", 5}, {"MAJ", 5}, {"GIU", 6},
    {"CZE", 6}, {"LUG", 7}, {"LIP", 7}, {"AO\xc3\xbb", 8}, {"AOU", 8}, {"AGO", 8},
    {"SIE", 8}, {"SET", 9}, {"WRZ", 9}, {"OKT", 10}, {"OTT", 10}, {"PA\xc5\xba", 10},
    {"PAZ", 10}, {"LIS", 11}, {"DEZ", 12}, {"DIC", 12}, {"D\xc3\xa9" "C", 12}, {"D\xc3\x89" "C", 12},
    {"GRU", 12}};

/* The month whose name starts at up, or 0; *len gets the length of the word
 * (letters and non-ASCII bytes, and a closing '.'). */
static int ex_month_len(const char *up, int *len)
{
    for (size_t m = 0; m < sizeof ex_months / sizeof ex_months[0]; m++) {
        size_t pl = strlen(ex_months[m].p);
        if (strncmp(up, ex_months[m].p, pl) == 0) {
            int k = (int)pl;
            while (isalpha((unsigned char)up[k]) || (unsigned char)up[k] >= 0x80)
                k++;
            if (up[k] == '.')
                k++;
            *len = k;
            return ex_months[m].m;
        }
    }
    return 0;
}

static int ex_digits(const char *p, int *val)
{
    int k = 0, v = 0;
    while (isdigit((unsigned char)p[k]) && k < 8) /* 8: yyyymmdd written solid */
        v = v * 10 + (p[k++] - '0');
    *val = v;
    return k;
}

/* Recognises a date starting at up+i; returns its length and a shape code,
 * 0 when none. Shapes: 1 dd/mm/yyyy 2 dd/mm/yy 3 dd-mm-yyyy 4 dd-mm-yy
 * 5 dd.mm.yy(yy) 6 yyyy-mm-dd 7 dd MON yyyy 8 yyyymmdd/ddmmyyyy 9 MON dd, yyyy */
static int ex_date_at(const char *up, size_t i, int *shape, int *valid)
{
    const char *p = up + i;
    int a, b, c;
    *valid = 0;
    if (i > 0 && isalnum((unsigned char)up[i - 1]))
        return 0;
    if (isalpha((unsigned char)*p)) {
        int k = 0;
        int m = ex_month_len(p, &k);
        if (!m)
            return 0;
        if (p[k] != ' ')
            return 0;
        k++;
        int n1 = ex_digits(p + k, &a);
        if (n1 < 1 || n1 > 2)
            return 0;
        k += n1;
        if (p[k] == ',')
            k++;
        if (p[k] == ' ')
            k++;
        int n2 = ex_digits(p + k, &c);
        if (n2 != 4)
            return 0;
        *shape = 9;
        *valid = a >= 1 && a <= 31;
        return k + n2;
    }
    int n1 = ex_digits(p, &a);
    if (n1 == 0)
        return 0;
    if (n1 == 8 && !isalnum((unsigned char)p[8])) {
        int y = a / 10000, md = a % 10000;
        *shape = 8;
        int dd = a / 1000000, mm = a / 10000 % 100;
        *valid = (y >= 1990 && y <= 2040 && md / 100 >= 1 && md / 100 <= 12 && md % 100 >= 1 &&
                  md % 100 <= 31) ||
                 (a % 10000 >= 1990 && a % 10000 <= 2040 && dd >= 1 && dd <= 31 && mm >= 1 &&
                  mm <= 12);
        return *valid ? 8 : 0;
    }
    char s1 = p[n1];
    if ((s1 == '/' || s1 == '-' || s1 == '.') && p[n1 + 1] != ' ') {
        int n2 = ex_digits(p + n1 + 1, &b);
        int k = n1 + 1;
        int mon = 0;
        if (n2 == 0) {
            mon = ex_month_len(p + k, &n2);
            if (!mon)
                return 0;
            b = mon;
        }
        k += n2;
        if (p[k] != s1 && !(mon && (p[k] == '-' || p[k] == '/' || p[k] == ' ')))
            return 0;
        k++;
        int n3 = ex_digits(p + k, &c);
        if (n3 != 2 && n3 != 4)
            return 0;
        /* OCR glues the next word to a four-digit year ("21/05/2018TIME"). */
        if (isdigit((unsigned char)p[k + n3]) || (isalpha((unsigned char)p[k + n3]) && n3 != 4) ||
            (p[k + n3] == '.' && isdigit((unsigned char)p[k + n3 + 1])))
            return 0;
        if (n1 == 4) {
            *shape = 6;
            *valid = b >= 1 && b <= 12 && c >= 1 && c <= 31;
        } else if (n1 <= 2) {
            *shape = mon ? 7 : s1 == '/' ? (n3 == 4 ? 1 : 2) : s1 == '-' ? (n3 == 4 ? 3 : 4) : 5;
            *valid = a >= 1 && a <= 31 && b >= 1 && b <= 12;
        } else {
            return 0;
        }
        return k + n3;
    }
    if (n1 <= 2 && (s1 == ' ' || isalpha((unsigned char)s1) || (s1 == '.' && p[n1 + 1] == ' '))) {
        /* "4 July 2023", "4. Juli 2023", "4 de julio de 2023" */
        int k = n1 + (s1 == ' ') + (s1 == '.') * 2;
        if (strncmp(p + k, "DE ", 3) == 0)
            k += 3;
        int ml = 0;
        int m = ex_month_len(p + k, &ml);
        if (!m)
            return 0;
        k += ml;
        if (strncmp(p + k, " DE ", 4) == 0)
            k += 3;
        if (p[k] == ' ' || p[k] == '-' || p[k] == ',')
            k++;
        if (p[k] == ' ')
            k++;
        int n3 = ex_digits(p + k, &c);
        if (n3 != 2 && n3 != 4)
            return 0;
        if (isalnum((unsigned char)p[k + n3]))
            return 0;
        *shape = 7;
        *valid = a >= 1 && a <= 31;
        return k + n3;
    }
    return 0;
}

/* Date labels, and labels of the other dates an invoice carries (due,
 * delivery, order, service period, sale), EN DE FR NL ES IT PL, upper case. */
static const char *const ex_date_stems[] = {
    "DATE", "DATUM", "FECHA", "DATA", "ISSUED", "EMIS", "WYSTAWIENIA", "LE ", NULL};
static const char *const ex_odate_stems[] = {
    "DUE", "F\xc3\xa4LLIG", "ZAHLBAR", "LIEFER", "LEISTUNG", "ORDER", "BESTELL", "PERIOD",
    "ZEITRAUM", "\xc3\xa9" "CH\xc3\xa9" "ANCE", "ECHEANCE", "LIVRAISON", "COMMANDE", "P\xc3\xa9RIODE",
    "VERVAL", "LEVER", "VENCIMIENTO", "ENTREGA", "PEDIDO", "PERIODO", "SCADENZA", "CONSEGNA",
    "ORDINE", "TERMIN", "DOSTAWY", "SPRZEDA", "SALE", "PAID", "EXPIR", "VALID", "UNTIL", "BIS", NULL};

static int ex_stem_in(const char *up, size_t len, const char *const *stems)
{
    for (const char *const *st = stems; *st; st++) {
        const char *q = strstr(up, *st);
        if (q && (size_t)(q - up) < len)
            return 1;
    }
    return 0;
}

static int ex_cand_dates(const ex_doc *d, float medh, ex_cands *out)
{
    for (size_t li = 0; li < d->n; li++) {
        const ex_line *l = &d->lines[li];
        for (size_t i = 0; l->up[i]; i++) {
            int shape, valid;
            int len = ex_date_at(l->up, i, &shape, &valid);
            if (len == 0)
                continue;
            ex_cand *k = ex_push(out, l->text + i, (size_t)len, (int)li);
            if (k == NULL || ex_words_label(out, k, d, (int)li, i) != 0 ||
                ex_words_line(out, k, d, (long)li - 1, EX_R_ABOVE) != 0)
                return -1;
            ex_common(d, medh, k);
            float *f = k->f + F_OWN;
            f[shape - 1] = 1; /* 0..8 */
            f[9] = valid;
            f[10] = (l->flags & EX_L_TIME) != 0;
            uint32_t near = ex_near(d, (int)li);
            f[11] = (near & EX_L_DATEKW) != 0;
            f[12] = (ex_above(d, (int)li) & EX_L_DATEKW) != 0;
            f[13] = (near & EX_L_DUEKW) != 0;
            f[14] = (l->flags & EX_L_INVKW) != 0;
            f[15] = (l->flags & (EX_L_TOTAL | EX_L_CASH)) != 0;
            /* A date written after a label "DATE:" on the same line. */
            const char *dk = ex_find_word(l->up, "DATE");
            f[16] = dk != NULL && (size_t)(dk - l->up) < i;
            /* a range "01.06.2023 - 30.06.2023" (a service period), its
             * first or second half */
            size_t e = i + (size_t)len;
            while (l->up[e] == ' ')
                e++;
            size_t b = i;
            while (b > 0 && l->up[b - 1] == ' ')
                b--;
            int dash_after = l->up[e] == '-' || strncmp(l->up + e, "\xe2\x80\x93", 3) == 0 ||
                             strncmp(l->up + e, "TO ", 3) == 0 || strncmp(l->up + e, "BIS", 3) == 0;
            int dash_before = (b > 0 && l->up[b - 1] == '-') ||
                              (b >= 3 && strncmp(l->up + b - 3, "\xe2\x80\x93", 3) == 0);
            if (li > 0 && b == 0) {
                const char *pu = d->lines[li - 1].up;
                size_t pl = strlen(pu);
                dash_before |= pl > 0 && pu[pl - 1] == '-';
            }
            f[17] = dash_after || dash_before;
            /* labels: before it on its line, the line to its left, the line above */
            const char *ln = l->left_near >= 0 ? d->lines[l->left_near].up : "";
            const char *ab = li > 0 ? d->lines[li - 1].up : "";
            f[18] = ex_stem_in(l->up, i, ex_odate_stems);
            f[19] = ex_stem_in(ln, strlen(ln), ex_odate_stems);
            f[20] = ex_stem_in(ab, strlen(ab), ex_odate_stems);
            f[21] = ex_stem_in(l->up, i, ex_date_stems);
            f[22] = ex_stem_in(ln, strlen(ln), ex_date_stems);
            f[23] = ex_stem_in(ab, strlen(ab), ex_date_stems);
            f[24] = (f[21] || f[22]) && !f[18] && !f[19];
            i += (size_t)len - 1;
        }
    }
    ex_finish_common(out);
    return 0;
}

/* ---- amounts ------------------------------------------------------------ */

/* An amount at up+i: digits, optionally in groups of three (separated by
 * ',' '.' an apostrophe or a space, one kind per amount), then a decimal point
 * or comma and exactly two decimals: 1,234.56  1.234,56  1'234.56  1 234,56
 * 100,00. Returns its length and value; 0 when none. *thousands is 1 when the
 * amount carries group separators. */
static int ex_amount_at(const char *up, size_t i, double *val, int *thousands)
{
    const char *p = up + i;
    if (!isdigit((unsigned char)*p))
        return 0;
    if (i > 0 && (isdigit((unsigned char)up[i - 1]) || up[i - 1] == '.' || up[i - 1] == ',' ||
                  up[i - 1] == '/' || up[i - 1] == ':' || up[i - 1] == '\''))
        return 0;
    int k = 0, run = 0;
    double v = 0;
    char sep = 0;
    *thousands = 0;
    for (;;) {
        while (isdigit((unsigned char)p[k])) {
            v = v * 10 + (p[k] - '0');
            run++;
            k++;
            if (k > 18)
                return 0;
        }
        char c = p[k];
        /* A group separator: after a first group of 1..3 digits (or a group
         * of three), followed by groups of exactly three digits and then a
         * decimal mark of the other kind. */
        if ((c == ',' || c == '.' || c == '\'' || c == ' ') && run <= 3 &&
            (sep == 0 || sep == c) && (sep == 0 || run == 3)) {
            int q = k;
            while (p[q] == c && isdigit((unsigned char)p[q + 1]) &&
                   isdigit((unsigned char)p[q + 2]) && isdigit((unsigned char)p[q + 3]))
                q += 4;
            if (q > k && (p[q] == '.' || p[q] == ',') && p[q] != c &&
                isdigit((unsigned char)p[q + 1]) && isdigit((unsigned char)p[q + 2]) &&
                !isdigit((unsigned char)p[q + 3])) {
                sep = c;
                *thousands = 1;
                run = 0;
                k++;
                continue;
            }
        }
        break;
    }
    char dm = p[k];
    if ((dm != '.' && dm != ',') || dm == sep || !isdigit((unsigned char)p[k + 1]) ||
        !isdigit((unsigned char)p[k + 2]) || isdigit((unsigned char)p[k + 3]))
        return 0;
    if (p[k + 3] == '.' || p[k + 3] == '/' || p[k + 3] == ':')
        return 0;
    /* "1,23,45": a list, not an amount */
    if (dm == ',' && p[k + 3] == ',' && isdigit((unsigned char)p[k + 4]))
        return 0;
    v += (p[k + 1] - '0') / 10.0 + (p[k + 2] - '0') / 100.0;
    *val = v;
    return k + 3;
}

typedef struct {
    double v;
    int line;
    size_t off;
    int len, thousands;
} ex_amt;

static int ex_cand_totals(const ex_doc *d, float medh, ex_cands *out)
{
    ex_amt *a = NULL;
    size_t na = 0, cap = 0;
    for (size_t li = 0; li < d->n; li++) {
        const char *up = d->lines[li].up;
        for (size_t i = 0; up[i]; i++) {
            double v;
            int th;
            int len = ex_amount_at(up, i, &v, &th);
            if (len == 0)
                continue;
            if (na == cap) {
                cap = cap ? cap * 2 : 32;
                ex_amt *p = realloc(a, cap * sizeof(*p));
                if (p == NULL) {
                    free(a);
                    return -1;
                }
                a = p;
            }
            a[na++] = (ex_amt){v, (int)li, i, len, th};
            i += (size_t)len - 1;
        }
    }
    double maxv = 0, second = 0, maxtot = -1;
    for (size_t i = 0; i < na; i++) {
        if (a[i].v > maxv) {
            second = maxv;
            maxv = a[i].v;
        } else if (a[i].v > second && a[i].v < maxv) {
            second = a[i].v;
        }
        if ((ex_near(d, a[i].line) & (EX_L_TOTAL | EX_L_GRAND)) && a[i].v > maxtot)
            maxtot = a[i].v;
    }
    /* Cash minus change for every pair, computed once (a long document has
     * many amounts; a cubic loop over them would not do). Capped pairs. */
    double due[256];
    size_t ndue = 0;
    for (size_t x = 0; x < na && ndue < 256; x++) {
        if (!(ex_near(d, a[x].line) & EX_L_CASH))
            continue;
        for (size_t y = 0; y < na && ndue < 256; y++)
            if (ex_near(d, a[y].line) & EX_L_CHANGE)
                due[ndue++] = a[x].v - a[y].v;
    }
    int last_total_line = -1;
    for (size_t li = 0; li < d->n; li++)
        if (d->lines[li].flags & (EX_L_TOTAL | EX_L_GRAND))
            last_total_line = (int)li;
    for (size_t i = 0; i < na; i++) {
        const ex_line *l = &d->lines[a[i].line];
        ex_cand *k = ex_push(out, l->text + a[i].off, (size_t)a[i].len, a[i].line);
        size_t ki = out->n - 1;
        if (k == NULL || ex_words_label(out, k, d, a[i].line, a[i].off) != 0 ||
            ex_words_line(out, k, d, (long)a[i].line - 1, EX_R_ABOVE) != 0) {
            free(a);
            return -1;
        }
        ex_common(d, medh, k);
        float *f = k->f + F_OWN;
        double v = a[i].v;
        uint32_t near = ex_near(d, a[i].line), above = ex_above(d, a[i].line);
        f[0] = v == maxv;
        f[1] = v == second;
        f[2] = v == maxtot;
        f[3] = (near & EX_L_TOTAL) != 0;
        f[4] = (near & EX_L_GRAND) != 0;
        f[5] = (near & EX_L_SUBTOTAL) != 0;
        f[6] = (near & EX_L_TAX) != 0;
        f[7] = (near & EX_L_CASH) != 0;
        f[8] = (near & EX_L_CHANGE) != 0;
        f[9] = (near & EX_L_ROUND) != 0;
        f[10] = (near & EX_L_DISC) != 0;
        /* Cash handed over minus change given back is what was due. */
        int cc = 0;
        for (size_t x = 0; x < ndue && !cc; x++)
            cc = fabs(due[x] - v) < 0.005;
        f[11] = cc;
        size_t off = a[i].off;
        f[12] = (off >= 2 && strncmp(l->up + off - 2, "RM", 2) == 0) ||
                (off >= 3 && strncmp(l->up + off - 3, "RM ", 3) == 0) ||
                (off >= 1 && l->up[off - 1] == '$');
        f[13] = last_total_line >= 0 && a[i].line > last_total_line &&
                a[i].line - last_total_line <= 2;
        f[14] = v == 0;
        f[15] = (near & EX_L_QTY) != 0;
        f[16] = (above & (EX_L_TOTAL | EX_L_GRAND)) != 0;
        f[17] = a[i].thousands;
        f[18] = i + 1 == na;
        int same = 0;
        for (size_t x = 0; x < na; x++)
            same += fabs(a[x].v - v) < 0.005;
        f[19] = same >= 2;
        f[20] = same >= 3;
        f[21] = last_total_line == a[i].line;
        f[22] = (l->flags & EX_L_TOTAL) && !(l->flags & (EX_L_TAX | EX_L_SUBTOTAL));
        f[23] = (l->flags & EX_L_CONTACT) != 0;
        /* Amounts on the same line as a TOTAL keyword but left of it belong
         * to something else (a quantity column). */
        const char *tk = ex_find_word(l->up, "TOTAL");
        f[24] = tk != NULL && (size_t)(tk - l->up) < off;
        f[25] = v >= 1000;
        f[26] = v < 1;
        f[27] = f[3] && f[0];
        f[28] = f[3] && !f[5] && !f[6] && !f[9];
        f[29] = f[11] && (f[3] || f[4]);
        /* The label nearest to the left, when rows are skewed. */
        uint32_t ln = l->left_near >= 0 ? d->lines[l->left_near].flags : 0;
        f[34] = (ln & EX_L_TOTAL) != 0;
        f[35] = (ln & EX_L_GRAND) != 0;
        f[36] = (ln & EX_L_SUBTOTAL) != 0;
        f[37] = (ln & EX_L_TAX) != 0;
        f[38] = (ln & EX_L_CASH) != 0;
        f[39] = (ln & EX_L_CHANGE) != 0;
        f[40] = (ln & EX_L_ROUND) != 0;
        f[41] = (ln & (EX_L_TOTAL | EX_L_GRAND)) && !(ln & (EX_L_TAX | EX_L_SUBTOTAL | EX_L_ROUND));
        /* Rounding to 5 sen: the amount after the adjustment (another amount
         * plus or minus a rounding line's few sen) or before it. */
        long cents = lround(v * 100);
        f[42] = cents % 5 == 0;
        int adjusted = 0, before = 0;
        for (size_t r = 0; r < na && !(adjusted && before); r++) {
            uint32_t rf = ex_near(d, a[r].line) |
                          (d->lines[a[r].line].left_near >= 0
                               ? d->lines[d->lines[a[r].line].left_near].flags : 0);
            if (!(rf & EX_L_ROUND) || a[r].v <= 0 || a[r].v >= 0.1 || r == i)
                continue;
            for (size_t u = 0; u < na; u++) {
                if (u == r || u == i || fabs(a[u].v - v) < 0.005)
                    continue;
                if (fabs(a[u].v + a[r].v - v) < 0.005 || fabs(a[u].v - a[r].v - v) < 0.005) {
                    long uc = lround(a[u].v * 100);
                    adjusted |= cents % 5 == 0 && uc % 5 != 0;
                    before |= cents % 5 != 0 && uc % 5 == 0;
                }
            }
        }
        f[43] = adjusted;
        f[44] = before;
        /* Variants: labels keep a currency sign written against the number
         * ("$8.20", "RM 57.40") and sometimes drop thousands separators. */
        float base[EX_NFEAT];
        memcpy(base, k->f, sizeof base);
        char var[64];
        int vl = 0, vkind = 0;
        if (off >= 1 && l->up[off - 1] == '$') {
            vl = snprintf(var, sizeof var, "$%.*s", a[i].len, l->text + off);
            vkind = 30;
        } else if (off >= 2 && strncmp(l->up + off - 2, "RM", 2) == 0 &&
                   (off == 2 || !isalpha((unsigned char)l->up[off - 3]))) {
            vl = snprintf(var, sizeof var, "%.2s%.*s", l->text + off - 2, a[i].len, l->text + off);
            vkind = 30;
        } else if (off >= 3 && strncmp(l->up + off - 3, "RM ", 3) == 0 &&
                   (off == 3 || !isalpha((unsigned char)l->up[off - 4]))) {
            vl = snprintf(var, sizeof var, "%.3s%.*s", l->text + off - 3, a[i].len, l->text + off);
            vkind = 31;
        } else if (a[i].thousands) {
            for (int q = 0; q < a[i].len && vl < (int)sizeof var - 1; q++)
                if (isdigit((unsigned char)l->text[off + (size_t)q]) || q >= a[i].len - 3)
                    var[vl++] = l->text[off + (size_t)q];
            var[vl] = '\0';
            vkind = 32;
        }
        if (vkind && vl > 0 && vl < (int)sizeof var) {
            k->f[F_OWN + 33] = 1; /* the plain number, when a variant exists */
            ex_cand *kv = ex_push(out, var, (size_t)vl, a[i].line);
            if (kv == NULL || ex_words_copy(out, kv, ki) != 0) {
                free(a);
                return -1;
            }
            memcpy(kv->f, base, sizeof base);
            kv->f[F_OWN + vkind] = 1;
        }
    }
    free(a);
    ex_finish_common(out);
    return 0;
}

/* ---- company ------------------------------------------------------------ */

static const char *const ex_suffixes[] = {"SDN. BHD.", "SDN.BHD.", "SDN BHD.", "SDN BHD", "SDN. BHD",
                                          "BERHAD", "BHD.", "BHD", "S/B", "LIMITED", "LTD.", "LTD",
                                          "INC.", "INC", "LLC", "GMBH", "PLC", NULL};

static size_t ex_cut_after_suffix(const char *up)
{
    for (const char *const *s = ex_suffixes; *s; s++) {
        const char *p = ex_find_word(up, *s);
        if (p)
            return (size_t)(p - up) + strlen(*s);
    }
    return 0;
}

/* Length without a trailing registration number: "(123456-X)", "123456-X". */
static size_t ex_strip_reg(const char *up, size_t len)
{
    size_t e = len;
    while (e && up[e - 1] == ' ')
        e--;
    if (e && up[e - 1] == ')') {
        size_t o = e - 1;
        while (o && up[o] != '(')
            o--;
        if (up[o] == '(') {
            int dig = 0;
            for (size_t q = o; q < e; q++)
                dig += isdigit((unsigned char)up[q]) != 0;
            if (dig >= 4)
                e = o;
        }
    } else {
        size_t o = e;
        while (o && up[o - 1] != ' ')
            o--;
        int dig = 0;
        for (size_t q = o; q < e; q++)
            dig += isdigit((unsigned char)up[q]) != 0;
        if (dig >= 4 && o > 0)
            e = o;
    }
    while (e && up[e - 1] == ' ')
        e--;
    return e;
}

/* Shape of a block of span consecutive lines from li (a name the printer
 * broke over two to four lines), into f[31..43] of the company block. */
/* Any of stems as a substring of up. */
static int ex_has_stem(const char *up, const char *const *stems)
{
    for (const char *const *st = stems; *st; st++)
        if (strstr(up, *st))
            return 1;
    return 0;
}

/* Legal forms in EN DE FR NL ES IT PL, word-bounded in upper case. */
static const char *const ex_legal[] = {
    "GMBH", "AG", "KG", "UG", "E.K.", "LTD", "LTD.", "LIMITED", "INC", "INC.", "LLC", "PLC", "PTY",
    "CORP", "CORP.", "B.V.", "B.V", "BV", "N.V.", "NV", "S.A.", "SA", "SAS", "SARL", "S.L.", "SL",
    "S.R.L.", "SRL", "S.P.A.", "SPA", "SP. Z O.O.", "OY", "AB", "SDN BHD", "BHD", NULL};

static int ex_has_legal(const char *up)
{
    for (const char *const *s = ex_legal; *s; s++)
        if (ex_find_word(up, *s))
            return 1;
    return 0;
}

/* Labels of the addressee: the name under them is the customer's. */
static const char *const ex_recipient[] = {
    "BILL TO", "BILLED TO", "INVOICE TO", "SOLD TO", "SHIP TO", "CUSTOMER", "BILLING CONTACT",
    "KUNDE", "EMPF", "CLIENT", "KLANT", "FACTUUR AAN", "DESTINATARIO", "SPETT", "NABYWCA",
    "ODBIORCA", "FACTUR\xc3\xa9 \xc3\xa0", "FACTURAR A", "TO:", "AN:", "AAN:", "BUYER",
    "K\xc3\xa4UFER", "K\xc3\x84UFER", "ACHETEUR", "KOPER", "COMPRADOR", "ACQUIRENTE",
    "COMMITTENTE", "RECIPIENT", "DELIVER TO", "LIEFERADRESSE", "RECHNUNGSADRESSE", NULL};

/* Labels of the seller: the name under them is the vendor's. */
static const char *const ex_seller[] = {
    "SELLER", "PROVIDED BY", "FROM:", "SUPPLIER", "VENDOR", "VERK\xc3\x84UFER", "VERK\xc3\xa4UFER",
    "LIEFERANT", "ANBIETER", "VENDEUR", "FOURNISSEUR", "VERKOPER", "LEVERANCIER", "VENDEDOR",
    "PROVEEDOR", "EMISOR", "VENDITORE", "FORNITORE", "SPRZEDAWCA", "DOSTAWCA", "ISSUED BY", NULL};

/* Labels of other fields: a line that carries one is not a name. */
static const char *const ex_otherlab[] = {
    "DATE", "DATUM", "FECHA", "DATA ", "DUE", "F\xc3\xa4LLIG", "PAYMENT", "ZAHLUNG", "PAIEMENT",
    "BETALING", "PAGO", "PAGAMENTO", "P\xc5\x81" "ATNO", "METHOD", "TOTAL", "AMOUNT", "BETRAG",
    "MONTANT", "BEDRAG", "IMPORTE", "IMPORTO", "KWOTA", "NUMBER", "NUMMER", NULL};

static const char *const ex_titles[] = {
    "INVOICE", "RECHNUNG", "FACTURE", "FACTUUR", "FACTURA", "FATTURA", "FAKTURA", "RECEIPT",
    "SUMMARY", "ORIGINAL", "PAGE", "SEITE", NULL};

static const char *const ex_taxid[] = {"VAT", "UST", "TVA", "BTW", "IVA", "NIP", "IBAN", "TAX ID",
                                       "ABN", "HRB", "KVK", "SIRET", "P.IVA", "STEUERNR", NULL};

static const char *const ex_generic_mail[] = {"INFO@", "BILLING@", "SUPPORT@", "SALES@", "HELLO@",
                                              "MAIL@", "CONTACT@", "INVOICE", "ACCOUNTS@",
                                              "NOREPLY", "NO-REPLY", "SUBSCRIPTION@", "HELP@", NULL};

/* The layout block of a name: what the lines below it in its column say. */
/* What a name's line says about it, the same for every candidate of the
 * line (a one-line cache: a line's candidates come one after another;
 * ex_cand_company resets it per document). */
static _Thread_local struct {
    const ex_doc *d;
    int li;
    float rec, sel, dom, rep1, rep3, tax, mail, generic;
} ex_lay;

static void ex_company_line(const ex_doc *d, int li)
{
    if (ex_lay.d == d && ex_lay.li == li)
        return;
    ex_lay.d = d;
    ex_lay.li = li;
    const ex_line *l = &d->lines[li];
    const char *up = l->up;
    /* the addressee's or the seller's label: to its left, or one to three
     * lines above in its column */
    int rec = 0, sel = 0;
    if (l->left_near >= 0) {
        rec |= ex_has_stem(d->lines[l->left_near].up, ex_recipient);
        sel |= ex_has_stem(d->lines[l->left_near].up, ex_seller);
    }
    for (int q = li - 1; q >= 0 && q >= li - 3; q--) {
        const ex_line *a = &d->lines[q];
        if (fabsf(a->x0 - l->x0) < 0.05f && a->y1 <= l->y0 + 0.002f && l->y0 - a->y1 < 0.06f) {
            rec |= ex_has_stem(a->up, ex_recipient);
            sel |= ex_has_stem(a->up, ex_seller);
        }
    }
    ex_lay.rec = rec;
    ex_lay.sel = sel;
    /* its first word in a mail or web domain; repeated on other lines */
    char w[64];
    size_t wl = 0;
    for (const char *p = up; *p && wl < sizeof w - 1; p++) {
        if (isalnum((unsigned char)*p))
            w[wl++] = *p;
        else if (wl)
            break;
    }
    w[wl] = '\0';
    int dom = 0, rep = 0;
    if (wl >= 3) {
        char at[80], www[80], dot[80];
        snprintf(at, sizeof at, "@%s", w);
        snprintf(www, sizeof www, "WWW.%s", w);
        snprintf(dot, sizeof dot, "%s.COM", w);
        for (size_t q = 0; q < d->n; q++) {
            const char *t = d->lines[q].up;
            const char *hit = strstr(t, w);
            if (hit == NULL)
                continue;
            if (strstr(t, at) || strstr(t, www) || strstr(t, dot))
                dom++;
            if ((int)q != li && ex_find_word(t, w))
                rep++;
        }
    }
    ex_lay.dom = dom > 0;
    ex_lay.rep1 = rep >= 1;
    ex_lay.rep3 = rep >= 3;
    /* tax ids and mail addresses below it in its column */
    int tax = 0, mail = 0, generic = 0;
    for (size_t q = (size_t)li + 1; q < d->n && q <= (size_t)li + 7; q++) {
        const ex_line *b = &d->lines[q];
        if (fabsf(b->x0 - l->x0) > 0.05f || b->y0 < l->y0)
            continue;
        tax |= ex_has_stem(b->up, ex_taxid);
        if (strchr(b->up, '@')) {
            mail = 1;
            generic |= ex_has_stem(b->up, ex_generic_mail);
        }
    }
    ex_lay.tax = tax;
    ex_lay.mail = mail;
    ex_lay.generic = generic;
}

/* The layout block of a name: its legal form, the labels around it, what
 * the lines below it in its column say. */
static void ex_company_layout(const ex_doc *d, int li, const char *up, float *f)
{
    const ex_line *l = &d->lines[li];
    f[49] = ex_has_legal(up);
    size_t ul = strlen(up);
    while (ul && strchr(" .,", up[ul - 1]))
        ul--;
    for (const char *const *s = ex_legal; *s && !f[50]; s++) {
        size_t sl = strlen(*s);
        f[50] = ul >= sl + 1 && strncmp(up + ul - sl, *s, sl) == 0 && up[ul - sl - 1] == ' ';
    }
    ex_company_line(d, li);
    f[51] = ex_lay.rec || (ex_has_stem(up, ex_recipient) && strlen(up) < 40 && !f[49]);
    f[52] = ex_lay.dom;
    f[53] = ex_lay.rep1;
    f[54] = ex_lay.rep3;
    f[55] = ex_has_stem(up, ex_titles);
    f[56] = strchr(up, ':') != NULL;
    f[57] = ex_lay.tax;
    f[58] = ex_lay.mail && !ex_lay.generic;
    f[59] = ex_lay.generic;
    f[60] = li >= 12;
    f[61] = (l->y0 + l->y1) / 2 > 0.7f;
    f[62] = ex_lay.sel;
    f[63] = ex_has_stem(up, ex_otherlab);
}

static void ex_company_block(const ex_doc *d, float medh, int li, int span, float *f)
{
    const ex_line *first = &d->lines[li], *last = &d->lines[li + span - 1];
    f[31] = span == 3;
    f[32] = span == 4;
    f[33] = (last->flags & EX_L_COMPSUF) != 0;
    float hmin = 1e9f, hmax = 0, gap = 0, cmin = 1e9f, cmax = -1e9f;
    int early_suf = 0, bad = 0, junk = 0, cont = 0;
    for (int q = li; q < li + span; q++) {
        const ex_line *l = &d->lines[q];
        float h = l->y1 - l->y0, c = (l->x0 + l->x1) / 2;
        hmin = h < hmin ? h : hmin;
        hmax = h > hmax ? h : hmax;
        cmin = c < cmin ? c : cmin;
        cmax = c > cmax ? c : cmax;
        if (q > li && l->y0 - d->lines[q - 1].y1 > gap)
            gap = l->y0 - d->lines[q - 1].y1;
        early_suf |= q < li + span - 1 && (l->flags & EX_L_COMPSUF);
        bad |= (l->flags & (EX_L_ADDR | EX_L_STARTNUM | EX_L_REG | EX_L_CONTACT | EX_L_POSTCODE |
                            EX_L_TIME | EX_L_DATEKW)) != 0;
        size_t alpha = 0, n = strlen(l->up);
        for (const char *p = l->up; *p; p++)
            alpha += isalpha((unsigned char)*p) != 0;
        junk |= n < 3 || alpha * 2 < n;
        cont |= q > li && (l->up[0] == '&' || l->up[0] == '(');
    }
    f[34] = early_suf;
    f[35] = bad;
    f[36] = d->has_boxes && medh > 0 && gap > medh;
    f[37] = d->has_boxes && hmin > 0 && hmax > 1.4f * hmin;
    f[38] = (size_t)(li + span) < d->n &&
            (d->lines[li + span].flags & (EX_L_REG | EX_L_ADDR | EX_L_STARTNUM | EX_L_CONTACT));
    f[39] = junk;
    f[40] = d->has_boxes && cmax - cmin < 0.1f;
    f[41] = cont;
    f[42] = (first->flags & (EX_L_COMPSUF | EX_L_COMPKW)) != 0 && !(last->flags & EX_L_COMPSUF);
}

/* Line b continues the name block of line a: close below or above it, as
 * tall, centred alike, letters rather than digits, and no address, contact or
 * registration words (a name the candidate cut short). */
static int ex_name_continues(const ex_doc *d, float medh, long a, long b)
{
    if (!d->has_boxes || b < 0 || (size_t)b >= d->n || medh <= 0)
        return 0;
    const ex_line *la = &d->lines[a], *lb = &d->lines[b];
    float gap = b > a ? lb->y0 - la->y1 : la->y0 - lb->y1;
    float ha = la->y1 - la->y0, hb = lb->y1 - lb->y0;
    float ca = (la->x0 + la->x1) / 2, cb = (lb->x0 + lb->x1) / 2;
    if (gap > 0.6f * medh || hb > 1.3f * ha || ha > 1.3f * hb || fabsf(ca - cb) > 0.1f)
        return 0;
    if (lb->flags & (EX_L_ADDR | EX_L_STARTNUM | EX_L_REG | EX_L_CONTACT | EX_L_POSTCODE |
                     EX_L_TIME | EX_L_DATEKW | EX_L_FOOTER))
        return 0;
    size_t al = 0, n = 0;
    for (const char *p = lb->up; *p; p++, n++)
        al += isalpha((unsigned char)*p) != 0;
    return n >= 3 && al * 2 > n;
}

static int ex_company_one(const ex_doc *d, float medh, ex_cands *out, int li, const char *text,
                          size_t len, int variant, int first_suf, int span)
{
    for (size_t i = 0; i < out->n; i++)
        if (strlen(out->c[i].text) == len && strncmp(out->c[i].text, text, len) == 0 &&
            out->c[i].line == li) {
            out->c[i].f[F_OWN + (variant < 4 ? 2 + variant : variant == 4 ? 30 : 48)] = 1;
            return 0;
        }
    ex_cand *k = ex_push(out, text, len, li);
    /* No hashed words for names: measured with folds that keep a vendor's
     * receipts together, words of the name or of the lines around it learn
     * the training set's vendors (F1 on unseen vendors fell 0.89 -> 0.82). */
    if (k == NULL)
        return -1;
    ex_common(d, medh, k);
    float *f = k->f + F_OWN;
    const ex_line *l = &d->lines[li];
    char up[1024];
    size_t ul = strlen(k->text) < sizeof up - 1 ? strlen(k->text) : sizeof up - 1;
    for (size_t i = 0; i < ul; i++)
        up[i] = (char)toupper((unsigned char)k->text[i]);
    up[ul] = '\0';
    uint32_t fl = l->flags;
    for (int q = 1; q < span; q++)
        fl |= d->lines[li + q].flags;
    f[0] = ex_cut_after_suffix(up) > 0;
    f[1] = (fl & EX_L_COMPKW) != 0;
    if (variant < 4)
        f[2 + variant] = 1; /* 2..5; 4 (owner prefix cut) is f[30] */
    f[6] = (fl & EX_L_ADDR) != 0;
    f[7] = (fl & EX_L_CONTACT) != 0;
    f[8] = first_suf == li;
    f[9] = (size_t)li + 1 < d->n && (d->lines[li + 1].flags & EX_L_REG);
    int dig = 0, words = 1;
    for (const char *p = up; *p; p++) {
        dig += isdigit((unsigned char)*p) != 0;
        words += *p == ' ';
    }
    f[10] = dig > 0;
    f[11] = words <= 2;
    f[12] = (fl & EX_L_POSTCODE) != 0;
    f[13] = li > 0 && (d->lines[li - 1].flags & EX_L_COMPSUF);
    f[14] = first_suf >= 0 && li < first_suf;
    f[15] = first_suf >= 0 && li > first_suf;
    f[16] = (fl & EX_L_REG) != 0;
    f[17] = (fl & (EX_L_TOTAL | EX_L_DATEKW | EX_L_TIME)) != 0;
    f[18] = (size_t)li + 1 < d->n && (d->lines[li + 1].flags & (EX_L_ADDR | EX_L_STARTNUM));
    f[19] = (fl & EX_L_PLACE) != 0;
    if (span >= 2)
        ex_company_block(d, medh, li, span, f);
    if (span == 2) {
        const ex_line *nx = &d->lines[li + 1];
        f[20] = (nx->flags & EX_L_COMPSUF) && !(l->flags & EX_L_COMPSUF);
        f[21] = (l->flags & EX_L_COMPSUF) != 0;
        size_t ll = strlen(l->up);
        f[22] = ll && (l->up[ll - 1] == '&' || l->up[ll - 1] == '-');
        f[23] = (l->flags & (EX_L_COMPKW | EX_L_COMPSUF)) == 0 && (nx->flags & EX_L_COMPKW);
        f[24] = (nx->flags & (EX_L_ADDR | EX_L_STARTNUM | EX_L_REG | EX_L_CONTACT)) != 0;
        f[25] = nx->y0 - l->y1 > 0.02f;
    } else {
        size_t ll = strlen(l->up);
        f[26] = ll && (l->up[ll - 1] == '&' || l->up[ll - 1] == '-');
        f[27] = li == 0 && d->n > 1 && (d->lines[1].flags & EX_L_COMPSUF) &&
                !(l->flags & EX_L_COMPSUF);
    }
    f[28] = f[0] && f[8];
    f[29] = (fl & EX_L_FOOTER) != 0;
    f[30] = variant == 4;
    /* The text ends with the legal form; the next line carries one and this
     * one does not (a name broken over lines, cut short here). */
    size_t cut = ex_cut_after_suffix(up);
    f[43] = cut > 0 && cut == ul;
    f[44] = span == 1 && (size_t)li + 1 < d->n && (d->lines[li + 1].flags & EX_L_COMPSUF) &&
            !(l->flags & EX_L_COMPSUF);
    f[45] = li > 0 && !(d->lines[li - 1].flags & EX_L_COMPSUF) &&
            ex_name_continues(d, medh, li, (long)li - 1);
    f[46] = !f[43] && ex_name_continues(d, medh, (long)li + span - 1, (long)li + span);
    f[47] = f[45] && f[33];
    f[48] = variant == 5;
    ex_company_layout(d, li, up, f);
    return 0;
}

static int ex_cand_company(const ex_doc *d, float medh, ex_cands *out)
{
    ex_lay.d = NULL;
    int top = d->n < 12 ? (int)d->n : 12;
    int first_suf = -1;
    for (int li = 0; li < top && first_suf < 0; li++)
        if (d->lines[li].flags & EX_L_COMPSUF)
            first_suf = li;
    /* Beyond the first lines (receipts put the shop on top), an invoice
     * names its vendor anywhere: in a header column, a footer, a line
     * "X GmbH, street, city": lines with a legal form, capped. */
    int last = d->n < 150 ? (int)d->n : 150;
    for (int li = 0; li < last; li++) {
        if (li >= top && !ex_has_legal(d->lines[li].up))
            continue;
        const ex_line *sl = &d->lines[li];
        /* "Vendor GmbH • street • city" (the sender line of an address
         * window), "Vendor Ltd, Level 6, ...": the name before the first
         * separator. */
        static const char *const seps[] = {" \xe2\x80\xa2 ", " \xe2\x80\x93 ", " | ", " - ", ", ", " \xc2\xb7 ", NULL};
        size_t cutsep = 0;
        for (const char *const *sp = seps; *sp; sp++) {
            const char *q = strstr(sl->text, *sp);
            if (q && (cutsep == 0 || (size_t)(q - sl->text) < cutsep))
                cutsep = (size_t)(q - sl->text);
        }
        if (cutsep >= 3 &&
            ex_company_one(d, medh, out, li, sl->text, cutsep, 5, first_suf, 1) != 0)
            return -1;
        if (li >= top) {
            size_t len = strlen(sl->text);
            if (ex_company_one(d, medh, out, li, sl->text, len, 0, first_suf, 1) != 0)
                return -1;
            size_t cut = ex_cut_after_suffix(sl->up);
            if (cut > 0 && cut < len &&
                ex_company_one(d, medh, out, li, sl->text, cut, 1, first_suf, 1) != 0)
                return -1;
            continue;
        }
        const ex_line *l = &d->lines[li];
        size_t len = strlen(l->text);
        if (ex_company_one(d, medh, out, li, l->text, len, 0, first_suf, 1) != 0)
            return -1;
        size_t cut = ex_cut_after_suffix(l->up);
        if (cut > 0 && cut < len &&
            ex_company_one(d, medh, out, li, l->text, cut, 1, first_suf, 1) != 0)
            return -1;
        size_t strip = ex_strip_reg(l->up, len);
        if (strip > 0 && strip < len &&
            ex_company_one(d, medh, out, li, l->text, strip, 2, first_suf, 1) != 0)
            return -1;
        /* "DIMILIKI: X SDN BHD", "OWN BY: X", "#000002 X": the owner after a
         * label or a number. */
        const char *colon = strrchr(l->up, ':');
        size_t skip = 0;
        if (colon && colon[1])
            skip = (size_t)(colon - l->up) + 1;
        else if (l->up[0] == '#')
            skip = strcspn(l->up, " ");
        while (skip && l->text[skip] == ' ')
            skip++;
        if (skip > 0 && skip < len && (d->lines[li].flags & (EX_L_COMPSUF | EX_L_COMPKW)) &&
            ex_company_one(d, medh, out, li, l->text + skip, len - skip, 4, first_suf, 1) != 0)
            return -1;
        /* A name the printer broke over two to four lines. */
        char buf[2048];
        size_t n = len < sizeof buf ? len : 0;
        memcpy(buf, l->text, n);
        for (int span = 2; n > 0 && span <= 4 && li + span <= top; span++) {
            const char *t = d->lines[li + span - 1].text;
            size_t tl = strlen(t);
            if (n + 1 + tl >= sizeof buf)
                break;
            buf[n++] = ' ';
            memcpy(buf + n, t, tl);
            n += tl;
            if (ex_company_one(d, medh, out, li, buf, n, 3, first_suf, span) != 0)
                return -1;
        }
    }
    ex_finish_common(out);
    return 0;
}

/* ---- address ------------------------------------------------------------ */

#define EX_ADDR_TOP 25
#define EX_ADDR_SPAN 6

static int ex_cand_address(const ex_doc *d, float medh, ex_cands *out)
{
    int top = d->n < EX_ADDR_TOP ? (int)d->n : EX_ADDR_TOP;
    char buf[4096];
    /* The words of the line above and below a span, hashed once per line
     * (a line is above or below many spans). */
    uint16_t wb[EX_ADDR_TOP + 1][2][EX_MAXWORDS];
    size_t nb[EX_ADDR_TOP + 1][2];
    for (int q = 0; q <= top && (size_t)q < d->n; q++)
        for (int r = 0; r < 2; r++)
            nb[q][r] = ex_buckets(d->lines[q].text, strlen(d->lines[q].text),
                                  r ? EX_R_BELOW : EX_R_ABOVE, wb[q][r]);
    for (int i = 0; i < top; i++) {
        size_t len = 0;
        for (int j = i; j < top && j - i < EX_ADDR_SPAN; j++) {
            const ex_line *l = &d->lines[j];
            size_t tl = strlen(l->text);
            if (len + tl + 2 >= sizeof buf)
                break;
            if (len)
                buf[len++] = ' ';
            memcpy(buf + len, l->text, tl);
            len += tl;
            buf[len] = '\0';
            int span = j - i + 1;
            int addr = 0, bad = 0, post = 0, comp = 0;
            for (int q = i; q <= j; q++) {
                uint32_t fl = d->lines[q].flags;
                addr += (fl & (EX_L_ADDR | EX_L_POSTCODE | EX_L_PLACE | EX_L_STARTNUM)) != 0;
                bad += (fl & (EX_L_CONTACT | EX_L_TOTAL | EX_L_TIME | EX_L_REG | EX_L_INVKW)) != 0;
                post += (fl & EX_L_POSTCODE) != 0;
                comp += (fl & EX_L_COMPSUF) != 0;
            }
            ex_cand *k = ex_push(out, buf, len, i);
            /* The words of the lines around the span (what ends an address);
             * its own words add nothing measurable and would learn streets. */
            size_t nabove = i > 0 ? nb[i - 1][0] : 0, nbelow = (size_t)j + 1 < d->n ? nb[j + 1][1] : 0;
            if (k == NULL || ex_add_buckets(out, k, wb[i > 0 ? i - 1 : 0][0], nabove) != 0 ||
                ex_add_buckets(out, k, wb[j + 1][1], nbelow) != 0)
                return -1;
            ex_common(d, medh, k);
            float *f = k->f + F_OWN;
            uint32_t last = l->flags, first = d->lines[i].flags;
            uint32_t before = i > 0 ? d->lines[i - 1].flags : 0;
            uint32_t after = (size_t)j + 1 < d->n ? d->lines[j + 1].flags : 0;
            f[0] = (float)addr / (float)span;
            f[1] = addr == span;
            f[2] = (last & EX_L_POSTCODE) != 0;
            f[3] = (last & EX_L_PLACE) != 0;
            f[4] = post > 0;
            f[5] = (first & EX_L_STARTNUM) != 0;
            f[6] = (first & EX_L_ADDR) != 0;
            f[7] = (after & (EX_L_CONTACT | EX_L_REG | EX_L_INVKW)) != 0;
            f[8] = bad > 0;
            f[9] = (before & (EX_L_COMPSUF | EX_L_COMPKW | EX_L_REG)) != 0;
            f[10] = (before & (EX_L_ADDR | EX_L_POSTCODE)) != 0 && !(before & EX_L_COMPSUF);
            f[11] = (after & (EX_L_POSTCODE | EX_L_PLACE)) != 0;
            f[12 + (span - 1)] = 1; /* 12..17 */
            f[18] = (before & EX_L_ENDCOMMA) != 0;
            f[19] = (last & EX_L_ENDCOMMA) != 0;
            f[20] = comp > 0;
            f[21] = (after & EX_L_ADDR) != 0 && !(after & (EX_L_CONTACT | EX_L_REG));
            f[22] = post > 1;
            f[23] = i == 0;
            f[24] = (first & (EX_L_COMPSUF | EX_L_COMPKW)) != 0;
            f[25] = after == 0 || (after & (EX_L_TIME | EX_L_DATEKW)) != 0;
            /* A branch or shop name in front of the street line: the span
             * starts on a line without address words and a later line
             * starts like a street address. */
            int inner_num = 0, plain = 0, phone_last = 0;
            for (int q = i; q <= j; q++) {
                uint32_t fl = d->lines[q].flags;
                inner_num |= q > i && (fl & EX_L_STARTNUM);
                plain += !(fl & (EX_L_ADDR | EX_L_POSTCODE | EX_L_PLACE | EX_L_STARTNUM));
            }
            const uint32_t addrish = EX_L_ADDR | EX_L_POSTCODE | EX_L_PLACE | EX_L_STARTNUM;
            /* A last line that is a phone number (digits, dashes, spaces). */
            {
                int dg = 0, other = 0;
                for (const char *p = l->up; *p; p++) {
                    dg += isdigit((unsigned char)*p) != 0;
                    other += isalpha((unsigned char)*p) != 0;
                }
                phone_last = dg >= 7 && other == 0;
            }
            f[26] = inner_num && !(first & addrish);
            f[27] = phone_last;
            f[28] = !(first & addrish);
            f[29] = !(last & addrish);
            f[30] = plain >= 2;
            size_t ll = strlen(l->up);
            f[31] = ll && l->up[ll - 1] == '.';
            f[32] = (size_t)j + 1 < d->n && !(after & addrish);
            f[33] = (size_t)j + 1 < d->n && (after & EX_L_STARTNUM) && !(after & EX_L_CONTACT);
            f[34] = i > 0 && (before & EX_L_STARTNUM) && (before & EX_L_ADDR);
            f[35] = (first & EX_L_STARTNUM) && (first & EX_L_ADDR);
            f[36] = d->has_boxes && (size_t)j + 1 < d->n && medh > 0 &&
                    d->lines[j + 1].y0 - l->y1 > medh;
            f[37] = d->has_boxes && i > 0 && medh > 0 && d->lines[i].y0 - d->lines[i - 1].y1 > medh;
        }
    }
    ex_finish_common(out);
    return 0;
}

/* ---- identifiers (invoice number, PO number) ---------------------------- */

/* Label words of invoice numbers and order numbers in EN DE FR NL ES IT PL,
 * as substrings of the upper-cased line. They only decide which lines offer
 * candidates; which label words mark the value is learned from the hashed
 * words of the label (ex_words_label). */
static const char *const ex_inv_stems[] = {
    "INVOICE", "RECHNUNG", "FACTURE", "FACTUUR", "FACTURA", "FATTURA", "FAKTUR", "BELEG",
    "RECEIPT", "NUMMER", "NUMBER", "NUM\xc3\xa9RO", "NUMERO", "N\xc2\xb0", "N\xc2\xba", "NR",
    "NO.", "NO:", "#", NULL};
static const char *const ex_po_stems[] = {
    "PURCHASE ORDER", "ORDER", "PO ", "PO#", "PO:", "P.O.", "BESTELL", "AUFTRAG", "COMMANDE",
    "PEDIDO", "ORDINE", "ZAM\xc3\x93WIEN", "ZAM\xc3\xb3WIEN", "REFERENTIE", NULL};

static int ex_cand_ident(const ex_doc *d, float medh, ex_cands *out, uint32_t kwflag)
{
    const char *const *stems = kwflag == EX_L_POKW ? ex_po_stems : ex_inv_stems;
    for (size_t li = 0; li < d->n; li++) {
        const ex_line *l = &d->lines[li];
        uint32_t own = l->flags & kwflag, left = l->row_left & kwflag,
                 above = ex_above(d, (int)li) & kwflag;
        int sown = ex_has_stem(l->up, stems);
        int sleft = l->left_near >= 0 && ex_has_stem(d->lines[l->left_near].up, stems);
        int sabove = li > 0 && ex_has_stem(d->lines[li - 1].up, stems);
        if (sown)
            own |= kwflag;
        if (!own && !left && !above && !sleft && !sabove)
            continue;
        const char *up = l->up;
        for (size_t i = 0; up[i];) {
            if (!isalnum((unsigned char)up[i])) {
                i++;
                continue;
            }
            size_t s = i;
            int dig = 0, alpha = 0, slash = 0;
            while (up[i] && (isalnum((unsigned char)up[i]) || strchr("-/_.#", up[i]))) {
                dig += isdigit((unsigned char)up[i]) != 0;
                alpha += isalpha((unsigned char)up[i]) != 0;
                slash += up[i] == '/';
                i++;
            }
            size_t e = i;
            while (e > s && strchr("-/_.#", up[e - 1]))
                e--;
            if (dig == 0 || e - s < 3)
                continue;
            ex_cand *k = ex_push(out, l->text + s, e - s, (int)li);
            if (k == NULL)
                return -1;
            ex_common(d, medh, k);
            float *f = k->f + F_OWN;
            /* the label precedes the value on its line */
            int before = 0;
            for (size_t q = 0; q < s; q++)
                before += isalpha((unsigned char)up[q]) != 0;
            f[0] = own && before > 0;
            f[1] = left != 0;
            f[2] = above != 0;
            f[3] = alpha > 0;
            f[4] = e - s >= 6;
            f[5] = alpha == 0 && slash == 0;
            f[6] = slash >= 2 || (l->flags & EX_L_TIME);
            double v;
            int th;
            f[7] = ex_amount_at(up, s, &v, &th) == (int)(e - s);
            f[8] = (l->flags & (EX_L_CONTACT & ~0u)) && ex_find_word(up, "TEL") != NULL;
            f[9] = (l->flags & EX_L_DATEKW) != 0;
            f[10] = (l->flags & EX_L_INVKW) && (l->flags & EX_L_POKW);
            f[11] = sleft;
            f[12] = sabove;
            f[13] = sown && before > 0;
            f[14] = dig * 2 >= (int)(e - s);
            if (ex_words_label(out, k, d, (int)li, s) != 0 ||
                ex_words_line(out, k, d, (long)li - 1, EX_R_ABOVE) != 0)
                return -1;
        }
    }
    ex_finish_common(out);
    return 0;
}

/* ---- currency ----------------------------------------------------------- */

static int ex_cand_currency(const ex_doc *d, float medh, ex_cands *out)
{
    static const char *const code[] = {"MYR", "USD", "EUR", "GBP", "SGD", "CHF", "JPY", "INR", "PLN"};
    static const char *const tok[][3] = {{"RM", "MYR", NULL}, {"$", "USD", NULL},
                                         {"€", "EUR", NULL},  {"£", "GBP", NULL},
                                         {"SGD", "S$", NULL}, {"CHF", NULL, NULL},
                                         {"JPY", "¥", NULL},  {"INR", "₹", "RS"},
                                         {"PLN", "Z\xc5\x81", "Z\xc5\x82"}};
    for (int c = 0; c < 9; c++) {
        int count = 0, first = -1, iso = 0, ontotal = 0;
        for (size_t li = 0; li < d->n; li++) {
            for (int t = 0; t < 3 && tok[c][t]; t++) {
                const char *up = d->lines[li].up;
                const char *p = isalpha((unsigned char)tok[c][t][0]) ? ex_find_word(up, tok[c][t])
                                                                      : strstr(up, tok[c][t]);
                if (p == NULL)
                    continue;
                count++;
                iso |= strlen(tok[c][t]) == 3 && isalpha((unsigned char)tok[c][t][0]);
                ontotal |= (d->lines[li].flags & (EX_L_TOTAL | EX_L_GRAND)) != 0;
                if (first < 0)
                    first = (int)li;
            }
        }
        if (count == 0)
            continue;
        ex_cand *k = ex_push(out, code[c], 3, first);
        if (k == NULL)
            return -1;
        ex_common(d, medh, k);
        float *f = k->f + F_OWN;
        f[0] = iso;
        f[1] = count >= 2;
        f[2] = count >= 5;
        f[3] = ontotal;
        f[4 + (c < 4 ? c : 4)] = 1;
    }
    ex_finish_common(out);
    return 0;
}

int ex_candidates(const ex_doc *d, int field, ex_cands *out)
{
    for (size_t i = 0; i < out->n; i++)
        free(out->c[i].text);
    out->n = 0;
    out->ntok = 0;
    if (d->n == 0)
        return 0;
    float medh = d->median_height;
    switch (field) {
    case EX_COMPANY: return ex_cand_company(d, medh, out);
    case EX_DATE: return ex_cand_dates(d, medh, out);
    case EX_ADDRESS: return ex_cand_address(d, medh, out);
    case EX_TOTAL: return ex_cand_totals(d, medh, out);
    case EX_INVOICE_NUMBER: return ex_cand_ident(d, medh, out, EX_L_INVKW);
    case EX_PO_NUMBER: return ex_cand_ident(d, medh, out, EX_L_POKW);
    case EX_CURRENCY: return ex_cand_currency(d, medh, out);
    default: return 0;
    }
}
