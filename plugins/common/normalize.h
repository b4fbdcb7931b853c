/* Normalisation of invoice fields, shared by the dedupe and match plugins
 * (compiled into each; no host calls, no state). Pure functions, safe on any
 * thread. Strings returned are malloc'ed: the caller frees them with free(). */
#ifndef BP_PLUGINS_NORMALIZE_H
#define BP_PLUGINS_NORMALIZE_H

#include <stdint.h>
#include <cjson/cJSON.h>

/* Amounts are compared as integers of 1/10000 of the currency unit, so
 * "12.50", "12,50", "RM 12.5" and the JSON number 12.5 are all 125000. */
#define NORM_AMOUNT_SCALE 10000

/* Vendor name for comparison: ASCII case folded, "&" read as "and",
 * punctuation as space, spaces collapsed, a leading "the" and trailing legal
 * suffixes dropped ("Sdn Bhd", "GmbH", "Ltd", "Inc", "(M)", ...; extra:
 * further suffix words, lower case, NULL-terminated, may be NULL). Bytes
 * above 127 (UTF-8) are kept as they are. Returns "" for a name that is only
 * a suffix or punctuation; NULL when out of memory. */
char *norm_vendor(const char *name, const char *const *extra);

/* Invoice number for comparison: upper case, without the characters in
 * strip (e.g. " -_/.#"), and with the leading zeros of every digit run
 * removed when strip_zeros ("INV-0042" and "inv 42" give "INV42").
 * NULL when out of memory. */
char *norm_invoice_no(const char *no, const char *strip, int strip_zeros);

/* Reads an amount from a JSON number or a string ("1,234.50", "1.234,50",
 * "RM 12.50", "-3"). Returns 1 and *out in NORM_AMOUNT_SCALE units, 0 when v
 * holds no amount. */
int norm_amount(const cJSON *v, int64_t *out);
int norm_amount_str(const char *s, int64_t *out);

/* Formats an amount of NORM_AMOUNT_SCALE units as a decimal without trailing
 * zeros ("-12.5", "3"). buf must hold 32 bytes. Returns buf. */
char *norm_amount_fmt(int64_t v, char *buf);

/* 1 when |a - b| is within the absolute tolerance abs_tol or pct percent of
 * the larger magnitude (both in NORM_AMOUNT_SCALE units / percent). */
int norm_amount_within(int64_t a, int64_t b, int64_t abs_tol, double pct);

/* Reads a calendar date: "2024-03-05" (also with a time after it), "2024/03/05",
 * and day-first "05/03/2024", "05-03-2024", "05.03.24" (month-first when
 * !day_first). Returns 1 and *days since 1970-01-01, 0 when s is no date. */
int norm_date(const char *s, int day_first, int32_t *days);

/* A scalar field as text: a string as it is, a number printed ("%.15g": an
 * invoice number read as 42 is "42"). buf holds NORM_TEXT_CAP bytes and may be
 * used for the result. NULL for anything else (absent, object, bool, ...). */
#define NORM_TEXT_CAP 64
const char *norm_text(const cJSON *v, char *buf);

/* Similarity of two strings, 1 - Levenshtein distance / longer length, in
 * [0, 1]; 1 for two empty strings. Strings beyond 64 bytes are compared on
 * their first 64. */
double norm_similarity(const char *a, const char *b);

/* ---- issue 19 (invoices-read): values an ERP can take ---- */

/* Reads the first date in s: numeric ("13.11.2023", "11/13/2023", "2023-11-13",
 * within other text) or with the month as a word in EN, DE, FR, NL, ES, IT, PL
 * ("13. November 2023", "Nov 13, 2023", "1er mars 2023", "13 listopada 2023").
 * day_first: 1 day/month, 0 month/day, -1 unknown; a part above 12 or a dotted
 * date settles the order whatever the hint; unknown and unsettled reads day
 * first. Returns 1 and *days since 1970-01-01, 0 when s holds no date. */
int norm_date_any(const char *s, int day_first, int32_t *days);

/* days as ISO 8601 "YYYY-MM-DD"; buf holds 11 bytes. Returns buf. */
char *norm_date_iso(int32_t days, char *buf);

/* The ISO 4217 code of the first currency s names, by code ("EUR"), symbol
 * (€ $ £ ₹ ¥ zł, "US$", "A$") or local abbreviation (Rs, RM, Fr., kr);
 * context (the document's text, may be NULL) resolves a bare "$" ("AUD"
 * printed elsewhere) and is searched when s names none. A static string,
 * or NULL. */
const char *norm_currency(const char *s, const char *context);

/* An amount as a double ("1.234,56", "1'234.56", "Rs 1939" -> 1234.56 ...):
 * exact to the cent, printed by cJSON as the same decimal text. 1, or 0 when
 * s holds no amount. */
int norm_amount_value(const char *s, double *out);

#endif
