/* Named counters and gauges of one plugin instance or route. Thread-safe. */
#ifndef BP_CORE_METRICS_H
#define BP_CORE_METRICS_H

#include <stdint.h>

typedef struct bp_metrics bp_metrics;

bp_metrics *bp_metrics_new(void);
void bp_metrics_free(bp_metrics *m);
void bp_metrics_add(bp_metrics *m, const char *name, uint64_t delta);
void bp_metrics_set(bp_metrics *m, const char *name, double value);
/* Current value of a counter or gauge; 0 when it was never touched. */
double bp_metrics_get(bp_metrics *m, const char *name);
typedef void (*bp_metrics_fn)(const char *name, double value, int gauge, void *ud);
void bp_metrics_foreach(bp_metrics *m, bp_metrics_fn fn, void *ud);

/* What changed since the last bp_metrics_take(): a counter's growth (delta)
 * or a gauge's current value (delta = value). */
typedef struct {
    char *name;
    double value;
    double delta;
    int gauge;
} bp_metric_change;

/* Takes every counter's growth and every gauge set since the last take into
 * a new array (*out, caller frees with bp_metric_changes_free) and returns
 * its length; no limit on the number of names. Each growth is taken once,
 * also when several threads take from one m. 0 with *out NULL when nothing
 * changed or out of memory (then nothing is taken). Thread-safe. */
size_t bp_metrics_take(bp_metrics *m, bp_metric_change **out);
/* Gives back what bp_metrics_take took from the same m and could not be
 * stored: the next take includes it again. */
void bp_metrics_untake(bp_metrics *m, const bp_metric_change *c, size_t n);
void bp_metric_changes_free(bp_metric_change *c, size_t n);

#endif
