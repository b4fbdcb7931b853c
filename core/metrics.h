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

#endif
