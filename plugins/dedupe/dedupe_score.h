/* Duplicate scoring of two invoice fingerprints (same normalised vendor), kept
 * apart from the plugin so that it is unit-tested without a host. */
#ifndef BP_DEDUPE_SCORE_H
#define BP_DEDUPE_SCORE_H

#include <stdint.h>

/* What dedupe remembers of an invoice. */
typedef struct {
    const char *invoice;   /* normalised invoice number, "" when unknown */
    int has_amount;
    int64_t amount;        /* NORM_AMOUNT_SCALE units */
    int32_t day;           /* invoice date (or arrival day), days since 1970-01-01 */
} dd_fingerprint;

typedef struct {
    int64_t abs_tol;       /* amount tolerance, NORM_AMOUNT_SCALE units */
    double pct_tol;        /* amount tolerance, percent of the larger amount */
    int32_t window_days;   /* dates further apart are never duplicates */
} dd_params;

/* Weights of the fuzzy score (renormalised over the parts both sides have). */
#define DD_W_INVOICE 0.5
#define DD_W_AMOUNT 0.3
#define DD_W_DATE 0.2

/* Scores b as a duplicate of a. Returns -1 when the dates are outside the
 * window, else a score in [0, 1]: invoice-number similarity, amount (1 when
 * equal, falling to 0.5 at the edge of the tolerance, 0 beyond it) and date
 * closeness, weighted. *exact is 1 when both invoice numbers are present and
 * equal and both amounts are present and equal (the score is then 1). */
double dd_score(const dd_fingerprint *a, const dd_fingerprint *b, const dd_params *p, int *exact);

#endif
