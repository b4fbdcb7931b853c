/* See dedupe_score.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dedupe_score.h"
#include "../common/normalize.h"

double dd_score(const dd_fingerprint *a, const dd_fingerprint *b, const dd_params *p, int *exact)
{
    *exact = 0;
    int32_t dd = a->day > b->day ? a->day - b->day : b->day - a->day;
    if (dd > p->window_days)
        return -1;
    double sum = 0, weight = 0;
    int inv_a = a->invoice[0] != '\0', inv_b = b->invoice[0] != '\0';
    int inv_equal = inv_a && inv_b && strcmp(a->invoice, b->invoice) == 0;
    /* A date alone proves nothing: two invoices of one vendor on one day. */
    if (!(inv_a && inv_b) && !(a->has_amount && b->has_amount))
        return 0;
    if (inv_a || inv_b) {
        /* One side without a number: no evidence either way, but no match. */
        sum += DD_W_INVOICE * (inv_a && inv_b ? norm_similarity(a->invoice, b->invoice) : 0);
        weight += DD_W_INVOICE;
    }
    if (a->has_amount && b->has_amount) {
        int64_t diff = llabs(a->amount - b->amount);
        double s = 0;
        if (diff == 0) {
            s = 1;
        } else if (norm_amount_within(a->amount, b->amount, p->abs_tol, p->pct_tol)) {
            double big = fmax(fabs((double)a->amount), fabs((double)b->amount));
            double tol = fmax((double)p->abs_tol, big * p->pct_tol / 100.0);
            s = tol > 0 ? 1.0 - 0.5 * fmin(1.0, (double)diff / tol) : 0;
        }
        sum += DD_W_AMOUNT * s;
        weight += DD_W_AMOUNT;
    } else if (a->has_amount || b->has_amount) {
        weight += DD_W_AMOUNT;
    }
    sum += DD_W_DATE * (1.0 - (double)dd / (double)(p->window_days + 1));
    weight += DD_W_DATE;
    if (inv_equal && a->has_amount && b->has_amount && a->amount == b->amount) {
        *exact = 1;
        return 1.0;
    }
    return sum / weight;
}
