/* The state store's counters for `backplane report` (and later /metrics):
 * route counters (route_stats), plugin counters and gauges per route and
 * stage (plugin_stats), and the dead-letter store's ledger: every entry
 * added, and how each one left (replayed with its outcome, dropped).
 * All functions: st borrowed; BP_ERR_IO on a SQLite failure; thread-safe
 * (the store's mutex); callbacks run with it held and must not call back
 * into st; a callback returning non-zero stops the walk. */
#ifndef BP_CORE_STATE_STATS_H
#define BP_CORE_STATE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

/* One plugin counter or gauge. stage: the connector's name for a source,
 * sink or dead-letter channel, "PLUGIN#K" for the route's K-th transform;
 * connector: NULL for a transform. value: a counter's growth to add, or a
 * gauge's value to keep. */
typedef struct {
    const char *stage;
    const char *plugin;
    const char *connector;
    const char *name;
    int gauge;
    double value;
} bp_plugin_stat;

/* Adds (counters) or sets (gauges) n stats of route in one transaction. */
bp_status bp_state_plugin_stats_add(bp_state *st, const char *route, const bp_plugin_stat *s,
                                    size_t n);

/* Every stored plugin stat, ordered by route, stage, name; s->value is the
 * counter's total or the gauge's last value. */
bp_status bp_state_plugin_stats_foreach(bp_state *st,
                                        int (*fn)(const char *route, const bp_plugin_stat *s,
                                                  void *ud),
                                        void *ud);

/* Every route counter (records_in, records_out, flag.NAME, review.approved,
 * dlq.added, dlq.replayed.delivered, ...), ordered by route, name. */
bp_status bp_state_route_stats_foreach(bp_state *st,
                                       int (*fn)(const char *route, const char *name,
                                                 int64_t value, void *ud),
                                       void *ud);

/* Removes dead letter seq and counts how it left as the route counter
 * "dlq.OUTCOME", in one transaction. outcome: "replayed.delivered",
 * "replayed.parked", "replayed.dropped", "replayed.failed" (a new entry holds
 * it) or "dropped". BP_ERR_NOT_FOUND when there is no such entry. */
bp_status bp_state_dlq_resolve(bp_state *st, int64_t seq, const char *outcome);

/* Rows of `report`'s sections, each (route, key, count, extra):
 *   BP_REPORT_REVIEW_QUEUE   key NULL, count waiting, extra oldest created_ms
 *   BP_REPORT_CORRECTIONS    key the corrected path, count corrections
 *   BP_REPORT_DEAD_LETTERS   key the stage, count open entries (dlq list)
 * ordered by route, then count descending. */
typedef enum {
    BP_REPORT_REVIEW_QUEUE = 1,
    BP_REPORT_CORRECTIONS = 2,
    BP_REPORT_DEAD_LETTERS = 3,
} bp_report_section;

bp_status bp_state_report_rows(bp_state *st, bp_report_section what,
                               int (*fn)(const char *route, const char *key, int64_t count,
                                         int64_t extra, void *ud),
                               void *ud);

#endif
