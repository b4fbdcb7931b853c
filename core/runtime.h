/* The runtime: plugin instances and the routes that move records through them.
 *
 * Each route runs as a pipeline: a source thread polls batches, transform
 * workers run the chain and the review gate, a sink thread delivers to every
 * sink (retry with backoff, dead-letter on reject or when retries run out),
 * and the source thread acks in order. A record is acked only when every sink
 * accepted it, or it was dropped, parked for review or dead-lettered —
 * durably. The parts are listed in runtime_int.h. */
#ifndef BP_CORE_RUNTIME_H
#define BP_CORE_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <backplane/plugin.h>
#include "diag.h"
#include "ledger.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "site.h"
#include "state.h"

typedef struct bp_runtime bp_runtime;

/* A completion of a BP_QUEUED record, reported by write_done. */
typedef struct bp_completion {
    uint64_t ticket;
    bp_status status;
    char *reason;
} bp_completion;

struct bp_instance {
    char *name;                 /* log prefix: "route/connector" */
    char *scope;                /* checkpoint scope */
    char *connector;            /* connector name (NULL for transforms) */
    const bp_plugin_lib *lib;
    void *self;
    int inited, started;
    bp_runtime *rt;
    bp_metrics *metrics;
    pthread_mutex_t mu;         /* guards completions */
    pthread_cond_t cv;
    bp_completion *done;
    size_t n_done, cap_done;
    bp_ledger ledger;           /* ledger sinks (sink thread only) */
    struct bp_wakeup *wakeup;   /* sources: what poll_wakeup signals */
    int metrics_borrowed;       /* a lookup pool's member: metrics are the first one's */
    pthread_mutex_t call_mu;    /* one caller at a time: the route's own thread, or the owner's
                                 * decider resuming a record (control.c); guards ledger too */
    const atomic_int *route_stop; /* its route's stop (host api `stopping`), or NULL (lookups) */
    const int64_t *lease_epoch;   /* its route's lease epoch (issue 20: 0 not leased), or NULL;
                                   * a pointer, as a reload may replace the route set */
};

struct bp_poll_batch {
    bp_instance *src;
    bp_envelope **envs;         /* NULL entry: an invalid record */
    uint64_t *tokens;
    char **reasons;             /* invalid records: why */
    char **raw;                 /* invalid records: the input */
    size_t *raw_len;
    size_t n, cap;
};

struct bp_write_batch {
    bp_envelope **envs;         /* borrowed */
    uint64_t *tickets;
    bp_status *results;
    char **reasons;
    unsigned char *set;         /* 1 when the plugin set a result */
    size_t n;
    char *ckpt_key;             /* wb_commit_checkpoint, committed with the ledger */
    char *ckpt_value;
    char **receipts;            /* wb_set_receipt (ABI 1.3): per record, or NULL */
};

/* The host-API table handed to every plugin. */
extern const struct bp_host_api bp_host_api_table;

/* Creates the runtime for a checked site: opens the state store and inits
 * every instance. keep_going: a route whose instance fails to init is disabled
 * and the others run; otherwise any failure rolls everything back. Errors (one
 * line each, naming the plugin file and the reason) go to d. */
bp_status bp_runtime_new(bp_site *site, bp_registry *reg, int keep_going, bp_runtime **out,
                         bp_diags *d);

/* Starts every route and waits until all finish (sources at end of input) or
 * bp_runtime_request_stop was called and in-flight batches were drained.
 * BP_OK when every route ended cleanly. */
bp_status bp_runtime_run(bp_runtime *rt);

/* Async-signal-safe: asks routes to stop polling and drain. */
void bp_runtime_request_stop(bp_runtime *rt);

/* This process's instance name for leases and its heartbeat row (issue 20):
 * `run --instance NAME`; default HOST:PID. set copies (NULL: the default);
 * get returns a borrowed string. Call set before bp_runtime_run. */
void bp_runtime_set_instance(const char *name);
const char *bp_runtime_instance(void);

/* Metrics of a route ("records_in", "records_out", "dropped", "parked",
 * "dead_lettered", "retries") by route name; NULL when unknown. */
bp_metrics *bp_runtime_route_metrics(bp_runtime *rt, const char *route);

bp_state *bp_runtime_state(bp_runtime *rt);

/* The site file's directory (borrowed, lives as long as rt): where relative
 * paths of the site resolve. Any thread. */
const char *bp_runtime_site_dir(const bp_runtime *rt);

/* Sends one envelope (taken) back into route at stage, where it was
 * dead-lettered (dead-letter replay): a sink's name ("route/erp") delivers to
 * that sink only; a transform's ("route/set#2") resumes at that transform;
 * anything else runs the whole chain and every sink. Returns BP_OK
 * (delivered to every sink), BP_DROP, BP_REVIEW (parked), BP_REJECT (dead-lettered
 * again, as a new entry), BP_ERR_NOT_FOUND (no such route or it is disabled) or
 * BP_ERR_IO (state store failure). */
bp_status bp_runtime_replay(bp_runtime *rt, const char *route, const char *stage,
                            bp_envelope *env);

/* Sends a record a person approved or corrected (env, taken) back into route
 * after the stage that parked it: after that transform, through the rest of the
 * chain, or — parked by the review gate — straight to every sink; the review
 * gate is not applied again. Results as bp_runtime_replay. */
bp_status bp_runtime_resume(bp_runtime *rt, const char *route, const char *stage,
                            bp_envelope *env);

/* Whether the site has an enabled route of that name. Any thread. */
int bp_runtime_has_route(bp_runtime *rt, const char *route);

/* Pauses (the source is no longer polled for records; what is in flight
 * settles) or resumes the route; with pause, returns once no poll is in
 * progress any more (at most 1 s), so no record comes in after it. The
 * caller stores the pause (control.h). BP_OK, BP_ERR_NOT_FOUND. Any thread. */
bp_status bp_runtime_pause_route(bp_runtime *rt, const char *route, int pause);

/* 1 when the route is paused, 0 when not, -1 when there is no such route. */
int bp_runtime_route_paused(bp_runtime *rt, const char *route);

/* With serve 1, bp_runtime_run returns only after bp_runtime_request_stop, not
 * when every route has ended (`run --serve`: the control plane stays, and a
 * reload may start routes again). Call before bp_runtime_run. */
void bp_runtime_set_serve(bp_runtime *rt, int serve);

/* Reloads the site file (SIGHUP; the control API's POST /api/v1/reload).
 * Validates it first as `backplane check` does (plugins load, options valid,
 * one writer per file path); then drains the routes that changed or were
 * removed (their sources stop, records in flight finish and are acked, their
 * instances stop as on a normal stop), starts the new versions and the added
 * routes; the unchanged routes run on untouched. A route changed when its map
 * or a connector it uses differs (after substitution). When a new version
 * fails to start (its init), every route affected is started again in its
 * previous configuration. *msg (malloc'ed, one line for the log and the
 * caller) says what happened:
 *   BP_OK          "reload: restarted a; added c; removed d; unchanged b"
 *                  ("reload: no route changed; unchanged: a, b")
 *   BP_ERR_INVALID "reload refused: /srv/acme/site.yaml:3:5: ...; keeping the running configuration"
 *   BP_ERR_UNSUPPORTED "reload refused: the state file changed ...; keeping the running configuration"
 *                  (the state file, the site name, site-wide settings and
 *                  lookup connectors are read at start only)
 *   BP_ERR_INVALID "reload failed: route 'b': ... init failed: ...; the previous configuration runs again"
 *   BP_STOPPED     "reload refused: the owner is stopping"
 * Any thread but the signal handler and a route's own; one reload at a time. */
bp_status bp_runtime_reload(bp_runtime *rt, char **msg);

/* `checkpoint reset` while the owner runs (POST /api/v1/routes/R/checkpoint/
 * reset): only for a paused route. Its source stops (records in flight settle
 * and are acked), its stored positions are forgotten and audited
 * (bp_checkpoint_reset_source: never the ledger), and a new source instance
 * starts from the configured start; the route stays paused until resumed.
 * *scope (malloc'ed) and *n_deleted say what went. BP_OK; BP_ERR_FULL the
 * route is not paused; BP_ERR_NOT_FOUND no such route; BP_STOPPED the owner
 * is stopping; BP_ERR_IO. Any thread but a route's own. */
bp_status bp_runtime_checkpoint_reset(bp_runtime *rt, const char *route, const char *actor,
                                      char **scope, size_t *n_deleted);

void bp_runtime_free(bp_runtime *rt);

/* Internal: used by host_api.c. */
int bp_runtime_stopping(const bp_runtime *rt);
bp_state *bp_runtime_state_of(const bp_instance *inst);
bp_status bp_runtime_lookup(bp_instance *inst, const char *connector, const char *query,
                            const cJSON *params, cJSON **result, char **errmsg);

#endif
