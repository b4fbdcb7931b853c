/* Unit tests for the predicate language (core/predicate.c, docs/predicates.md).
 * Error messages and columns are asserted word for word: site-file authors see
 * them, and other tools may match on them. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/envelope.h>
#include <backplane/predicate.h>

#include "tap.h"

/* Compiles and evaluates text; -1 when it does not compile (reported as a
 * TAP comment so the failing CHECK shows why). */
static int ev(const bp_envelope *env, const char *text)
{
    bp_predicate *p = NULL;
    int col = 0;
    char *msg = NULL;
    if (bp_predicate_compile(text, &p, &col, &msg) != BP_OK) {
        printf("# compile failed: %s: col %d: %s\n", text, col, msg ? msg : "(null)");
        free(msg);
        return -1;
    }
    int r = bp_predicate_eval(p, env);
    bp_predicate_free(p);
    return r;
}

/* The error message for text ("" when it compiles, "NOMEM" or "STATUS" for
 * unexpected results); *col gets the column. */
static char err_buf[512];
static const char *perr(const char *text, int *col)
{
    bp_predicate *p = NULL;
    char *msg = NULL;
    *col = -1;
    bp_status st = bp_predicate_compile(text, &p, col, &msg);
    if (st == BP_OK) {
        bp_predicate_free(p);
        strcpy(err_buf, "");
    } else if (st != BP_ERR_PARSE || p != NULL || msg == NULL) {
        strcpy(err_buf, "STATUS");
    } else {
        snprintf(err_buf, sizeof err_buf, "%s", msg);
    }
    free(msg);
    return err_buf;
}

static bp_envelope *make_env(const char *confidence, const char *flags)
{
    bp_envelope *env = bp_envelope_new();
    if (env == NULL)
        return NULL;
    bp_envelope_set_attr(env, "id", "e-1");
    bp_envelope_set_attr(env, "source", "/test");
    bp_envelope_set_attr(env, "type", "invoice.received");
    bp_envelope_set_attr(env, "subject", "invoice-42");
    if (confidence != NULL)
        bp_envelope_set0_ext(env, "confidence", cJSON_CreateString(confidence));
    if (flags != NULL)
        bp_envelope_set0_ext(env, "flags", cJSON_CreateString(flags));
    bp_envelope_set0_ext(env, "spaced", cJSON_CreateString(" a  b\tc ,d,,e "));
    bp_envelope_set0_ext(env, "priority", cJSON_CreateNumber(3));
    bp_envelope_set0_ext(env, "urgent", cJSON_CreateBool(1));
    bp_envelope_set0_ext(env, "score", cJSON_CreateString("abc"));
    bp_envelope_set0_data(env, cJSON_Parse(
        "{\"total\": 12000, \"currency\": \"EUR\", \"vendor\": \"ACME Corp\","
        " \"po_number\": \"PO-1\", \"zero\": 0, \"neg\": -2.5, \"ok\": true,"
        " \"off\": false, \"nothing\": null, \"amount_str\": \"100\","
        " \"items\": [{\"sku\": \"A1\", \"qty\": 2}, {\"sku\": \"B2\", \"qty\": 5}],"
        " \"tags\": [\"urgent\", \"eu\", 7, true, null],"
        " \"meta\": {\"region\": \"eu\", \"tier\": 1},"
        " \"empty\": \"\", \"file\": \"scan.pdf\", \"nofile\": \"scanpdf\","
        " \"quote\": \"it's\", \"say\": \"say \\\"hi\\\"\", \"accent\": \"\\u00e9t\\u00e9\","
        " \"emoji\": \"\\ud83d\\ude00\", \"pair\": [\"urgent\", \"eu\"]}"));
    return env;
}

static void test_header_examples(void)
{
    bp_envelope *env = make_env("0.8", "po_mismatch,possible_duplicate");
    const char *ex1 = "confidence < 0.85 or flags has 'po_mismatch'";
    CHECK_INT(ev(env, ex1), 1);
    CHECK_INT(ev(env, "data.currency in ['EUR', 'USD'] and not (data.total > 10000)"), 0);
    CHECK_INT(ev(env, "data.currency in ['EUR', 'USD'] and not (data.total > 20000)"), 1);
    CHECK_INT(ev(env, "exists data.po_number and data.vendor matches '^ACME( |$)'"), 1);
    bp_envelope_unref(env);

    env = make_env("0.9", "possible_duplicate");
    CHECK_INT(ev(env, ex1), 0);
    bp_envelope_unref(env);
    env = make_env("0.9", "po_mismatch");
    CHECK_INT(ev(env, ex1), 1);
    bp_envelope_unref(env);
    env = make_env(NULL, NULL);
    CHECK_INT(ev(env, ex1), 0);
    bp_envelope_unref(env);
}

static void test_precedence(void)
{
    bp_envelope *env = make_env("0.8", "x");
    CHECK_INT(ev(env, "true or false and false"), 1);
    CHECK_INT(ev(env, "(true or false) and false"), 0);
    CHECK_INT(ev(env, "false and false or true"), 1);
    CHECK_INT(ev(env, "false and (false or true)"), 0);
    CHECK_INT(ev(env, "not false and false"), 0);
    CHECK_INT(ev(env, "not (false and false)"), 1);
    CHECK_INT(ev(env, "false or not false"), 1);
    CHECK_INT(ev(env, "not not true"), 1);
    CHECK_INT(ev(env, "not true or true"), 1);
    CHECK_INT(ev(env, "not data.total == 12000"), 0);
    CHECK_INT(ev(env, "not data.total == 1 and data.ok"), 1);
    CHECK_INT(ev(env, "not(data.ok)"), 0);
    CHECK_INT(ev(env, "((((true))))"), 1);
    CHECK_INT(ev(env, "(data.total > 1) == true"), 1);
    CHECK_INT(ev(env, "(data.total > 1) != (data.total < 1)"), 1);
    CHECK_INT(ev(env, "true and\n\tdata.ok\r\n"), 1);
    bp_envelope_unref(env);
}

static void test_numbers(void)
{
    bp_envelope *env = make_env("0.8", "x");
    CHECK_INT(ev(env, "data.total == 12000"), 1);
    CHECK_INT(ev(env, "data.total == 12000.0"), 1);
    CHECK_INT(ev(env, "data.total == 1.2e4"), 1);
    CHECK_INT(ev(env, "data.total != 12000"), 0);
    CHECK_INT(ev(env, "data.total != 1"), 1);
    CHECK_INT(ev(env, "data.total < 12001"), 1);
    CHECK_INT(ev(env, "data.total < 12000"), 0);
    CHECK_INT(ev(env, "data.total <= 12000"), 1);
    CHECK_INT(ev(env, "data.total > 11999.5"), 1);
    CHECK_INT(ev(env, "data.total > 12000"), 0);
    CHECK_INT(ev(env, "data.total >= 12000"), 1);
    CHECK_INT(ev(env, "data.total>=12000"), 1);
    CHECK_INT(ev(env, "data.neg < -2"), 1);
    CHECK_INT(ev(env, "data.neg == -2.5"), 1);
    CHECK_INT(ev(env, "data.zero == 0"), 1);
    CHECK_INT(ev(env, "data.zero == -0"), 1);
    CHECK_INT(ev(env, "1 < 2"), 1);
    CHECK_INT(ev(env, "data.items[1].qty == 5"), 1);
    CHECK_INT(ev(env, "data.items[0].qty > data.items[1].qty"), 0);
    CHECK_INT(ev(env, "priority == 3"), 1);
    CHECK_INT(ev(env, "priority >= 3 and priority <= 3"), 1);
    bp_envelope_unref(env);
}

static void test_strings(void)
{
    bp_envelope *env = make_env("0.8", "x");
    CHECK_INT(ev(env, "data.currency == 'EUR'"), 1);
    CHECK_INT(ev(env, "data.currency == \"EUR\""), 1);
    CHECK_INT(ev(env, "data.currency == 'eur'"), 0);
    CHECK_INT(ev(env, "data.currency != 'USD'"), 1);
    CHECK_INT(ev(env, "data.currency < 'F'"), 1);
    CHECK_INT(ev(env, "data.currency <= 'EUR'"), 1);
    CHECK_INT(ev(env, "data.currency > 'EU'"), 1);
    CHECK_INT(ev(env, "data.currency >= 'EUS'"), 0);
    CHECK_INT(ev(env, "'B' < 'a'"), 1);        /* bytewise, not case-folded */
    CHECK_INT(ev(env, "'ab' < 'abc'"), 1);
    CHECK_INT(ev(env, "'' < 'a'"), 1);
    CHECK_INT(ev(env, "data.empty == ''"), 1);
    CHECK_INT(ev(env, "'10' < '9'"), 1);       /* two strings: bytewise */
    CHECK_INT(ev(env, "subject == 'invoice-42'"), 1);
    CHECK_INT(ev(env, "data.items[0].sku == 'A1'"), 1);
    CHECK_INT(ev(env, "data.quote == 'it\\'s'"), 1);
    CHECK_INT(ev(env, "data.quote == \"it's\""), 1);
    CHECK_INT(ev(env, "data.say == \"say \\\"hi\\\"\""), 1);
    CHECK_INT(ev(env, "data.say == 'say \"hi\"'"), 1);
    CHECK_INT(ev(env, "data.accent == '\\u00e9t\\u00E9'"), 1);
    CHECK_INT(ev(env, "data.accent == '\xc3\xa9t\xc3\xa9'"), 1);
    CHECK_INT(ev(env, "data.emoji == '\\ud83d\\ude00'"), 1);
    CHECK_INT(ev(env, "'a\\\\b' == 'a\\\\b'"), 1);
    CHECK_INT(ev(env, "'a\\nb' != 'anb'"), 1);
    bp_envelope_unref(env);
}

static void test_bools_null(void)
{
    bp_envelope *env = make_env("0.8", "x");
    CHECK_INT(ev(env, "data.ok == true"), 1);
    CHECK_INT(ev(env, "data.ok == false"), 0);
    CHECK_INT(ev(env, "data.ok != false"), 1);
    CHECK_INT(ev(env, "data.off == false"), 1);
    CHECK_INT(ev(env, "data.ok < true"), 0);
    CHECK_INT(ev(env, "data.ok > false"), 0);
    CHECK_INT(ev(env, "data.ok"), 1);
    CHECK_INT(ev(env, "data.off"), 0);
    CHECK_INT(ev(env, "urgent"), 1);
    CHECK_INT(ev(env, "urgent == true"), 1);
    CHECK_INT(ev(env, "true"), 1);
    CHECK_INT(ev(env, "false"), 0);
    CHECK_INT(ev(env, "null"), 0);
    CHECK_INT(ev(env, "'true'"), 0);
    CHECK_INT(ev(env, "1"), 0);
    CHECK_INT(ev(env, "data.total"), 0);       /* only a boolean true holds */
    CHECK_INT(ev(env, "data.nothing == null"), 1);
    CHECK_INT(ev(env, "data.nothing != null"), 0);
    CHECK_INT(ev(env, "null == null"), 1);
    CHECK_INT(ev(env, "data.nothing < 1"), 0);
    CHECK_INT(ev(env, "data.nothing == 0"), 0);
    CHECK_INT(ev(env, "data.nothing == ''"), 0);
    CHECK_INT(ev(env, "data.zero == false"), 0);
    CHECK_INT(ev(env, "TRUE"), 0);             /* keywords are lowercase: a path */
    bp_envelope_unref(env);
}

static void test_numeric_strings(void)
{
    bp_envelope *env = make_env("0.8", "x");
    CHECK_INT(ev(env, "confidence < 0.85"), 1);
    CHECK_INT(ev(env, "confidence > 0.85"), 0);
    CHECK_INT(ev(env, "confidence >= 0.8"), 1);
    CHECK_INT(ev(env, "confidence == 0.8"), 1);
    CHECK_INT(ev(env, "confidence != 0.8"), 0);
    CHECK_INT(ev(env, "0.85 > confidence"), 1);
    CHECK_INT(ev(env, "confidence == '0.8'"), 1);
    CHECK_INT(ev(env, "confidence == '0.80'"), 0); /* string vs string: bytewise */
    CHECK_INT(ev(env, "confidence < '0.85'"), 1);
    CHECK_INT(ev(env, "data.amount_str == 100"), 1);
    CHECK_INT(ev(env, "data.amount_str > 99.5"), 1);
    CHECK_INT(ev(env, "data.total == '12000'"), 1);
    CHECK_INT(ev(env, "data.total == '1.2e4'"), 1);
    CHECK_INT(ev(env, "data.total < '12001'"), 1);
    CHECK_INT(ev(env, "'+3' == 3"), 1);
    CHECK_INT(ev(env, "' 3' == 3"), 0);        /* not entirely a number */
    CHECK_INT(ev(env, "'3 ' == 3"), 0);
    CHECK_INT(ev(env, "'0x10' == 16"), 0);
    CHECK_INT(ev(env, "'inf' > 1"), 0);
    CHECK_INT(ev(env, "'nan' != 1"), 1);
    CHECK_INT(ev(env, "'' == 0"), 0);
    CHECK_INT(ev(env, "'1.' == 1"), 0);
    bp_envelope_unref(env);

    env = make_env("0.9", "x");
    CHECK_INT(ev(env, "confidence < 0.85"), 0);
    bp_envelope_unref(env);
}

static void test_mismatch_missing(void)
{
    bp_envelope *env = make_env("0.8", "x");
    /* Type mismatches: false for ordering and ==, true for !=. */
    CHECK_INT(ev(env, "data.currency < 5"), 0);
    CHECK_INT(ev(env, "data.currency > 5"), 0);
    CHECK_INT(ev(env, "data.currency == 5"), 0);
    CHECK_INT(ev(env, "data.currency != 5"), 1);
    CHECK_INT(ev(env, "score < 1"), 0);
    CHECK_INT(ev(env, "score >= 1"), 0);
    CHECK_INT(ev(env, "score == 1"), 0);
    CHECK_INT(ev(env, "score != 1"), 1);
    CHECK_INT(ev(env, "data.total == 'x'"), 0);
    CHECK_INT(ev(env, "data.ok == 1"), 0);
    CHECK_INT(ev(env, "data.ok == 'true'"), 0);
    CHECK_INT(ev(env, "data.meta == 1"), 0);
    CHECK_INT(ev(env, "data.meta != 1"), 1);
    CHECK_INT(ev(env, "data.meta > 1"), 0);
    CHECK_INT(ev(env, "data.tags < 1"), 0);
    CHECK_INT(ev(env, "data.pair == ['urgent', 'eu']"), 1);
    CHECK_INT(ev(env, "data.pair == ['urgent']"), 0);
    CHECK_INT(ev(env, "data.pair != ['eu', 'urgent']"), 1);
    CHECK_INT(ev(env, "data.pair == data.pair"), 1);
    CHECK_INT(ev(env, "data.meta == data.meta"), 1);
    CHECK_INT(ev(env, "[1, 'a'] == [1, 'a']"), 1);
    CHECK_INT(ev(env, "[] == []"), 1);

    /* Missing fields: every comparison false, != true. */
    CHECK_INT(ev(env, "data.missing == 1"), 0);
    CHECK_INT(ev(env, "data.missing != 1"), 1);
    CHECK_INT(ev(env, "data.missing < 1"), 0);
    CHECK_INT(ev(env, "data.missing <= 1"), 0);
    CHECK_INT(ev(env, "data.missing > 1"), 0);
    CHECK_INT(ev(env, "data.missing >= 1"), 0);
    CHECK_INT(ev(env, "data.missing == null"), 0);
    CHECK_INT(ev(env, "data.missing != null"), 1);
    CHECK_INT(ev(env, "data.missing == data.other"), 0);
    CHECK_INT(ev(env, "data.missing != data.other"), 1);
    CHECK_INT(ev(env, "data.missing in [null, 1]"), 0);
    CHECK_INT(ev(env, "1 in data.missing"), 0);
    CHECK_INT(ev(env, "data.missing has 'x'"), 0);
    CHECK_INT(ev(env, "data.tags has data.missing"), 0);
    CHECK_INT(ev(env, "data.missing matches '.*'"), 0);
    CHECK_INT(ev(env, "data.missing"), 0);
    CHECK_INT(ev(env, "not data.missing"), 1);
    CHECK_INT(ev(env, "data.items[2].qty > 0"), 0);
    CHECK_INT(ev(env, "data.total.x == 1"), 0);
    CHECK_INT(ev(env, "nosuchext == 'a'"), 0);

    /* exists */
    CHECK_INT(ev(env, "exists data.total"), 1);
    CHECK_INT(ev(env, "data.total exists"), 1);
    CHECK_INT(ev(env, "exists data.missing"), 0);
    CHECK_INT(ev(env, "data.missing exists"), 0);
    CHECK_INT(ev(env, "not exists data.missing"), 1);
    CHECK_INT(ev(env, "exists data.nothing"), 1);   /* null is present */
    CHECK_INT(ev(env, "exists subject"), 1);
    CHECK_INT(ev(env, "exists dataschema"), 0);
    CHECK_INT(ev(env, "exists confidence"), 1);
    CHECK_INT(ev(env, "exists data.items[1].sku"), 1);
    CHECK_INT(ev(env, "exists data.items[2]"), 0);
    CHECK_INT(ev(env, "exists data.total and data.total exists"), 1);
    bp_envelope_unref(env);

    env = make_env(NULL, NULL);
    CHECK_INT(ev(env, "confidence < 0.85"), 0);
    CHECK_INT(ev(env, "exists confidence"), 0);
    bp_envelope_unref(env);
}

static void test_in_has(void)
{
    bp_envelope *env = make_env("0.8", "po_mismatch,possible_duplicate");
    CHECK_INT(ev(env, "data.currency in ['EUR', 'USD']"), 1);
    CHECK_INT(ev(env, "data.currency in['USD','EUR']"), 1);
    CHECK_INT(ev(env, "data.currency in ['USD']"), 0);
    CHECK_INT(ev(env, "data.currency in []"), 0);
    CHECK_INT(ev(env, "data.total in [1, 12000]"), 1);
    CHECK_INT(ev(env, "data.total in ['12000']"), 1);
    CHECK_INT(ev(env, "confidence in [0.5, 0.8]"), 1);
    CHECK_INT(ev(env, "data.nothing in [null]"), 1);
    CHECK_INT(ev(env, "data.ok in [false, true]"), 1);
    CHECK_INT(ev(env, "'eu' in data.tags"), 1);
    CHECK_INT(ev(env, "7 in data.tags"), 1);
    CHECK_INT(ev(env, "'x' in data.tags"), 0);
    CHECK_INT(ev(env, "'region' in data.meta"), 1);
    CHECK_INT(ev(env, "'eu' in data.meta"), 0);     /* keys, not values */
    CHECK_INT(ev(env, "data.meta.region in data.tags"), 1);
    CHECK_INT(ev(env, "'EUR' in data.currency"), 0); /* "in" needs a list or object */
    CHECK_INT(ev(env, "not data.currency in ['USD']"), 1);

    /* has: arrays */
    CHECK_INT(ev(env, "data.tags has 'eu'"), 1);
    CHECK_INT(ev(env, "data.tags has 'EU'"), 0);
    CHECK_INT(ev(env, "data.tags has 7"), 1);
    CHECK_INT(ev(env, "data.tags has '7'"), 1);
    CHECK_INT(ev(env, "data.tags has true"), 1);
    CHECK_INT(ev(env, "data.tags has null"), 1);
    CHECK_INT(ev(env, "data.tags has 8"), 0);
    CHECK_INT(ev(env, "data.pair has data.meta.region"), 1);
    CHECK_INT(ev(env, "['a', 'b'] has 'b'"), 1);
    /* has: objects */
    CHECK_INT(ev(env, "data.meta has 'tier'"), 1);
    CHECK_INT(ev(env, "data.meta has 'eu'"), 0);
    CHECK_INT(ev(env, "data has 'vendor'"), 1);
    /* has: comma/space separated strings */
    CHECK_INT(ev(env, "flags has 'po_mismatch'"), 1);
    CHECK_INT(ev(env, "flags has 'possible_duplicate'"), 1);
    CHECK_INT(ev(env, "flags has 'po'"), 0);
    CHECK_INT(ev(env, "flags has 'mismatch'"), 0);
    CHECK_INT(ev(env, "flags has ''"), 0);
    CHECK_INT(ev(env, "not flags has 'duplicate'"), 1);
    CHECK_INT(ev(env, "spaced has 'a'"), 1);
    CHECK_INT(ev(env, "spaced has 'b'"), 1);
    CHECK_INT(ev(env, "spaced has 'c'"), 1);
    CHECK_INT(ev(env, "spaced has 'd'"), 1);
    CHECK_INT(ev(env, "spaced has 'e'"), 1);
    CHECK_INT(ev(env, "spaced has 'a b'"), 0);
    CHECK_INT(ev(env, "data.currency has 'EUR'"), 1);
    CHECK_INT(ev(env, "data.total has 1"), 0);
    bp_envelope_unref(env);

    env = make_env("0.8", "1, 22 ,333");
    CHECK_INT(ev(env, "flags has 22"), 1);
    CHECK_INT(ev(env, "flags has '22'"), 1);
    CHECK_INT(ev(env, "flags has 2"), 0);
    CHECK_INT(ev(env, "flags has 333.0"), 1);
    bp_envelope_unref(env);
}

static void test_matches(void)
{
    bp_envelope *env = make_env("0.8", "x");
    CHECK_INT(ev(env, "data.vendor matches 'ACME'"), 1);
    CHECK_INT(ev(env, "data.vendor matches '^ACME( |$)'"), 1);
    CHECK_INT(ev(env, "data.vendor matches '^Corp'"), 0);
    CHECK_INT(ev(env, "data.vendor matches 'Corp$'"), 1);
    CHECK_INT(ev(env, "data.vendor matches '^ACME$'"), 0);
    CHECK_INT(ev(env, "data.vendor matches 'acme'"), 0);
    CHECK_INT(ev(env, "data.vendor matches '[Aa][Cc][Mm][Ee]'"), 1);
    CHECK_INT(ev(env, "subject matches '^invoice-[0-9]+$'"), 1);
    CHECK_INT(ev(env, "subject matches \"^invoice-[[:digit:]]{2}$\""), 1);
    CHECK_INT(ev(env, "data.file matches '\\.pdf$'"), 1);   /* \. kept for the regex */
    CHECK_INT(ev(env, "data.nofile matches '\\.pdf$'"), 0);
    CHECK_INT(ev(env, "data.nofile matches '.pdf$'"), 1);
    CHECK_INT(ev(env, "data.file matches '\\\\.pdf$'"), 1);
    CHECK_INT(ev(env, "data.total matches '1'"), 0);        /* numbers do not match */
    CHECK_INT(ev(env, "confidence matches '^0\\.[0-9]+$'"), 1);
    CHECK_INT(ev(env, "data.empty matches ''"), 1);
    CHECK_INT(ev(env, "not data.vendor matches 'x' and data.ok"), 1);
    /* imatches: the same, ignoring case (REG_ICASE). */
    CHECK_INT(ev(env, "data.vendor imatches 'acme'"), 1);
    CHECK_INT(ev(env, "data.vendor imatches '^acme corp$'"), 1);
    CHECK_INT(ev(env, "data.vendor imatches '^ACME CORP$'"), 1);
    CHECK_INT(ev(env, "data.vendor imatches '^acme$'"), 0);
    CHECK_INT(ev(env, "data.vendor imatches '[[:lower:]]+ corp'"), 1);
    CHECK_INT(ev(env, "subject imatches '^INVOICE-[0-9]+$'"), 1);
    CHECK_INT(ev(env, "data.total imatches '1'"), 0);       /* still only strings */
    CHECK_INT(ev(env, "data.missing imatches '.*'"), 0);
    CHECK_INT(ev(env, "not data.vendor imatches 'ACME' or data.ok"), 1);
    CHECK_INT(ev(env, "data.vendor matches 'acme' or data.vendor imatches 'ACME'"), 1);
    bp_envelope_unref(env);
}

static void check_err(const char *text, const char *want, int want_col)
{
    int col;
    const char *got = perr(text, &col);
    if (!CHECK_STR(got, want) || !CHECK_INT(col, want_col))
        printf("#   predicate: %s\n", text);
}

static void test_errors(void)
{
    check_err("", "empty predicate", 1);
    check_err("  \n\t ", "empty predicate", 1);
    check_err("data.total ==", "unexpected end of input", 14);
    check_err("data.total == ", "unexpected end of input", 15);
    check_err("not", "unexpected end of input", 4);
    check_err("data.ok and", "unexpected end of input", 12);
    check_err("(", "unexpected end of input", 2);
    check_err("data.total == )", "unexpected token ')'", 15);
    check_err("and data.ok", "unexpected token 'and'", 1);
    check_err("data.ok or or true", "unexpected token 'or'", 12);
    check_err("data.x == <= 1", "unexpected token '<='", 11);
    check_err("data.x in ,", "unexpected token ','", 11);
    check_err("data.x == ]", "unexpected token ']'", 11);
    check_err("data.x == matches", "unexpected token 'matches'", 11);
    check_err("(data.total == 1", "expected ')'", 17);
    check_err("(data.total == 1 data.x", "expected ')'", 18);
    check_err("((true)", "expected ')'", 8);
    check_err("data.total == 1)", "unexpected token ')'", 16);
    check_err("true)", "unexpected token ')'", 5);
    check_err("data.total == 1 data.x", "unexpected input after the end of the predicate", 17);
    check_err("data.total > 1 AND true", "unexpected input after the end of the predicate", 16);
    check_err("data.a == data.b == data.c", "unexpected input after the end of the predicate", 18);
    check_err("true [", "unexpected input after the end of the predicate", 6);
    check_err("subject == 'abc", "unterminated string", 12);
    check_err("subject == \"abc'", "unterminated string", 12);
    check_err("subject == 'abc\\'", "unterminated string", 12);
    check_err("'", "unterminated string", 1);
    check_err("subject == 'a\\u12'", "invalid unicode escape", 14);
    check_err("subject == 'a\\u0000'", "invalid unicode escape", 14);
    check_err("subject == '\\ud800'", "invalid unicode escape", 13);
    check_err("subject == '\\ud800\\u0041'", "invalid unicode escape", 13);
    check_err("subject == '\\udc00'", "invalid unicode escape", 13);
    check_err("a = 1", "unexpected character '=', use '=='", 3);
    check_err("a == 1 && b", "unexpected character '&', use 'and'", 8);
    check_err("a || b", "unexpected character '|', use 'or'", 3);
    check_err("!a", "unexpected character '!', use 'not' or '!='", 1);
    check_err("a == @", "unexpected character '@'", 6);
    check_err("a == - 1", "unexpected character '-'", 6);
    check_err("a == \x01", "unexpected byte 0x01", 6);
    check_err("a == \xc3\xa9", "unexpected byte 0xc3", 6);
    check_err("a == 1.2.3", "invalid number", 6);
    check_err("a == 1.", "invalid number", 6);
    check_err("a == 1e", "invalid number", 6);
    check_err("a == 12abc", "invalid number", 6);
    check_err("a == .5", "unexpected character '.'", 6);
    check_err("data. == 1", "expected a name after '.'", 6);
    check_err("data.", "expected a name after '.'", 6);
    check_err("data.1x == 1", "expected a name after '.'", 6);
    check_err("data.items[x] == 1", "expected an index after '['", 12);
    check_err("data.items[-1] == 1", "expected an index after '['", 12);
    check_err("data.items[0 == 1", "expected ']' after the index", 13);
    check_err("data.items[1234567890] == 1", "index too large", 12);
    check_err("data.items[123456789] == 1", "", 0);
    check_err("data.items[0]..x", "expected a name after '.'", 15);
    check_err("x matches data.y", "expected a string after 'matches'", 11);
    check_err("x matches", "expected a string after 'matches'", 10);
    check_err("x matches 5", "expected a string after 'matches'", 11);
    check_err("x imatches data.y", "expected a string after 'imatches'", 12);
    check_err("x imatches '(a*)+'", "invalid regular expression: nested repetition of an "
              "expression that can match the empty string", 12);
    check_err("5 exists", "expected a path before 'exists'", 1);
    check_err("(a) exists", "expected a path before 'exists'", 1);
    check_err("exists 5", "expected a path after 'exists'", 8);
    check_err("exists", "expected a path after 'exists'", 7);
    check_err("exists (a)", "expected a path after 'exists'", 8);
    check_err("a in [1, b]", "expected a literal in the list", 10);
    check_err("a in [1,]", "expected a literal in the list", 9);
    check_err("a in [1,", "expected a literal in the list", 9);
    check_err("a in [[1]]", "expected a literal in the list", 7);
    check_err("a in [1 2]", "expected ',' or ']'", 9);
    check_err("a in [1", "expected ',' or ']'", 8);
    check_err("a in ['x", "unterminated string", 7);
}

static void test_regex_errors(void)
{
    /* regerror's wording belongs to the C library: ask it for the expected text. */
    regex_t re;
    char want[300], rebuf[200];
    int rc = regcomp(&re, "(ab", REG_EXTENDED | REG_NOSUB);
    CHECK(rc != 0);
    regerror(rc, &re, rebuf, sizeof rebuf);
    snprintf(want, sizeof want, "invalid regular expression: %s", rebuf);
    check_err("data.vendor matches '(ab' or true", want, 21);

    rc = regcomp(&re, "a[b", REG_EXTENDED | REG_NOSUB);
    CHECK(rc != 0);
    regerror(rc, &re, rebuf, sizeof rebuf);
    snprintf(want, sizeof want, "invalid regular expression: %s", rebuf);
    check_err("x == 1 and y matches \"a[b\"", want, 22);

    check_err("x matches '(a)\\1'",
              "invalid regular expression: back-references are not supported", 11);
    check_err("x matches '(a{100}){200}'", "invalid regular expression: too large", 11);
    check_err("x matches '((((((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+'",
              "invalid regular expression: too large", 11);
    check_err("x matches 'x{2001}'", "invalid regular expression: too large", 11);
    check_err("x matches 'x{2000}'", "", 0);
    check_err("x matches '(ab|cd){200,}y{1196}'", "", 0);        /* 4 * 201 + 1196 */
    check_err("x matches '(ab|cd){200,}y{1197}'", "invalid regular expression: too large", 11);
    check_err("x == 1 or x matches '(a*)+'",
              "invalid regular expression: nested repetition of an expression that can "
              "match the empty string", 21);
    check_err("x matches '((a*|b*|c*)+){30}'",
              "invalid regular expression: nested repetition of an expression that can "
              "match the empty string", 11);
    check_err("x matches 'a*{2}'",
              "invalid regular expression: nested repetition of an expression that can "
              "match the empty string", 11);
    check_err("x matches '^foo(.*)?$'", "", 0);
    check_err("x matches '(a*)*b**'", "", 0);
    check_err("x matches '(a?){10}(\\s*,[0-9]+)+'", "", 0);
    check_err("x matches '[0-9]{4}-[0-9]{2}-[0-9]{2}T(a|b){1,3}'", "", 0);
    check_err("x matches '[(((]\\(\\)[[:alpha:]]'", "", 0);

    char deep[200];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "x matches '");
    for (int i = 0; i < 65; i++)
        deep[n++] = '(';
    deep[n++] = 'a';
    for (int i = 0; i < 65; i++)
        deep[n++] = ')';
    deep[n++] = '\'';
    deep[n] = '\0';
    check_err(deep, "invalid regular expression: groups nested deeper than 64", 11);
}

static char *repeat(const char *prefix, const char *unit, int times, const char *suffix)
{
    size_t len = strlen(prefix) + strlen(unit) * (size_t)times + strlen(suffix) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return NULL;
    strcpy(s, prefix);
    size_t o = strlen(prefix);
    for (int i = 0; i < times; i++) {
        memcpy(s + o, unit, strlen(unit));
        o += strlen(unit);
    }
    strcpy(s + o, suffix);
    return s;
}

static void test_limits(void)
{
    bp_envelope *env = make_env("0.8", "x");

    /* 64 nested parentheses compile; the 65th is refused at its column. */
    char *open = repeat("", "(", 64, "true");
    char *ok = repeat(open, ")", 64, "");
    CHECK_INT(ev(env, ok), 1);
    free(open);
    free(ok);
    open = repeat("", "(", 65, "true");
    char *bad = repeat(open, ")", 65, "");
    check_err(bad, "nesting deeper than 64", 65);
    free(open);
    free(bad);

    char *nots = repeat("", "not ", 64, "true");
    CHECK_INT(ev(env, nots), 1);
    free(nots);
    nots = repeat("", "not ", 65, "true");
    check_err(nots, "nesting deeper than 64", 257);
    free(nots);
    /* Mixed: 32 "not (" pairs are 64 levels. */
    open = repeat("", "not (", 32, "false");
    ok = repeat(open, ")", 32, "");
    CHECK_INT(ev(env, ok), 0);
    free(open);
    free(ok);
    /* Hostile depth far beyond the limit: refused, not a stack overflow. */
    bad = repeat("", "(", 30000, "");
    check_err(bad, "nesting deeper than 64", 65);
    free(bad);

    /* Long and/or chains are flat, not nested. */
    char *chain = repeat("", "false or ", 6000, "true");
    CHECK_INT(ev(env, chain), 1);
    free(chain);
    chain = repeat("", "data.ok and ", 5000, "data.off");
    CHECK_INT(ev(env, chain), 0);
    free(chain);

    /* Text length. */
    char *text = malloc(65536 + 2);
    memset(text, ' ', 65536);
    memcpy(text, "true", 4);
    text[65536] = '\0';
    CHECK_INT(ev(env, text), 1);
    text[65536] = ' ';
    text[65537] = '\0';
    check_err(text, "predicate longer than 65536 bytes", 65537);
    free(text);

    /* List length: 1024 items, then the 1025th is refused at its column. */
    char *list = repeat("data.total in [", "1, ", 1023, "12000]");
    CHECK_INT(ev(env, list), 1);
    free(list);
    list = repeat("data.total in [", "1, ", 1024, "12000]");
    check_err(list, "list longer than 1024 items", 16 + 3 * 1024);
    free(list);
    bp_envelope_unref(env);
}

static void test_api(void)
{
    bp_predicate *p = NULL;
    int col = 99;
    char *msg = (char *)"unchanged";
    const char *src = "  data.total > 1 ";
    CHECK_INT(bp_predicate_compile(src, &p, &col, &msg), BP_OK);
    CHECK(p != NULL);
    CHECK_INT(col, 0);
    CHECK(msg == NULL);
    CHECK_STR(bp_predicate_text(p), src);
    CHECK_INT(bp_predicate_eval(p, NULL), 0);
    bp_predicate_free(p);
    bp_predicate_free(NULL);
    CHECK(bp_predicate_text(NULL) == NULL);

    /* errcol and errmsg are optional. */
    p = (bp_predicate *)&col;
    CHECK_INT(bp_predicate_compile("a ==", &p, NULL, NULL), BP_ERR_PARSE);
    CHECK(p == NULL);
    CHECK_INT(bp_predicate_compile(NULL, &p, &col, NULL), BP_ERR_INVALID);
    CHECK_INT(bp_predicate_compile("true", NULL, &col, NULL), BP_ERR_INVALID);

    /* One compiled predicate serves many envelopes. */
    CHECK_INT(bp_predicate_compile("confidence < 0.85 or flags has 'po_mismatch'", &p,
                                   &col, NULL), BP_OK);
    bp_envelope *a = make_env("0.5", "x"), *b = make_env("0.95", "y,po_mismatch"),
                *c = make_env("0.95", "y");
    CHECK_INT(bp_predicate_eval(p, a), 1);
    CHECK_INT(bp_predicate_eval(p, b), 1);
    CHECK_INT(bp_predicate_eval(p, c), 0);
    CHECK_INT(bp_predicate_eval(p, a), 1);
    bp_envelope_unref(a);
    bp_envelope_unref(b);
    bp_envelope_unref(c);
    bp_predicate_free(p);
}

/* ---- issue 16 #8 (hardening): a pattern's size is bounded before regcomp.
 * 480 '?' took 10.5 s under the fuzzer; "(a?)*" repeated 480 times 0.6 s
 * plainly. Each limit names the column of the byte that goes over it. */
static void test_regex_limits(void)
{
    char *p = repeat("x matches '", "a?", 480, "'");
    check_err(p, "invalid regular expression: more than 100 repetition operators "
                 "(*, +, ?, {m,n})", 213);
    free(p);
    p = repeat("x matches '", "(a?)*", 480, "'");
    /* the 101st operator is the '?' of the 51st unit: offset 50 * 5 + 2 */
    check_err(p, "invalid regular expression: more than 100 repetition operators "
                 "(*, +, ?, {m,n})", 12 + 252);
    free(p);
    p = repeat("x matches '", "a?", 100, "'");
    check_err(p, "", 0);   /* 100 is fine */
    free(p);
    p = repeat("x matches 'a", "|a", 101, "'");
    check_err(p, "invalid regular expression: more than 100 alternatives ('|')", 12 + 201);
    free(p);
    p = repeat("x matches '", "x", 1025, "'");
    check_err(p, "invalid regular expression: longer than 1024 bytes", 12 + 1024);
    free(p);
    /* An anchor, then epsilon loops: glibc's compile time doubles with each
     * (the fuzzer's timeout artifact: 21 s). At most 8, the 9th is refused. */
    p = repeat("x matches '$", "(a?)*", 9, "'");
    check_err(p, "invalid regular expression: more than 8 repetitions (*, +, {m,}) of an "
                 "expression that can match the empty string", 12 + 1 + 8 * 5 + 4);
    free(p);
    p = repeat("x matches '$", "(a?)*", 8, "'");
    check_err(p, "", 0);
    free(p);
    check_err("x matches '(a|b?)*c(x?)+d(y*){2,}'",
              "invalid regular expression: nested repetition of an expression that can "
              "match the empty string", 11);
    /* Columns count the source text: "\\d" is two bytes there, one in the pattern. */
    p = repeat("x matches '", "\\\\d?", 101, "'");
    check_err(p, "invalid regular expression: more than 100 repetition operators "
                 "(*, +, ?, {m,n})", 12 + 100 * 4 + 3);
    free(p);
}

int main(void)
{
    test_header_examples();
    test_precedence();
    test_numbers();
    test_strings();
    test_bools_null();
    test_numeric_strings();
    test_mismatch_missing();
    test_in_has();
    test_matches();
    test_errors();
    test_regex_errors();
    test_regex_limits();
    test_limits();
    test_api();
    return tap_done();
}
