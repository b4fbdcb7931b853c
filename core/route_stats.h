/* A route's counters on their way out of the process: flag counts, the
 * periodic flush of route and plugin counters into the state store (for
 * `backplane report`, later /metrics), and the summary in the route's final
 * log line. Called from the route's source thread. */
#ifndef BP_CORE_ROUTE_STATS_H
#define BP_CORE_ROUTE_STATS_H

#include "runtime.h"

/* The parts of one route that keep counters (borrowed; NULL entries are
 * skipped). transforms[w * n_chain + t] as the runtime lays them out. */
typedef struct {
    const char *route;
    bp_metrics *metrics;
    bp_instance *source;
    bp_instance *const *transforms;
    size_t n_chain;
    int workers;
    bp_instance *const *sinks;
    size_t n_sinks;
    bp_instance *dlq;
    /* The site's lookup connectors, shared by every route: stored under
     * route "" (any route's flush may take their counters; each growth is
     * stored once). Not in the route's summary. */
    bp_instance *const *lookups;
    size_t n_lookups;
} bp_route_parts;

/* Longest flag name counted whole, and most distinct flags counted per route:
 * beyond either the flag is not counted, the route counter
 * flags_not_counted grows and one warning names the first such flag. */
#define BP_ROUTE_FLAG_NAME_MAX 128
#define BP_ROUTE_FLAGS_MAX 1024

/* Counts each flag env carries ("flags" extension, comma-separated) as the
 * route counter flag.NAME in m. Any thread. */
void bp_route_stats_count_flags(bp_metrics *m, const char *route, const bp_envelope *env);

/* Adds what the route's counters and its plugins' counters gained (and the
 * gauges set) since the last flush to the state store. On failure what was
 * taken is given back: the next flush stores it. A crash loses at most the
 * counts since the last flush, never records. */
bp_status bp_route_stats_flush(bp_state *st, const bp_route_parts *p);

/* "in: records_in=5; set#1: records_changed=5; out: records_out=5": every
 * counter and gauge of the route's plugins in this process, per stage (the
 * workers of a transform summed); "" when there is none. Caller frees; NULL
 * when out of memory. */
char *bp_route_stats_summary(const bp_route_parts *p);

/* The cycle figures of delivered records (issue 22), as route counters in m
 * (histogram.h buckets): "cycle.automated.bK" / "cycle.reviewed.bK" (arrival
 * to write-back; reviewed: a person decided it) with ".sum_us", and for
 * reviewed records "wait.bK" / "wait.sum_us" (parked to write-back: the wait
 * for a person). Items with failed_sink, or without an arrival time, are not
 * counted. Any thread. */
struct bp_item;
void bp_route_stats_cycles(bp_metrics *m, const struct bp_item *items, size_t n);

/* bp_route_stats_cycles for one record delivered outside the pipeline (a
 * person's decision, a replay): stored at once, since the route's periodic
 * flush may have ended with its source. BP_OK or BP_ERR_IO. */
bp_status bp_route_stats_cycle_store(bp_state *st, const char *route,
                                     const struct bp_item *item);

/* One write call's duration at sink (route counters "sink_write.SINK.bK"
 * and ".sum_us"), for backplane_sink_write_seconds. Any thread. */
void bp_route_stats_sink_write(bp_metrics *m, const char *sink, int64_t us);

#endif
