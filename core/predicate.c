/* Predicates: the `when:` language (grammar and semantics in predicate.h,
 * operator documentation in docs/predicates.md).
 *
 * Compilation is a hand-written tokenizer feeding a recursive-descent parser
 * that builds a small AST. Everything that can be decided once is decided at
 * compile time (literal strings decoded, literal numbers converted, regular
 * expressions compiled) so that evaluation, which runs once per record on hot
 * paths, neither allocates nor re-parses anything in the common case.
 *
 * Hostile input: the text, the nesting depth and list lengths are bounded, and
 * "and"/"or" chains are n-ary nodes rather than left-deep trees, so neither the
 * parser nor the evaluator recurses deeper than a small multiple of 64 frames.
 */
#include <backplane/predicate.h>

#include <ctype.h>
#include <langinfo.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PR_MAX_TEXT 65536     /* bytes of predicate text */
#define PR_MAX_DEPTH 64       /* nested "(" and "not" */
#define PR_MAX_LIST 1024      /* items in a [...] list */
#define PR_MAX_INDEX_DIGITS 9 /* [N] in a path: keeps N well inside int */
#define PR_RE_MAX_DEPTH 64    /* nested groups inside a regular expression */
#define PR_RE_MAX_COST 2000   /* positions after glibc expands {m,n} and + */
#define PR_RE_MAX_LEN 1024    /* bytes of one pattern */
#define PR_RE_MAX_QUANT 100   /* repetition operators in one pattern */
#define PR_RE_MAX_ALT 100     /* '|' in one pattern */
#define PR_RE_MAX_EPS_LOOPS 8 /* '*', '+', {m,} over an expression that can match "" */

/* ---- values ----------------------------------------------------------- */

enum pr_val_kind {
    PV_MISSING, /* path not present */
    PV_OTHER,   /* a cJSON node of no comparable type (raw, invalid) */
    PV_NULL,
    PV_BOOL,
    PV_NUM,
    PV_STR,
    PV_ARRAY,   /* cJSON array (node) */
    PV_OBJECT,  /* cJSON object (node) */
    PV_LIST     /* literal [...] list from the predicate text */
};

enum pr_numstate { PR_NUM_UNKNOWN, PR_NUM_YES, PR_NUM_NO };

struct pr_lit;

/* A value seen by the comparison code. Strings are views (pointer + length)
 * so the tokens of a "flags" string can be compared without copying. */
typedef struct pr_val {
    int kind;
    int numstate;             /* PV_STR: whether str is entirely a number (lazy) */
    int b;                    /* PV_BOOL */
    double num;               /* PV_NUM, or PV_STR's numeric value when PR_NUM_YES */
    const char *str;          /* PV_STR */
    size_t len;
    const cJSON *node;        /* PV_ARRAY, PV_OBJECT */
    const struct pr_lit *list; /* PV_LIST */
    size_t n;
} pr_val;

/* A literal owns its decoded string; v.str points into it. */
typedef struct pr_lit {
    pr_val v;
    char *owned;
} pr_lit;

/* ---- AST ---------------------------------------------------------------- */

enum pr_operand_kind { PO_PATH, PO_LIT, PO_LIST, PO_EXPR };

struct pr_node;

typedef struct pr_operand {
    int kind;
    int col;
    char *path;            /* PO_PATH */
    pr_lit lit;            /* PO_LIT */
    pr_lit *items;         /* PO_LIST */
    size_t n_items;
    struct pr_node *expr;  /* PO_EXPR */
} pr_operand;

enum pr_node_kind { PN_OR, PN_AND, PN_NOT, PN_EXISTS, PN_CMP, PN_TRUTH };

enum pr_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_HAS, OP_MATCHES };

typedef struct pr_node {
    int kind;
    int op;                  /* PN_CMP */
    struct pr_node **kids;   /* PN_OR, PN_AND (n >= 2), PN_NOT (n == 1) */
    size_t n_kids;
    pr_operand lhs;          /* PN_CMP, PN_TRUTH; PN_EXISTS (a path) */
    pr_operand rhs;          /* PN_CMP except OP_MATCHES */
    regex_t re;              /* OP_MATCHES */
    int has_re;
} pr_node;

struct bp_predicate {
    char *text;
    pr_node *root;
};

/* ---- tokens ------------------------------------------------------------- */

enum pr_tok_kind {
    T_EOF, T_ERROR, T_PATH, T_STR, T_NUM,
    T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
    T_AND, T_OR, T_NOT, T_IN, T_HAS, T_MATCHES, T_EXISTS,
    T_TRUE, T_FALSE, T_NULL, T_IMATCHES
};

typedef struct pr_tok {
    int kind;
    size_t start;   /* byte offset of the token */
    size_t end;     /* one past its last byte */
    int col;        /* start + 1, or len + 1 for T_EOF */
} pr_tok;

typedef struct pr_parser {
    const char *text;
    size_t len;
    size_t pos;
    pr_tok tok;
    int depth;
    int failed;
    int nomem;
    int errcol;
    char msg[320];
} pr_parser;

static const struct {
    const char *word;
    int kind;
} pr_keywords[] = {
    {"and", T_AND}, {"or", T_OR}, {"not", T_NOT}, {"in", T_IN},
    {"has", T_HAS}, {"matches", T_MATCHES}, {"imatches", T_IMATCHES}, {"exists", T_EXISTS},
    {"true", T_TRUE}, {"false", T_FALSE}, {"null", T_NULL},
};

__attribute__((format(printf, 3, 4)))
static void pr_fail(pr_parser *p, int col, const char *fmt, ...)
{
    /* The first error is the one the author needs; later ones are fallout. */
    if (p->failed)
        return;
    p->failed = 1;
    p->errcol = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
}

static void pr_nomem(pr_parser *p)
{
    if (!p->failed) {
        p->failed = 1;
        p->nomem = 1;
    }
}

static int pr_is_ident_start(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int pr_is_ident_char(int c)
{
    return pr_is_ident_start(c) || (c >= '0' && c <= '9');
}

static int pr_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int pr_is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int pr_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads \uXXXX at s[i] (s[i] == '\\'); returns the code unit or -1. */
static long pr_read_u4(const char *s, size_t len, size_t i)
{
    if (i + 6 > len || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    long v = 0;
    for (size_t k = i + 2; k < i + 6; k++) {
        int h = pr_hexval((unsigned char)s[k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Validates a \u escape at s[i]; returns its length in bytes (6 or 12, a
 * surrogate pair) and the code point, or 0 when invalid. NUL is refused
 * because the value must stay a C string (regcomp, cJSON). */
static size_t pr_unicode_escape(const char *s, size_t len, size_t i, long *cp)
{
    long hi = pr_read_u4(s, len, i);
    if (hi <= 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return 0;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        long lo = pr_read_u4(s, len, i + 6);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return 0;
        *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        return 12;
    }
    *cp = hi;
    return 6;
}

static void pr_lex_error_char(pr_parser *p, size_t at)
{
    unsigned char c = (unsigned char)p->text[at];
    int col = (int)at + 1;
    /* Hints for operators people bring from other languages. */
    switch (c) {
    case '=': pr_fail(p, col, "unexpected character '=', use '=='"); return;
    case '!': pr_fail(p, col, "unexpected character '!', use 'not' or '!='"); return;
    case '&': pr_fail(p, col, "unexpected character '&', use 'and'"); return;
    case '|': pr_fail(p, col, "unexpected character '|', use 'or'"); return;
    default: break;
    }
    if (c >= 0x21 && c < 0x7f)
        pr_fail(p, col, "unexpected character '%c'", c);
    else
        pr_fail(p, col, "unexpected byte 0x%02x", c);
}

static int pr_lex_string(pr_parser *p, pr_tok *t)
{
    const char *s = p->text;
    char q = s[t->start];
    size_t i = t->start + 1;
    while (i < p->len && s[i] != q) {
        if (s[i] == '\\' && i + 1 < p->len && s[i + 1] == 'u') {
            long cp;
            size_t n = pr_unicode_escape(s, p->len, i, &cp);
            if (n == 0) {
                pr_fail(p, (int)i + 1, "invalid unicode escape");
                return 0;
            }
            i += n;
        } else if (s[i] == '\\' && i + 1 < p->len) {
            i += 2;
        } else {
            i++;
        }
    }
    if (i >= p->len) {
        pr_fail(p, t->col, "unterminated string");
        return 0;
    }
    t->kind = T_STR;
    t->end = i + 1;
    return 1;
}

static int pr_lex_number(pr_parser *p, pr_tok *t)
{
    const char *s = p->text;
    size_t i = t->start;
    if (s[i] == '-')
        i++;
    if (i >= p->len || !pr_is_digit((unsigned char)s[i])) {
        pr_lex_error_char(p, t->start);
        return 0;
    }
    while (i < p->len && pr_is_digit((unsigned char)s[i]))
        i++;
    int ok = 1;
    if (i < p->len && s[i] == '.') {
        i++;
        if (i >= p->len || !pr_is_digit((unsigned char)s[i]))
            ok = 0;
        while (i < p->len && pr_is_digit((unsigned char)s[i]))
            i++;
    }
    if (ok && i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= p->len || !pr_is_digit((unsigned char)s[i]))
            ok = 0;
        while (i < p->len && pr_is_digit((unsigned char)s[i]))
            i++;
    }
    /* "1.2.3", "12abc": reject the whole thing rather than split it. */
    if (ok && i < p->len && (pr_is_ident_char((unsigned char)s[i]) || s[i] == '.'))
        ok = 0;
    if (!ok) {
        pr_fail(p, t->col, "invalid number");
        return 0;
    }
    t->kind = T_NUM;
    t->end = i;
    return 1;
}

static size_t pr_scan_segment(const char *s, size_t len, size_t i)
{
    while (i < len && pr_is_ident_char((unsigned char)s[i]))
        i++;
    return i;
}

static int pr_lex_word(pr_parser *p, pr_tok *t)
{
    const char *s = p->text;
    size_t i = pr_scan_segment(s, p->len, t->start);
    size_t wlen = i - t->start;
    /* A keyword ends the token even when "." or "[" follows, so that
     * "x in['a']" and "not(a)" read naturally. */
    for (size_t k = 0; k < sizeof pr_keywords / sizeof pr_keywords[0]; k++) {
        if (strlen(pr_keywords[k].word) == wlen &&
            memcmp(pr_keywords[k].word, s + t->start, wlen) == 0) {
            t->kind = pr_keywords[k].kind;
            t->end = i;
            return 1;
        }
    }
    for (;;) {
        if (i < p->len && s[i] == '.') {
            if (i + 1 >= p->len || !pr_is_ident_start((unsigned char)s[i + 1])) {
                pr_fail(p, (int)i + 2, "expected a name after '.'");
                return 0;
            }
            i = pr_scan_segment(s, p->len, i + 1);
        } else if (i < p->len && s[i] == '[') {
            size_t j = i + 1;
            if (j >= p->len || !pr_is_digit((unsigned char)s[j])) {
                pr_fail(p, (int)j + 1, "expected an index after '['");
                return 0;
            }
            while (j < p->len && pr_is_digit((unsigned char)s[j]))
                j++;
            if (j - (i + 1) > PR_MAX_INDEX_DIGITS) {
                pr_fail(p, (int)i + 2, "index too large");
                return 0;
            }
            if (j >= p->len || s[j] != ']') {
                pr_fail(p, (int)j + 1, "expected ']' after the index");
                return 0;
            }
            i = j + 1;
        } else {
            break;
        }
    }
    t->kind = T_PATH;
    t->end = i;
    return 1;
}

static int pr_lex_op(pr_parser *p, pr_tok *t)
{
    const char *s = p->text;
    size_t i = t->start;
    int next_eq = i + 1 < p->len && s[i + 1] == '=';
    t->end = i + 1;
    switch (s[i]) {
    case '(': t->kind = T_LPAREN; return 1;
    case ')': t->kind = T_RPAREN; return 1;
    case '[': t->kind = T_LBRACK; return 1;
    case ']': t->kind = T_RBRACK; return 1;
    case ',': t->kind = T_COMMA; return 1;
    case '<': t->kind = next_eq ? T_LE : T_LT; break;
    case '>': t->kind = next_eq ? T_GE : T_GT; break;
    case '=': t->kind = T_EQ; break;
    case '!': t->kind = T_NE; break;
    default:
        pr_lex_error_char(p, i);
        return 0;
    }
    if ((t->kind == T_EQ || t->kind == T_NE) && !next_eq) {
        pr_lex_error_char(p, i);
        return 0;
    }
    if (next_eq)
        t->end = i + 2;
    return 1;
}

/* Reads the next token into p->tok; a lexical error becomes T_ERROR with the
 * error recorded, which every parse function treats as "not what I want". */
static void pr_advance(pr_parser *p)
{
    const char *s = p->text;
    while (p->pos < p->len && pr_is_space((unsigned char)s[p->pos]))
        p->pos++;
    pr_tok t = {T_EOF, p->pos, p->pos, (int)p->pos + 1};
    int ok = 1;
    if (p->pos >= p->len) {
        t.kind = T_EOF;
    } else {
        unsigned char c = (unsigned char)s[p->pos];
        if (c == '\'' || c == '"')
            ok = pr_lex_string(p, &t);
        else if (c == '-' || pr_is_digit(c))
            ok = pr_lex_number(p, &t);
        else if (pr_is_ident_start(c))
            ok = pr_lex_word(p, &t);
        else
            ok = pr_lex_op(p, &t);
    }
    if (!ok) {
        t.kind = T_ERROR;
        t.end = p->len;
    }
    p->tok = t;
    p->pos = t.end;
}

/* ---- literal conversion ------------------------------------------------ */

/* Strict number syntax: [+-]? digits [. digits] [(e|E) [+-]? digits].
 * strtod alone would also take " 1", "0x10", "inf" and "nan". */
static int pr_number_syntax(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t d = i;
    while (i < len && pr_is_digit((unsigned char)s[i]))
        i++;
    if (i == d)
        return 0;
    if (i < len && s[i] == '.') {
        d = ++i;
        while (i < len && pr_is_digit((unsigned char)s[i]))
            i++;
        if (i == d)
            return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        d = i;
        while (i < len && pr_is_digit((unsigned char)s[i]))
            i++;
        if (i == d)
            return 0;
    }
    return i == len;
}

/* Converts a span that passed pr_number_syntax. strtod needs a terminated
 * buffer and honours LC_NUMERIC, so a locale whose decimal point is not '.'
 * gets the '.' swapped (as cJSON does). Short spans use the stack. */
static int pr_to_double(const char *s, size_t len, double *out)
{
    char small[64];
    char *buf = small;
    if (len >= sizeof small) {
        buf = malloc(len + 1);
        if (buf == NULL)
            return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double d = strtod(buf, &end);
    int ok = end == buf + len;
    if (!ok) {
        const char *radix = nl_langinfo(RADIXCHAR);
        if (radix != NULL && radix[0] != '\0' && radix[1] == '\0') {
            char *dot = memchr(buf, '.', len);
            if (dot != NULL)
                *dot = radix[0];
            d = strtod(buf, &end);
            ok = end == buf + len;
        }
    }
    if (buf != small)
        free(buf);
    if (ok)
        *out = d;
    return ok;
}

/* Whether a string value is entirely a number; cached in the value. */
static int pr_str_number(pr_val *v, double *out)
{
    if (v->numstate == PR_NUM_UNKNOWN) {
        double d;
        if (pr_number_syntax(v->str, v->len) && pr_to_double(v->str, v->len, &d)) {
            v->num = d;
            v->numstate = PR_NUM_YES;
        } else {
            v->numstate = PR_NUM_NO;
        }
    }
    *out = v->num;
    return v->numstate == PR_NUM_YES;
}

static void pr_utf8_put(char *out, size_t *o, long cp)
{
    if (cp < 0x80) {
        out[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Decodes a T_STR token (already validated by the lexer). Escapes \\ \' \"
 * \n \t \r and \uXXXX are translated; any other backslash pair is kept as
 * written so regular expressions such as '^\w+\.pdf$' need no doubling. The
 * result is never longer than the source, so one allocation suffices. */
static char *pr_decode_string(const pr_parser *p, const pr_tok *t, size_t *outlen)
{
    const char *s = p->text;
    size_t a = t->start + 1, b = t->end - 1;
    char *out = malloc(b - a + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = a; i < b;) {
        if (s[i] != '\\' || i + 1 >= b) {
            out[o++] = s[i++];
            continue;
        }
        char e = s[i + 1];
        long cp;
        size_t n;
        switch (e) {
        case '\\': case '\'': case '"': out[o++] = e; i += 2; break;
        case 'n': out[o++] = '\n'; i += 2; break;
        case 't': out[o++] = '\t'; i += 2; break;
        case 'r': out[o++] = '\r'; i += 2; break;
        case 'u':
            n = pr_unicode_escape(s, b, i, &cp);
            pr_utf8_put(out, &o, cp);
            i += n;
            break;
        default:
            out[o++] = s[i];
            out[o++] = e;
            i += 2;
            break;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

static void pr_lit_free(pr_lit *l)
{
    free(l->owned);
    l->owned = NULL;
}

/* Converts the current literal token (string, number, true, false, null). */
static int pr_take_literal(pr_parser *p, pr_lit *l)
{
    memset(l, 0, sizeof *l);
    const pr_tok *t = &p->tok;
    switch (t->kind) {
    case T_STR:
        l->owned = pr_decode_string(p, t, &l->v.len);
        if (l->owned == NULL) {
            pr_nomem(p);
            return 0;
        }
        l->v.kind = PV_STR;
        l->v.str = l->owned;
        /* Decided once here, so literals never re-parse during evaluation. */
        l->v.numstate = PR_NUM_UNKNOWN;
        {
            double d;
            (void)pr_str_number(&l->v, &d);
        }
        break;
    case T_NUM:
        if (!pr_to_double(p->text + t->start, t->end - t->start, &l->v.num)) {
            pr_fail(p, t->col, "invalid number");
            return 0;
        }
        l->v.kind = PV_NUM;
        break;
    case T_TRUE: l->v.kind = PV_BOOL; l->v.b = 1; break;
    case T_FALSE: l->v.kind = PV_BOOL; l->v.b = 0; break;
    case T_NULL: l->v.kind = PV_NULL; break;
    default:
        return 0;
    }
    pr_advance(p);
    return 1;
}

static int pr_is_literal_tok(int kind)
{
    return kind == T_STR || kind == T_NUM || kind == T_TRUE || kind == T_FALSE ||
           kind == T_NULL;
}

/* ---- regular expressions ---------------------------------------------- */

/* One element of a regular expression as pr_regex_guard sees it: how many
 * positions it expands to, whether it can match the empty string, and
 * whether it contains an unbounded repetition (*, +, {m,}). */
typedef struct pr_re_elem {
    size_t cost;
    int nullable;
    int loop;
} pr_re_elem;

/* One open group (or the whole pattern) of pr_regex_guard. */
typedef struct pr_re_group {
    size_t cost;          /* positions so far */
    int branch_nullable;  /* every element of the current branch can be empty */
    int nullable;         /* some finished branch can be empty */
    int loop;
    int has_pending;      /* pending: the last element, which a repetition may still modify */
    pr_re_elem pending;
} pr_re_group;

static const char *pr_re_flush(pr_re_group *g)
{
    if (!g->has_pending)
        return NULL;
    g->cost += g->pending.cost;
    g->branch_nullable = g->branch_nullable && g->pending.nullable;
    g->loop = g->loop || g->pending.loop;
    g->has_pending = 0;
    return g->cost > PR_RE_MAX_COST ? "too large" : NULL;
}

static const char *pr_re_push(pr_re_group *g, size_t cost, int nullable, int loop)
{
    const char *err = pr_re_flush(g);
    g->pending.cost = cost;
    g->pending.nullable = nullable;
    g->pending.loop = loop;
    g->has_pending = 1;
    return err;
}

/* Reads a decimal bound of an interval, saturating well above any limit. */
static size_t pr_re_bound(const char *re, size_t *j)
{
    size_t v = 0;
    while (pr_is_digit((unsigned char)re[*j])) {
        if (v <= PR_RE_MAX_COST)
            v = v * 10 + (size_t)(re[*j] - '0');
        (*j)++;
    }
    return v;
}

/* Index after a bracket expression starting at re[i] == '['. */
static size_t pr_re_skip_bracket(const char *re, size_t i)
{
    size_t j = i + 1;
    if (re[j] == '^')
        j++;
    if (re[j] == ']')
        j++;
    while (re[j] != '\0' && re[j] != ']') {
        if (re[j] == '[' && (re[j + 1] == ':' || re[j + 1] == '.' || re[j + 1] == '=')) {
            char kind = re[j + 1];
            size_t k = j + 2;
            while (re[k] != '\0' && !(re[k] == kind && re[k + 1] == ']'))
                k++;
            j = re[k] != '\0' ? k + 2 : k;
        } else {
            j++;
        }
    }
    return re[j] == ']' ? j + 1 : j;
}

/* glibc's regcomp recurses once per nested group, expands bounded repetition
 * by copying ("(a{1000}){1000}" is a million positions, "x+" is "xx*"), and
 * its epsilon-closure work explodes when a repetition wraps an expression
 * that can match the empty string and itself repeats ("((a*|b*)+){30}" takes
 * minutes). So before regcomp sees a pattern, this conservative scan refuses
 * such nesting, groups nested deeper than 64 and patterns that expand to more
 * than PR_RE_MAX_COST positions. Back-references (a GNU extension to ERE) are
 * refused because they make matching exponential. */
static const char *pr_regex_guard(const char *re, size_t *at)
{
    pr_re_group st[PR_RE_MAX_DEPTH + 1];
    int depth = 0;
    size_t eps_loops = 0;
    *at = (size_t)-1;
    const char *err = NULL;
    memset(&st[0], 0, sizeof st[0]);
    st[0].branch_nullable = 1;
    for (size_t i = 0; re[i] != '\0' && err == NULL;) {
        pr_re_group *g = &st[depth];
        char c = re[i];
        if (c == '\\') {
            char e = re[i + 1];
            if (e >= '1' && e <= '9')
                return "back-references are not supported";
            /* GNU anchors match the empty string; other escapes one character. */
            int anchor = e != '\0' && strchr("<>bB`'", e) != NULL;
            err = pr_re_push(g, 1, anchor, 0);
            i += e != '\0' ? 2 : 1;
        } else if (c == '[') {
            err = pr_re_push(g, 1, 0, 0);
            i = pr_re_skip_bracket(re, i);
        } else if (c == '^' || c == '$') {
            err = pr_re_push(g, 1, 1, 0);
            i++;
        } else if (c == '(') {
            if (depth >= PR_RE_MAX_DEPTH)
                return "groups nested deeper than 64";
            err = pr_re_flush(g);
            depth++;
            memset(&st[depth], 0, sizeof st[depth]);
            st[depth].branch_nullable = 1;
            i++;
        } else if (c == ')' && depth > 0) {
            err = pr_re_flush(g);
            int nullable = g->nullable || g->branch_nullable;
            size_t cost = g->cost ? g->cost : 1;
            int loop = g->loop;
            depth--;
            if (err == NULL)
                err = pr_re_push(&st[depth], cost, nullable, loop);
            i++;
        } else if (c == '|') {
            err = pr_re_flush(g);
            g->nullable = g->nullable || g->branch_nullable;
            g->branch_nullable = 1;
            i++;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            size_t j = i + 1, lo = 0, copies = 1;
            int unbounded = 0;
            if (c == '*') {
                unbounded = 1;
            } else if (c == '+') {
                lo = 1;
                copies = 2;
                unbounded = 1;
            } else if (c == '{') {
                lo = pr_re_bound(re, &j);
                size_t hi = lo;
                if (re[j] == ',') {
                    j++;
                    if (pr_is_digit((unsigned char)re[j]))
                        hi = pr_re_bound(re, &j);
                    else
                        unbounded = 1;
                }
                if (re[j] != '}' || !g->has_pending) {
                    /* Not an interval (or nothing to repeat): regcomp decides;
                     * count the brace as one character. */
                    err = pr_re_push(g, 1, 0, 0);
                    i++;
                    continue;
                }
                j++;
                copies = unbounded ? lo + 1 : (hi > lo ? hi : lo);
                if (copies == 0)
                    copies = 1;
            }
            if (!g->has_pending) {
                err = pr_re_push(g, 1, 0, 0); /* a leading '*' is literal */
                i++;
                continue;
            }
            pr_re_elem *e = &g->pending;
            /* '*' and '?' add one loop or branch; copying operators ('+',
             * intervals) over an empty-matching loop are what explode. */
            if ((c == '+' || c == '{') && e->nullable && e->loop)
                return "nested repetition of an expression that can match the empty string";
            /* issue 16 #9 (fuzz_predicate timeout): each unbounded repetition
             * of an expression that can match "" is an epsilon loop, and after
             * an anchor glibc's closure work doubles with each one ("$" then
             * "(a?)*" 20 times: 1 s; 30 of them with other text: 21 s). */
            if (unbounded && e->nullable && ++eps_loops > PR_RE_MAX_EPS_LOOPS) {
                *at = i;
                return "more than 8 repetitions (*, +, {m,}) of an expression that can match "
                       "the empty string";
            }
            if (e->cost > PR_RE_MAX_COST || copies > PR_RE_MAX_COST ||
                e->cost * copies > PR_RE_MAX_COST)
                return "too large";
            e->cost *= copies;
            e->nullable = e->nullable || lo == 0;
            e->loop = e->loop || unbounded;
            i = j;
        } else {
            err = pr_re_push(g, 1, 0, 0);
            i++;
        }
    }
    /* Groups left open are regcomp's error to report; only the size matters. */
    while (err == NULL && depth >= 0) {
        err = pr_re_flush(&st[depth]);
        if (depth > 0 && err == NULL)
            st[depth - 1].cost += st[depth].cost;
        if (err == NULL && st[depth > 0 ? depth - 1 : 0].cost > PR_RE_MAX_COST)
            err = "too large";
        depth--;
    }
    return err;
}

/* ---- issue 16 #8 (hardening): bound a pattern before regcomp ----
 * glibc's regcomp time grows with the number of repetition operators and
 * alternatives even where pr_regex_guard's expansion stays small: 480 '?'
 * took 10.5 s under the fuzzer, "(a?)*" 480 times 0.6 s plainly. No site
 * predicate needs more than these limits. NULL when within them, else the
 * message with *at the pattern offset that went over. */
static const char *pr_regex_limits(const char *re, size_t *at)
{
    size_t quant = 0, alt = 0;
    for (size_t i = 0; re[i] != '\0'; i++) {
        *at = i;
        if (i >= PR_RE_MAX_LEN)
            return "longer than 1024 bytes";
        char c = re[i];
        if (c == '\\') {
            if (re[i + 1] != '\0')
                i++;
        } else if (c == '[') {
            size_t end = pr_re_skip_bracket(re, i);
            if (end > PR_RE_MAX_LEN) {
                *at = PR_RE_MAX_LEN;
                return "longer than 1024 bytes";
            }
            i = end - 1;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (++quant > PR_RE_MAX_QUANT)
                return "more than 100 repetition operators (*, +, ?, {m,n})";
        } else if (c == '|') {
            if (++alt > PR_RE_MAX_ALT)
                return "more than 100 alternatives ('|')";
        }
    }
    return NULL;
}

/* The column in the predicate text of byte off of string token t's decoded
 * value (the inverse of pr_decode_string's walk). */
static int pr_string_col(const pr_parser *p, const pr_tok *t, size_t off)
{
    const char *s = p->text;
    size_t b = t->end - 1, o = 0, i = t->start + 1;
    while (i < b && o < off) {
        if (s[i] != '\\' || i + 1 >= b) {
            o++;
            i++;
        } else if (s[i + 1] == 'u') {
            long cp;
            char tmp[8];
            size_t k = 0, n = pr_unicode_escape(s, b, i, &cp);
            pr_utf8_put(tmp, &k, cp);
            o += k;
            i += n;
        } else {
            o += strchr("\\'\"ntr", s[i + 1]) ? 1 : 2;
            i += 2;
        }
    }
    return (int)i + 1;
}

/* Compiles the string token as the right side of "matches" ("imatches":
 * icase, REG_ICASE). */
static int pr_compile_regex(pr_parser *p, pr_node *n, int icase)
{
    int col = p->tok.col;
    size_t len;
    char *pat = pr_decode_string(p, &p->tok, &len);
    if (pat == NULL) {
        pr_nomem(p);
        return 0;
    }
    size_t at = 0;
    const char *limit = pr_regex_limits(pat, &at);
    if (limit != NULL) {
        free(pat);
        pr_fail(p, pr_string_col(p, &p->tok, at), "invalid regular expression: %s", limit);
        return 0;
    }
    const char *guard = pr_regex_guard(pat, &at);
    if (guard != NULL) {
        free(pat);
        pr_fail(p, at != (size_t)-1 ? pr_string_col(p, &p->tok, at) : col,
                "invalid regular expression: %s", guard);
        return 0;
    }
    int rc = regcomp(&n->re, pat, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    free(pat);
    if (rc != 0) {
        char buf[200];
        regerror(rc, &n->re, buf, sizeof buf);
        if (rc == REG_ESPACE) {
            pr_nomem(p);
            return 0;
        }
        pr_fail(p, col, "invalid regular expression: %s", buf);
        return 0;
    }
    n->has_re = 1;
    pr_advance(p);
    return 1;
}

/* ---- parser ------------------------------------------------------------- */

static void pr_operand_free(pr_operand *o);

static void pr_node_free(pr_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        pr_node_free(n->kids[i]);
    free(n->kids);
    pr_operand_free(&n->lhs);
    pr_operand_free(&n->rhs);
    if (n->has_re)
        regfree(&n->re);
    free(n);
}

static void pr_operand_free(pr_operand *o)
{
    free(o->path);
    pr_lit_free(&o->lit);
    for (size_t i = 0; i < o->n_items; i++)
        pr_lit_free(&o->items[i]);
    free(o->items);
    pr_node_free(o->expr);
    memset(o, 0, sizeof *o);
}

static pr_node *pr_node_new(pr_parser *p, int kind)
{
    pr_node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        pr_nomem(p);
        return NULL;
    }
    n->kind = kind;
    return n;
}

static pr_node *pr_parse_or(pr_parser *p);

static int pr_enter(pr_parser *p)
{
    if (p->depth >= PR_MAX_DEPTH) {
        pr_fail(p, p->tok.col, "nesting deeper than %d", PR_MAX_DEPTH);
        return 0;
    }
    p->depth++;
    return 1;
}

static void pr_unexpected(pr_parser *p)
{
    const pr_tok *t = &p->tok;
    if (t->kind == T_ERROR)
        return; /* already reported by the lexer */
    if (t->kind == T_EOF) {
        pr_fail(p, t->col, "unexpected end of input");
        return;
    }
    /* Only fixed tokens (operators, keywords, punctuation) get here: paths,
     * strings and numbers are operands. */
    pr_fail(p, t->col, "unexpected token '%.*s'", (int)(t->end - t->start),
            p->text + t->start);
}

static int pr_parse_list(pr_parser *p, pr_operand *o)
{
    size_t cap = 0;
    o->kind = PO_LIST;
    pr_advance(p); /* '[' */
    if (p->tok.kind == T_RBRACK) {
        pr_advance(p);
        return 1;
    }
    for (;;) {
        if (!pr_is_literal_tok(p->tok.kind)) {
            if (p->tok.kind != T_ERROR)
                pr_fail(p, p->tok.col, "expected a literal in the list");
            return 0;
        }
        if (o->n_items == PR_MAX_LIST) {
            pr_fail(p, p->tok.col, "list longer than %d items", PR_MAX_LIST);
            return 0;
        }
        if (o->n_items == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            pr_lit *ni = realloc(o->items, ncap * sizeof *ni);
            if (ni == NULL) {
                pr_nomem(p);
                return 0;
            }
            o->items = ni;
            cap = ncap;
        }
        if (!pr_take_literal(p, &o->items[o->n_items]))
            return 0;
        o->n_items++;
        if (p->tok.kind == T_COMMA) {
            pr_advance(p);
        } else if (p->tok.kind == T_RBRACK) {
            pr_advance(p);
            return 1;
        } else {
            if (p->tok.kind != T_ERROR)
                pr_fail(p, p->tok.col, "expected ',' or ']'");
            return 0;
        }
    }
}

static int pr_parse_operand(pr_parser *p, pr_operand *o)
{
    o->col = p->tok.col;
    switch (p->tok.kind) {
    case T_PATH:
        o->kind = PO_PATH;
        o->path = strndup(p->text + p->tok.start, p->tok.end - p->tok.start);
        if (o->path == NULL) {
            pr_nomem(p);
            return 0;
        }
        pr_advance(p);
        return 1;
    case T_STR: case T_NUM: case T_TRUE: case T_FALSE: case T_NULL:
        o->kind = PO_LIT;
        return pr_take_literal(p, &o->lit);
    case T_LBRACK:
        return pr_parse_list(p, o);
    case T_LPAREN:
        if (!pr_enter(p))
            return 0;
        pr_advance(p);
        o->kind = PO_EXPR;
        o->expr = pr_parse_or(p);
        if (o->expr == NULL)
            return 0;
        if (p->tok.kind != T_RPAREN) {
            if (p->tok.kind != T_ERROR)
                pr_fail(p, p->tok.col, "expected ')'");
            return 0;
        }
        p->depth--;
        pr_advance(p);
        return 1;
    default:
        pr_unexpected(p);
        return 0;
    }
}

static int pr_tok_op(int kind)
{
    switch (kind) {
    case T_EQ: return OP_EQ;
    case T_NE: return OP_NE;
    case T_LT: return OP_LT;
    case T_LE: return OP_LE;
    case T_GT: return OP_GT;
    case T_GE: return OP_GE;
    case T_IN: return OP_IN;
    case T_HAS: return OP_HAS;
    case T_MATCHES: return OP_MATCHES;
    case T_IMATCHES: return OP_MATCHES;   /* the same operator, compiled with REG_ICASE */
    default: return -1;
    }
}

static pr_node *pr_parse_cmp(pr_parser *p)
{
    pr_node *n = pr_node_new(p, PN_TRUTH);
    if (n == NULL)
        return NULL;
    if (!pr_parse_operand(p, &n->lhs)) {
        pr_node_free(n);
        return NULL;
    }
    int op = pr_tok_op(p->tok.kind);
    if (op == OP_MATCHES) {
        int icase = p->tok.kind == T_IMATCHES;
        n->kind = PN_CMP;
        n->op = op;
        pr_advance(p);
        if (p->tok.kind != T_STR) {
            if (p->tok.kind != T_ERROR)
                pr_fail(p, p->tok.col, "expected a string after '%s'", icase ? "imatches" : "matches");
            pr_node_free(n);
            return NULL;
        }
        if (!pr_compile_regex(p, n, icase)) {
            pr_node_free(n);
            return NULL;
        }
    } else if (op >= 0) {
        n->kind = PN_CMP;
        n->op = op;
        pr_advance(p);
        if (!pr_parse_operand(p, &n->rhs)) {
            pr_node_free(n);
            return NULL;
        }
    } else if (p->tok.kind == T_EXISTS) {
        if (n->lhs.kind != PO_PATH) {
            pr_fail(p, n->lhs.col, "expected a path before 'exists'");
            pr_node_free(n);
            return NULL;
        }
        n->kind = PN_EXISTS;
        pr_advance(p);
    }
    return n;
}

static pr_node *pr_parse_not(pr_parser *p)
{
    if (p->tok.kind == T_NOT) {
        if (!pr_enter(p))
            return NULL;
        pr_advance(p);
        pr_node *n = pr_node_new(p, PN_NOT);
        if (n == NULL)
            return NULL;
        n->kids = malloc(sizeof *n->kids);
        if (n->kids == NULL) {
            pr_nomem(p);
            pr_node_free(n);
            return NULL;
        }
        n->kids[0] = pr_parse_not(p);
        if (n->kids[0] == NULL) {
            pr_node_free(n);
            return NULL;
        }
        n->n_kids = 1;
        p->depth--;
        return n;
    }
    if (p->tok.kind == T_EXISTS) {
        pr_advance(p);
        if (p->tok.kind != T_PATH) {
            if (p->tok.kind != T_ERROR)
                pr_fail(p, p->tok.col, "expected a path after 'exists'");
            return NULL;
        }
        pr_node *n = pr_node_new(p, PN_EXISTS);
        if (n == NULL)
            return NULL;
        if (!pr_parse_operand(p, &n->lhs)) {
            pr_node_free(n);
            return NULL;
        }
        return n;
    }
    return pr_parse_cmp(p);
}

/* and/or chains: one n-ary node, so a long chain costs no recursion. */
static pr_node *pr_parse_chain(pr_parser *p, int tok_kind, int node_kind,
                               pr_node *(*sub)(pr_parser *))
{
    pr_node *first = sub(p);
    if (first == NULL || p->tok.kind != tok_kind)
        return first;
    pr_node *n = pr_node_new(p, node_kind);
    if (n == NULL) {
        pr_node_free(first);
        return NULL;
    }
    size_t cap = 4;
    n->kids = malloc(cap * sizeof *n->kids);
    if (n->kids == NULL) {
        pr_nomem(p);
        pr_node_free(first);
        pr_node_free(n);
        return NULL;
    }
    n->kids[n->n_kids++] = first;
    while (p->tok.kind == tok_kind) {
        pr_advance(p);
        pr_node *k = sub(p);
        if (k == NULL) {
            pr_node_free(n);
            return NULL;
        }
        if (n->n_kids == cap) {
            pr_node **nk = realloc(n->kids, cap * 2 * sizeof *nk);
            if (nk == NULL) {
                pr_nomem(p);
                pr_node_free(k);
                pr_node_free(n);
                return NULL;
            }
            n->kids = nk;
            cap *= 2;
        }
        n->kids[n->n_kids++] = k;
    }
    return n;
}

static pr_node *pr_parse_and(pr_parser *p)
{
    return pr_parse_chain(p, T_AND, PN_AND, pr_parse_not);
}

static pr_node *pr_parse_or(pr_parser *p)
{
    return pr_parse_chain(p, T_OR, PN_OR, pr_parse_and);
}

bp_status bp_predicate_compile(const char *text, bp_predicate **out,
                               int *errcol, char **errmsg)
{
    if (out != NULL)
        *out = NULL;
    if (errcol != NULL)
        *errcol = 0;
    if (errmsg != NULL)
        *errmsg = NULL;
    if (text == NULL || out == NULL)
        return BP_ERR_INVALID;

    pr_parser p;
    memset(&p, 0, sizeof p);
    p.text = text;
    /* strnlen: do not walk a hostile multi-gigabyte string to the end. */
    p.len = strnlen(text, PR_MAX_TEXT + 1);

    pr_node *root = NULL;
    if (p.len > PR_MAX_TEXT) {
        pr_fail(&p, PR_MAX_TEXT + 1, "predicate longer than %d bytes", PR_MAX_TEXT);
    } else {
        pr_advance(&p);
        if (p.tok.kind == T_EOF) {
            pr_fail(&p, 1, "empty predicate");
        } else {
            root = pr_parse_or(&p);
            if (root != NULL && p.tok.kind == T_RPAREN)
                pr_fail(&p, p.tok.col, "unexpected token ')'");
            else if (root != NULL && p.tok.kind != T_EOF && p.tok.kind != T_ERROR)
                pr_fail(&p, p.tok.col, "unexpected input after the end of the predicate");
        }
    }

    bp_predicate *pred = NULL;
    if (!p.failed) {
        pred = malloc(sizeof *pred);
        char *copy = strndup(text, p.len);
        if (pred == NULL || copy == NULL) {
            free(pred);
            free(copy);
            pred = NULL;
            pr_nomem(&p);
        } else {
            pred->text = copy;
            pred->root = root;
        }
    }
    if (p.failed) {
        pr_node_free(root);
        if (p.nomem)
            return BP_ERR_NOMEM;
        if (errcol != NULL)
            *errcol = p.errcol;
        if (errmsg != NULL) {
            *errmsg = strdup(p.msg);
            if (*errmsg == NULL)
                return BP_ERR_NOMEM;
        }
        return BP_ERR_PARSE;
    }
    *out = pred;
    return BP_OK;
}

/* ---- evaluation ---------------------------------------------------------- */

static void pr_val_node(pr_val *v, const cJSON *n)
{
    memset(v, 0, sizeof *v);
    if (n == NULL) {
        v->kind = PV_MISSING;
    } else if (cJSON_IsString(n) && n->valuestring != NULL) {
        v->kind = PV_STR;
        v->str = n->valuestring;
        v->len = strlen(n->valuestring);
    } else if (cJSON_IsNumber(n)) {
        v->kind = PV_NUM;
        v->num = n->valuedouble;
    } else if (cJSON_IsBool(n)) {
        v->kind = PV_BOOL;
        v->b = cJSON_IsTrue(n);
    } else if (cJSON_IsNull(n)) {
        v->kind = PV_NULL;
    } else if (cJSON_IsArray(n)) {
        v->kind = PV_ARRAY;
        v->node = n;
    } else if (cJSON_IsObject(n)) {
        v->kind = PV_OBJECT;
        v->node = n;
    } else {
        v->kind = PV_OTHER;
    }
}

static int pr_eval_node(const pr_node *n, const bp_envelope *env);

static void pr_operand_val(const pr_operand *o, const bp_envelope *env, pr_val *v)
{
    switch (o->kind) {
    case PO_PATH:
        pr_val_node(v, bp_envelope_get0_path(env, o->path));
        break;
    case PO_LIT:
        *v = o->lit.v;
        break;
    case PO_LIST:
        memset(v, 0, sizeof *v);
        v->kind = PV_LIST;
        v->list = o->items;
        v->n = o->n_items;
        break;
    default: /* PO_EXPR */
        memset(v, 0, sizeof *v);
        v->kind = PV_BOOL;
        v->b = pr_eval_node(o->expr, env);
        break;
    }
}

static int pr_eq(pr_val *a, pr_val *b);

/* Literal list against a cJSON array, element by element. List items are
 * scalars, so this never recurses further. */
static int pr_list_eq_array(const pr_val *list, const cJSON *arr)
{
    size_t i = 0;
    for (const cJSON *c = arr->child; c != NULL; c = c->next, i++) {
        if (i >= list->n)
            return 0;
        pr_val cv, lv = list->list[i].v;
        pr_val_node(&cv, c);
        if (!pr_eq(&cv, &lv))
            return 0;
    }
    return i == list->n;
}

static int pr_eq_num_str(double d, pr_val *s)
{
    double sd;
    return pr_str_number(s, &sd) && d == sd;
}

/* "==": missing values and type mismatches are unequal (so "!=" holds). */
static int pr_eq(pr_val *a, pr_val *b)
{
    switch (a->kind) {
    case PV_NUM:
        if (b->kind == PV_NUM)
            return a->num == b->num;
        return b->kind == PV_STR && pr_eq_num_str(a->num, b);
    case PV_STR:
        if (b->kind == PV_STR)
            return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
        return b->kind == PV_NUM && pr_eq_num_str(b->num, a);
    case PV_BOOL:
        return b->kind == PV_BOOL && a->b == b->b;
    case PV_NULL:
        return b->kind == PV_NULL;
    case PV_ARRAY:
        if (b->kind == PV_ARRAY)
            return cJSON_Compare(a->node, b->node, 1);
        return b->kind == PV_LIST && pr_list_eq_array(b, a->node);
    case PV_OBJECT:
        return b->kind == PV_OBJECT && cJSON_Compare(a->node, b->node, 1);
    case PV_LIST:
        if (b->kind == PV_ARRAY)
            return pr_list_eq_array(a, b->node);
        if (b->kind != PV_LIST || a->n != b->n)
            return 0;
        for (size_t i = 0; i < a->n; i++) {
            pr_val x = a->list[i].v, y = b->list[i].v;
            if (!pr_eq(&x, &y))
                return 0;
        }
        return 1;
    default: /* PV_MISSING, PV_OTHER */
        return 0;
    }
}

/* Ordering: *c gets <0, 0, >0. Returns 0 when the pair is not ordered
 * (missing, mismatched types, non-numeric string against a number). */
static int pr_order(pr_val *a, pr_val *b, int *c)
{
    double x, y;
    if (a->kind == PV_STR && b->kind == PV_STR) {
        size_t m = a->len < b->len ? a->len : b->len;
        int r = m ? memcmp(a->str, b->str, m) : 0;
        if (r == 0)
            r = a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
        *c = r;
        return 1;
    }
    /* Otherwise both must be numbers, or one a number and the other a
     * numeric string. */
    if (a->kind == PV_NUM && b->kind == PV_NUM) {
        x = a->num;
        y = b->num;
    } else if (a->kind == PV_NUM && b->kind == PV_STR) {
        x = a->num;
        if (!pr_str_number(b, &y))
            return 0;
    } else if (a->kind == PV_STR && b->kind == PV_NUM) {
        y = b->num;
        if (!pr_str_number(a, &x))
            return 0;
    } else {
        return 0;
    }
    /* NaN (possible from an extension set programmatically) orders nowhere. */
    if (x < y)
        *c = -1;
    else if (x > y)
        *c = 1;
    else if (x == y)
        *c = 0;
    else
        return 0;
    return 1;
}

static int pr_object_has_key(const cJSON *obj, const pr_val *key)
{
    if (key->kind != PV_STR)
        return 0;
    for (const cJSON *c = obj->child; c != NULL; c = c->next)
        if (c->string != NULL && strlen(c->string) == key->len &&
            memcmp(c->string, key->str, key->len) == 0)
            return 1;
    return 0;
}

/* Whether container (list, array, object) holds item; shared by "in" and "has". */
static int pr_contains(pr_val *container, pr_val *item)
{
    if (item->kind == PV_MISSING)
        return 0;
    switch (container->kind) {
    case PV_LIST:
        for (size_t i = 0; i < container->n; i++) {
            pr_val e = container->list[i].v;
            if (pr_eq(item, &e))
                return 1;
        }
        return 0;
    case PV_ARRAY:
        for (const cJSON *c = container->node->child; c != NULL; c = c->next) {
            pr_val e;
            pr_val_node(&e, c);
            if (pr_eq(item, &e))
                return 1;
        }
        return 0;
    case PV_OBJECT:
        return pr_object_has_key(container->node, item);
    default:
        return 0;
    }
}

static int pr_is_flag_sep(char c)
{
    return c == ',' || pr_is_space((unsigned char)c);
}

/* "flags has 'x'": the string's comma/space separated tokens, as views. */
static int pr_tokens_have(const pr_val *s, pr_val *item)
{
    size_t i = 0;
    while (i < s->len) {
        while (i < s->len && pr_is_flag_sep(s->str[i]))
            i++;
        size_t start = i;
        while (i < s->len && !pr_is_flag_sep(s->str[i]))
            i++;
        if (i > start) {
            pr_val tok;
            memset(&tok, 0, sizeof tok);
            tok.kind = PV_STR;
            tok.str = s->str + start;
            tok.len = i - start;
            if (pr_eq(&tok, item))
                return 1;
        }
    }
    return 0;
}

static int pr_eval_cmp(const pr_node *n, const bp_envelope *env)
{
    pr_val a, b;
    int c;
    pr_operand_val(&n->lhs, env, &a);
    if (n->op == OP_MATCHES)
        return a.kind == PV_STR && regexec(&n->re, a.str, 0, NULL, 0) == 0;
    pr_operand_val(&n->rhs, env, &b);
    switch (n->op) {
    case OP_EQ: return pr_eq(&a, &b);
    case OP_NE: return !pr_eq(&a, &b);
    case OP_LT: return pr_order(&a, &b, &c) && c < 0;
    case OP_LE: return pr_order(&a, &b, &c) && c <= 0;
    case OP_GT: return pr_order(&a, &b, &c) && c > 0;
    case OP_GE: return pr_order(&a, &b, &c) && c >= 0;
    case OP_IN: return pr_contains(&b, &a);
    case OP_HAS:
        if (a.kind == PV_STR)
            return b.kind != PV_MISSING && pr_tokens_have(&a, &b);
        return pr_contains(&a, &b);
    default:
        return 0;
    }
}

static int pr_eval_node(const pr_node *n, const bp_envelope *env)
{
    switch (n->kind) {
    case PN_OR:
        for (size_t i = 0; i < n->n_kids; i++)
            if (pr_eval_node(n->kids[i], env))
                return 1;
        return 0;
    case PN_AND:
        for (size_t i = 0; i < n->n_kids; i++)
            if (!pr_eval_node(n->kids[i], env))
                return 0;
        return 1;
    case PN_NOT:
        return !pr_eval_node(n->kids[0], env);
    case PN_EXISTS:
        return bp_envelope_get0_path(env, n->lhs.path) != NULL;
    case PN_CMP:
        return pr_eval_cmp(n, env);
    default: { /* PN_TRUTH: a bare operand holds only when it is true */
        pr_val v;
        pr_operand_val(&n->lhs, env, &v);
        return v.kind == PV_BOOL && v.b;
    }
    }
}

int bp_predicate_eval(const bp_predicate *pred, const bp_envelope *env)
{
    if (pred == NULL || env == NULL)
        return 0;
    return pr_eval_node(pred->root, env);
}

const char *bp_predicate_text(const bp_predicate *pred)
{
    return pred != NULL ? pred->text : NULL;
}

void bp_predicate_free(bp_predicate *pred)
{
    if (pred == NULL)
        return;
    pr_node_free(pred->root);
    free(pred->text);
    free(pred);
}
