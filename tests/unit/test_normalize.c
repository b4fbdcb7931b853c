/* Normalisation of invoice fields (plugins/common/normalize.c, shared by dedupe
 * and match) and dedupe's duplicate score (plugins/dedupe/dedupe_score.c). */
#include <stdlib.h>

#include "tap.h"
#include "../../plugins/common/normalize.h"
#include "../../plugins/dedupe/dedupe_score.h"

static void vendor(const char *in, const char *want)
{
    char *got = norm_vendor(in, NULL);
    tap_check_str(got, want, in, __FILE__, __LINE__);
    free(got);
}

static void invoice(const char *in, int zeros, const char *want)
{
    char *got = norm_invoice_no(in, "-_/.#:", zeros);
    tap_check_str(got, want, in, __FILE__, __LINE__);
    free(got);
}

static void amount(const char *in, long long want)
{
    int64_t got = -1;
    int ok = norm_amount_str(in, &got);
    tap_check(ok && got == want, in, __FILE__, __LINE__);
    if (!ok || got != want)
        printf("#   got %d/%lld, want %lld\n", ok, (long long)got, want);
}

static void date(const char *in, int day_first, int want_ok, int want_days)
{
    int32_t got = -1;
    int ok = norm_date(in, day_first, &got);
    tap_check(ok == want_ok && (!ok || got == want_days), in, __FILE__, __LINE__);
    if (ok != want_ok || (ok && got != want_days))
        printf("#   got %d/%d, want %d/%d\n", ok, got, want_ok, want_days);
}

/* ---- issue 19: values an ERP can take (table-driven) ---- */

static const struct {
    const char *in;
    int day_first;      /* the document's hint: 1, 0, -1 unknown */
    const char *want;   /* ISO date, or NULL: no date */
} date_cases[] = {
    {"2023-11-13", -1, "2023-11-13"},
    {"13.11.2023", 0, "2023-11-13"},            /* a dotted date is day first, whatever the hint */
    {"04.07.2023", 0, "2023-07-04"},
    {"11/13/2023", 1, "2023-11-13"},            /* 13 cannot be a month */
    {"13/11/2023", 0, "2023-11-13"},
    {"04/05/2023", 1, "2023-05-04"},            /* ambiguous: the hint decides */
    {"04/05/2023", 0, "2023-04-05"},
    {"04/05/2023", -1, "2023-05-04"},           /* no hint: day first */
    {"Invoice date: 31/08/2022", -1, "2022-08-31"},
    {"November 13, 2023", -1, "2023-11-13"},
    {"Nov 13, 2023", -1, "2023-11-13"},
    {"13 Nov 2023", -1, "2023-11-13"},
    {"Dec 28, 2022", -1, "2022-12-28"},
    {"Sept. 27, 2022", -1, "2022-09-27"},
    {"1st March 2023", -1, "2023-03-01"},
    {"13-Nov-2023", -1, "2023-11-13"},
    {"13. November 2023", -1, "2023-11-13"},    /* DE */
    {"4. Juli 2023", -1, "2023-07-04"},
    {"1. März 2023", -1, "2023-03-01"},
    {"15. Dez. 2022", -1, "2022-12-15"},
    {"1er mars 2023", -1, "2023-03-01"},        /* FR */
    {"21 décembre 2022", -1, "2022-12-21"},
    {"3 AOÛT 2022", -1, "2022-08-03"},
    {"12 februari 2023", -1, "2023-02-12"},     /* NL */
    {"5 mei 2023", -1, "2023-05-05"},
    {"7 de octubre de 2023", -1, "2023-10-07"}, /* ES */
    {"23 aprile 2023", -1, "2023-04-23"},       /* IT */
    {"13 listopada 2023", -1, "2023-11-13"},    /* PL, genitive */
    {"2 września 2023", -1, "2023-09-02"},
    {"2023 Nov 13", -1, "2023-11-13"},
    {"Paid on Apr 16, 2023 10:42", -1, "2023-04-16"},
    {"31.02.2023", -1, NULL},
    {"Total 119,00", -1, NULL},
    {"March", -1, NULL},
    {"Invoice 12345", -1, NULL},
};

static void test_dates(void)
{
    for (size_t i = 0; i < sizeof date_cases / sizeof date_cases[0]; i++) {
        int32_t d = 0;
        char iso[11] = "";
        int ok = norm_date_any(date_cases[i].in, date_cases[i].day_first, &d);
        if (ok)
            norm_date_iso(d, iso);
        tap_check_str(ok ? iso : NULL, date_cases[i].want, date_cases[i].in, __FILE__, __LINE__);
    }
    char iso[11];
    CHECK_STR(norm_date_iso(0, iso), "1970-01-01");
    CHECK_STR(norm_date_iso(19787, iso), "2024-03-05");
    CHECK_STR(norm_date_iso(-1, iso), "1969-12-31");
}

static const struct {
    const char *in;
    const char *want;   /* %.15g of the value, or NULL: no amount */
} value_cases[] = {
    {"1.234,56", "1234.56"},
    {"1,234.56", "1234.56"},
    {"1'234.56", "1234.56"},
    {"1 234,56", "1234.56"},
    {"1\xC2\xA0" "234,56 \xE2\x82\xAC", "1234.56"},   /* NBSP thousands, euro after */
    {"Rs 1939", "1939"},
    {"Rs. 1939", "1939"},                            /* the abbreviation's dot is no decimal */
    {"Rs. 1,939.00", "1939"},
    {"\xE2\x82\xAC" "99.00", "99"},
    {"$47.90", "47.9"},
    {"USD 144.00", "144"},
    {"EUR 80,65", "80.65"},
    {"CHF 1'250.05", "1250.05"},
    {"208,13 EUR", "208.13"},
    {"0.10", "0.1"},
    {"1234567.89", "1234567.89"},
    {"199.99", "199.99"},
    {"no amount", NULL},
};

static void test_values(void)
{
    for (size_t i = 0; i < sizeof value_cases / sizeof value_cases[0]; i++) {
        double v = 0;
        char buf[64] = "";
        int ok = norm_amount_value(value_cases[i].in, &v);
        if (ok) {
            /* As cJSON prints a number: the text a sink writes. */
            cJSON *n = cJSON_CreateNumber(v);
            char *t = cJSON_PrintUnformatted(n);
            snprintf(buf, sizeof buf, "%s", t);
            free(t);
            cJSON_Delete(n);
        }
        tap_check_str(ok ? buf : NULL, value_cases[i].want, value_cases[i].in, __FILE__, __LINE__);
    }
}

static const struct {
    const char *in, *context;
    const char *want;
} currency_cases[] = {
    {"EUR 99.00", NULL, "EUR"},
    {"99.00 EUR", NULL, "EUR"},
    {"\xE2\x82\xAC" "99.00", NULL, "EUR"},
    {"$47.90", NULL, "USD"},
    {"US$ 47.90", NULL, "USD"},
    {"A$47.90", NULL, "AUD"},
    {"$47.90", "All amounts in AUD", "AUD"},         /* a bare $ and the document's dollar */
    {"\xC2\xA3" "12.00", NULL, "GBP"},
    {"\xE2\x82\xB9" "1,939", NULL, "INR"},
    {"Rs 1939", NULL, "INR"},
    {"12,50 z\xC5\x82", NULL, "PLN"},
    {"CHF 1'250.05", NULL, "CHF"},
    {"119,00", "Gesamtbetrag 119,00 EUR\nMwSt 19,00 EUR", "EUR"},   /* from context */
    {"119,00", NULL, NULL},
    {"EURO", NULL, NULL},                            /* a word, not the code */
    {"Rsvp", NULL, NULL},
};

static void test_currencies(void)
{
    for (size_t i = 0; i < sizeof currency_cases / sizeof currency_cases[0]; i++)
        tap_check_str(norm_currency(currency_cases[i].in, currency_cases[i].context),
                      currency_cases[i].want, currency_cases[i].in, __FILE__, __LINE__);
}

int main(void)
{
    /* Vendors: case, punctuation, legal forms, "&", "the", Malaysia's "(M)". */
    vendor("Acme Trading Sdn. Bhd.", "acme trading");
    vendor("ACME TRADING SDN BHD", "acme trading");
    vendor("Acme Trading (M) Sdn Bhd", "acme trading");
    vendor("  acme   trading,  ", "acme trading");
    vendor("Müller GmbH", "m\xc3\xbcller");
    vendor("Smith & Sons Ltd", "smith and sons");
    vendor("Smith and Sons Limited", "smith and sons");
    vendor("The Widget Company, Inc.", "widget");
    vendor("O'Brien Plc", "obrien");
    vendor("Carrefour S.A.", "carrefour");
    vendor("Ltd", "");
    vendor("Co", "");
    vendor("", "");
    vendor("Inc Magazine Inc", "inc magazine");
    {
        const char *extra[] = {"trading", NULL};
        char *got = norm_vendor("Acme Trading Sdn Bhd", extra);
        CHECK_STR(got, "acme");
        free(got);
    }

    /* Invoice numbers: spaces, dashes, case, leading zeros per digit run. */
    invoice("INV-0042", 1, "INV42");
    invoice("inv 42", 1, "INV42");
    invoice("INV-0042", 0, "INV0042");
    invoice("2024/0007-01", 1, "202471");
    invoice("000", 1, "0");
    invoice("A-00B-010", 1, "A0B10");
    invoice("  # 12.34  ", 1, "1234");

    /* Amounts: exact decimals in 1/10000 units, both separator conventions. */
    amount("1,234.50", 12345000);
    amount("1.234,50", 12345000);
    amount("1234,5", 12345000);
    amount("1,234", 12340000);
    amount("1.234.567", 12345670000LL);
    amount("RM 12.50", 125000);
    amount("EUR 0.10", 1000);
    amount("-3", -30000);
    amount("0.00005", 1);
    amount("12.34564", 123456);
    CHECK(!norm_amount_str("abc", &(int64_t){0}));
    CHECK(!norm_amount_str("", &(int64_t){0}));
    CHECK(!norm_amount_str("12-3", &(int64_t){0}));
    {
        cJSON *n = cJSON_CreateNumber(1250.1);
        int64_t v = 0;
        CHECK(norm_amount(n, &v) && v == 12501000);
        cJSON_Delete(n);
        char buf[32];
        CHECK_STR(norm_amount_fmt(12501000, buf), "1250.1");
        CHECK_STR(norm_amount_fmt(-500000, buf), "-50");
        CHECK_STR(norm_amount_fmt(1, buf), "0.0001");
        CHECK_STR(norm_amount_fmt(0, buf), "0");
    }
    CHECK(norm_amount_within(10000000, 10004000, 5000, 0));     /* 0.4 within 0.5 */
    CHECK(!norm_amount_within(10000000, 10006000, 5000, 0));
    CHECK(norm_amount_within(10000000, 10100000, 0, 1.0));       /* 1% of 1010 */
    CHECK(!norm_amount_within(10000000, 10200000, 0, 1.0));

    /* Dates: ISO, day-first and month-first, two-digit years, invalid ones. */
    date("1970-01-01", 1, 1, 0);
    date("2024-03-05", 1, 1, 19787);
    date("2024-03-05T10:00:00Z", 1, 1, 19787);
    date("05/03/2024", 1, 1, 19787);
    date("03/05/2024", 0, 1, 19787);
    date("05.03.24", 1, 1, 19787);
    date("5-3-2024", 1, 1, 19787);
    date("2024/03/05", 1, 1, 19787);
    date("2024-02-30", 1, 0, 0);
    date("2023-02-29", 1, 0, 0);
    date("2024-02-29", 1, 1, 19782);
    date("05/03-2024", 1, 0, 0);
    date("yesterday", 1, 0, 0);
    date("2024-03-05x", 1, 0, 0);

    /* Scalars as text: invoice numbers that arrive as JSON numbers. */
    {
        char buf[NORM_TEXT_CAP];
        cJSON *n = cJSON_CreateNumber(42), *t = cJSON_CreateString("INV-1"), *b = cJSON_CreateTrue();
        CHECK_STR(norm_text(n, buf), "42");
        CHECK_STR(norm_text(t, buf), "INV-1");
        CHECK(norm_text(b, buf) == NULL);
        CHECK(norm_text(NULL, buf) == NULL);
        cJSON_Delete(n);
        cJSON_Delete(t);
        cJSON_Delete(b);
    }

    /* Similarity: Levenshtein over the longer length. */
    CHECK(norm_similarity("INV42", "INV42") == 1.0);
    CHECK(norm_similarity("INV42", "INV43") > 0.79 && norm_similarity("INV42", "INV43") < 0.81);
    CHECK(norm_similarity("", "") == 1.0);
    CHECK(norm_similarity("ABC", "") == 0.0);

    /* Scores. */
    dd_params p = {.abs_tol = 10000, .pct_tol = 0, .window_days = 30};
    dd_fingerprint a = {.invoice = "INV42", .has_amount = 1, .amount = 12500000, .day = 19787};
    dd_fingerprint b = a;
    int exact = 0;
    CHECK(dd_score(&a, &b, &p, &exact) == 1.0 && exact == 1);
    b.day = 19787 + 31;
    CHECK(dd_score(&a, &b, &p, &exact) < 0);               /* outside the window */
    b.day = 19787 + 30;
    CHECK(dd_score(&a, &b, &p, &exact) == 1.0 && exact);   /* at its edge: still exact */
    b = a;
    b.amount += 5000;                                        /* 0.50 off, tolerance 1.00 */
    double s = dd_score(&a, &b, &p, &exact);
    CHECK(!exact && s > 0.9 && s < 0.95);
    b.amount = a.amount + 20000;                             /* beyond the tolerance */
    s = dd_score(&a, &b, &p, &exact);
    CHECK(!exact && s < 0.85 && s > 0.65);
    b = a;
    b.invoice = "INV43";                                     /* a typo in the number */
    s = dd_score(&a, &b, &p, &exact);
    CHECK(!exact && s >= 0.85);
    b.day += 20;                                             /* ... and 20 days later */
    s = dd_score(&a, &b, &p, &exact);
    CHECK(!exact && s < 0.85);
    b = a;
    b.invoice = "";
    a.invoice = "";                                          /* receipts without numbers */
    CHECK(dd_score(&a, &b, &p, &exact) == 1.0 && !exact);
    b.has_amount = a.has_amount = 0;                         /* a date alone proves nothing */
    CHECK(dd_score(&a, &b, &p, &exact) == 0);
    a.invoice = "INV42";
    a.has_amount = 1;
    CHECK(dd_score(&a, &b, &p, &exact) < 0.85);              /* one side has nothing */
    test_dates();
    test_values();
    test_currencies();
    return tap_done();
}
