/* Durations as counts per bucket, kept as ordinary route counters so they
 * reach the state store with the others (route_stats.h) and outlive a run:
 * bucket k holds durations in (2^((k-1)/4), 2^(k/4)] microseconds (k = 0:
 * up to 1 µs), i.e. four buckets per doubling, at most 19 % wide; the last
 * one holds everything longer (2^(175/4) µs is about 176 days). From them
 * `report` reads medians and percentiles (within a bucket's width) and
 * /metrics a Prometheus histogram whose bounds are every eighth bucket's
 * (powers of 4 µs), so its counts are exact. Header-only; any thread. */
#ifndef BP_CORE_HISTOGRAM_H
#define BP_CORE_HISTOGRAM_H

#include <math.h>
#include <stdint.h>

#define BP_HIST_BUCKETS 176

/* The bucket of a duration of us microseconds. */
static inline int bp_hist_bucket(int64_t us)
{
    if (us <= 1)
        return 0;
    int k = (int)ceil(4.0 * log2((double)us) - 1e-9);
    return k < 0 ? 0 : k >= BP_HIST_BUCKETS ? BP_HIST_BUCKETS - 1 : k;
}

/* Bucket k's upper bound in microseconds. */
static inline double bp_hist_upper_us(int k)
{
    return exp2((double)k / 4.0);
}

/* The q-quantile (0 < q < 1) of counts[BP_HIST_BUCKETS] in microseconds,
 * interpolated geometrically inside its bucket; -1 when there is no count. */
static inline double bp_hist_quantile_us(const int64_t *counts, double q)
{
    int64_t total = 0;
    for (int k = 0; k < BP_HIST_BUCKETS; k++)
        total += counts[k];
    if (total <= 0)
        return -1;
    double rank = q * (double)total, seen = 0;
    for (int k = 0; k < BP_HIST_BUCKETS; k++) {
        if (counts[k] == 0)
            continue;
        if (seen + (double)counts[k] >= rank) {
            double lo = k == 0 ? 0.5 : bp_hist_upper_us(k - 1), hi = bp_hist_upper_us(k);
            double f = ((rank - seen) / (double)counts[k]);
            return lo * pow(hi / lo, f);
        }
        seen += (double)counts[k];
    }
    return bp_hist_upper_us(BP_HIST_BUCKETS - 1);
}

#endif
