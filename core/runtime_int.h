/* What the runtime's parts share (not for plugins or the CLI):
 *
 *   runtime.c         instances, routes' setup and teardown (one by one), run
 *   reload.c          SIGHUP / POST reload: the changed routes drained and restarted;
 *                     a paused route's checkpoint reset
 *   lookup.c          lookups through another connector (api->lookup)
 *   pipeline.c        a route's threads: source (poll, ack), transform workers
 *   transform_chain.c a record through the transforms, then the review gate
 *   queue.c           the bounded FIFOs between the threads
 *   ack_window.c      what is in flight, and the in-order ack
 *   retry.c           the one retry policy (polls, transforms, sinks)
 *   delivery.c        a batch to one sink: writes, write_done, retries; flights
 *   ledger.c          the write-back ledger of a sink
 *   dead_letter.c     a record that failed for good: channel, else the store
 *   review_gate.c     parking a record for a person
 *   replay.c          a record sent back in: dead-letter replay, review resume
 *   audit.c           lineage of delivered records into the audit log
 *   route_stats.c     a route's counters into the state store (`report`, route_stats.h) */
#ifndef BP_CORE_RUNTIME_INT_H
#define BP_CORE_RUNTIME_INT_H

#include <stdatomic.h>
#include "ack_window.h"
#include "queue.h"
#include "retry.h"
#include "runtime.h"
#include "wakeup.h"

typedef struct bp_lookup_pool bp_lookup_pool;

typedef struct bp_route {
    bp_runtime *rt;
    bp_site_route *cfg;
    const bp_site *site;        /* the site cfg belongs to (a reload may bring a newer one) */
    bp_retry_policy retry;      /* from cfg: errors.retry */
    bp_instance *source;
    bp_instance **transforms;   /* workers × chain: transforms[w * n_chain + t] */
    size_t n_transforms;
    size_t n_chain;             /* transforms per worker */
    int workers;
    bp_instance **sinks;
    size_t n_sinks;
    bp_instance *dlq;           /* errors.dead_letter channel, or NULL */
    pthread_mutex_t dlq_mu;     /* one dead letter at a time through it */
    bp_predicate *review_when;
    bp_metrics *metrics;
    bp_wakeup wakeup;           /* the source's poll_wakeup */
    int disabled;
    int failed;
    atomic_int paused;          /* control API pause: the source is not polled for records */
    atomic_int pause_seen;      /* the source thread is paused (no poll in progress) */
    atomic_int source_down;     /* the last poll said not connected (/ready, issue 22) */
    atomic_int sinks_down;      /* sinks in an outage now (not connected; /ready) */
    atomic_int stats_final;     /* its thread's last stats flush has begun: what a replay or a
                                   decision counts after it is flushed by them (replay.c) */
    atomic_int stop;            /* this route drains: a stop of the runtime, or a reload
                                 * restarting or removing it (route code reads only this) */
    atomic_int ended;           /* its source thread has returned */
    pthread_t thread;
    int running;                /* thread started and not joined yet */
    /* ---- issue 20: a source that cannot be shared, on PostgreSQL state ---- */
    int leased;                 /* runs only while this instance holds its lease */
    atomic_int standby;         /* not (yet) the holder: instances not opened */
    atomic_int lease_lost;      /* the lease was taken over or not renewed in time */
    int64_t lease_epoch;
    char lease_name[160];
} bp_route;

struct bp_runtime {
    bp_site *site;              /* the newest site: the caller's, or a reload's (owned) */
    bp_site **reloaded;         /* every site a reload brought (owned; routes point into them) */
    size_t n_reloaded;
    bp_registry *reg;
    bp_state *state;
    /* The routes, each allocated on its own (route threads hold their pointer).
     * routes_lock: the set changes (reload) only under the write lock; anyone
     * else using a route from outside its threads (replay, resume, the control
     * API) holds the read lock while doing so. */
    bp_route **routes;
    size_t n_routes;
    pthread_rwlock_t routes_lock;
    /* run_mu guards reloading/finishing/serve; run_cv: a route ended or a
     * reload is done (bp_runtime_run waits on it). */
    pthread_mutex_t run_mu;
    pthread_cond_t run_cv;
    int reloading;              /* a reload is draining or starting routes */
    int finishing;              /* bp_runtime_run decided to return: no reload any more */
    int serve;                  /* bp_runtime_run waits for a stop, not for the routes */
    bp_lookup_pool **lookups;   /* one per lookup connector */
    bp_instance **lookup_insts; /* each pool's first instance (its metrics are the pool's) */
    size_t n_lookups;
    int lookup_callers;         /* threads that may look up at once (pool bound) */
    atomic_int stop;
    atomic_uint_fast64_t next_ticket;
};

/* A record on its way to the sinks. */
typedef struct bp_item {
    bp_envelope *env;           /* borrowed */
    int failed_sink;            /* a sink failed it for good (already dead-lettered there) */
    int delivered_at;           /* how many sinks accepted it (or had it: ledger) */
    cJSON *receipts;            /* {"route/sink": receipt} of sinks that gave one, or NULL */
    uint64_t seq;               /* pipeline sequence number (UINT64_MAX: outside the pipeline) */
} bp_item;

/* A record inside the pipeline (owned by the stage holding it). */
typedef struct bp_rec {
    bp_envelope *env;
    uint64_t seq;
} bp_rec;

void bp_rec_free(bp_rec *rec);

/* Moves r's counters (its own and its instances') into the state store;
 * each growth once, also with several threads flushing (pipeline.c). */
void bp_pipeline_stats_flush(bp_route *r);

/* One running route's pipeline (pipeline.c; its sink thread is in delivery.c). */
typedef struct bp_pipe {
    bp_route *r;
    bp_queue *wq;               /* one queue per worker */
    bp_queue sq;                /* to the sink thread */
    bp_ack_window win;
    size_t flights;             /* batches the sink thread keeps in flight */
    pthread_mutex_t spent_mu;
    bp_rec **spent;             /* settled records for the source thread to free */
    size_t n_spent, cap_spent;
    atomic_int workers_left;
    atomic_int broken;          /* a stage failed: stop, ack nothing more */
    int batch;
} bp_pipe;

/* Stops the pipeline (once; logs why) and wakes the source thread. */
void bp_pipe_fail(bp_pipe *p, const char *why);

/* The source thread of a route (arg: the bp_route): runs its pipeline until
 * the source ends, a stop, or a failure (then r->failed). */
void *bp_route_main(void *arg);

/* Names the calling thread "bp/ROUTE/ROLE" (15 bytes max) for top -H and perf. */
void bp_name_thread(const char *route, const char *role);

/* ---- delivery.c --------------------------------------------------------- */

/* What a delivery does with a record that failed for good at its sink: BP_OK
 * when it was dead-lettered (durably), else the delivery stops with BP_ERR_IO. */
typedef bp_status (*bp_delivery_fail_fn)(void *ud, bp_item *item, const char *stage,
                                         const char *why);

typedef struct bp_delivery bp_delivery;

/* Delivers items to one sink with the route's retries, waiting for the
 * outcome; fail (ud) gets each record the sink refused or that ran out of
 * retries (item->failed_sink is set). Returns BP_OK, BP_STOPPED when a stop
 * interrupted retries, BP_ERR_IO when the state store (or fail) failed,
 * BP_ERR_NOMEM. */
bp_status bp_deliver(bp_route *r, bp_instance *sink, bp_item *items, size_t n,
                     bp_delivery_fail_fn fail, void *ud);

/* The sink thread of a pipeline (arg: the bp_pipe). */
void *bp_sink_main(void *arg);

/* ---- dead_letter.c ------------------------------------------------------ */

/* Dead-letters a record (env borrowed; or, for input that never became an
 * envelope, raw): through the route's dead-letter channel when it has one
 * (with the route's retries), else — or when the channel fails or refuses it —
 * into the state store. Never loses the record: BP_OK means it is in one of
 * them; BP_ERR_IO when the store failed too. */
bp_status bp_dead_letter_record(bp_route *r, const char *stage, const char *reason,
                         const bp_envelope *env, const char *raw, size_t raw_len);

/* Dead-letters env's record as raw input at the source's stage, with the
 * reason, when its data nests too deep for an envelope (bp_envelope_check_depth:
 * no sink, review or dead-letter store could print it); *deep says whether it
 * did. BP_OK, or BP_ERR_IO as bp_dead_letter_record. (robust2) */
bp_status bp_dead_letter_if_deep(bp_route *r, bp_envelope *env, int *deep);

/* bp_delivery_fail_fn for a route's sinks: bp_dead_letter_record at the sink (ud: the route). */
bp_status bp_dead_letter_fail(void *ud, bp_item *item, const char *stage, const char *why);

/* ---- review_gate.c ------------------------------------------------------ */

/* Parks env (borrowed) for a person with what triage needs: reason,
 * confidence, flags, priority, arrival time. BP_OK or a state-store error. */
bp_status bp_review_park(bp_route *r, const char *stage, const char *reason,
                         const bp_envelope *env);

/* bp_review_park at most once per record (source + id; robust2, issue 17):
 * BP_OK when parked now or already; when the record was decided before (a
 * redelivery after a crash), the decision: BP_MODIFIED approved or corrected
 * (*env has the corrections; it goes on after stage), BP_DROP rejected (its
 * dead letter is the decision's). Else a state-store error. */
bp_status bp_review_park_once(bp_route *r, const char *stage, const char *reason,
                              bp_envelope **env);

/* The route's review.when: BP_OK (passes, or approved before: *env may have
 * a reviewer's corrections), BP_REVIEW (parked), BP_DROP (rejected before),
 * BP_ERR_IO. */
bp_status bp_review_gate(bp_route *r, bp_envelope **env, int replay);

/* ---- transform_chain.c -------------------------------------------------- */

/* bp_transform_chain's gate flags. BP_CHAIN_REPLAY: a person sent the record
 * back (dlq replay): a review parks it anew, never applying a decision stored
 * for it (that is for redeliveries after a crash, review_gate.c). */
#define BP_CHAIN_GATE 1
#define BP_CHAIN_REPLAY 2

/* Runs the chain of worker from transform `from`, then the review gate when
 * gate has BP_CHAIN_GATE. BP_OK: on to the sinks (*env updated); else what resolved it:
 * BP_DROP, BP_REVIEW (parked), BP_REJECT (dead-lettered), BP_STOPPED (a stop
 * cut retries short), BP_ERR_IO (the state store failed). */
bp_status bp_transform_chain(bp_route *r, int worker, size_t from, int gate, bp_envelope **env);

/* ---- audit.c ------------------------------------------------------------ */

/* Records the lineage of the delivered items (failed_sink 0) in the audit
 * log per the route's `audit` setting, one transaction. */
bp_status bp_audit_delivered(bp_route *r, const bp_item *items, size_t n);

/* ---- lookup.c ----------------------------------------------------------- */

/* Creates the lookup connectors' pools (their first instance is inited now:
 * transforms may look up from their own init). Returns 0, or -1 when any
 * failed (errors in d). */
int bp_lookups_init(bp_runtime *rt, bp_diags *d);
void bp_lookups_free(bp_runtime *rt);

/* ---- runtime.c ---------------------------------------------------------- */

bp_instance *bp_instance_new(bp_runtime *rt, const bp_plugin_lib *lib, const char *name,
                             const char *scope, const char *connector);
void bp_instance_free(bp_instance *in);
/* Runs init (with the bound config and the role, site.h bp_site_plugin_init)
 * and start; on failure reports one line naming the plugin file. */
bp_status bp_instance_init(bp_instance *in, const cJSON *config, const void *bound,
                           uint32_t role, const char *what, bp_diags *d);

/* The enabled route of that name, or NULL. The caller holds routes_lock
 * (read) for as long as it uses the route. */
bp_route *bp_runtime_find_route(bp_runtime *rt, const char *route);

/* Whether the route drains: its own stop (a reload), or the runtime's. */
int bp_route_stopping(const bp_route *r);

/* ---- one route's life (runtime.c), for the runtime and reload.c ---------- */

/* Creates route cfg (of site) with every instance inited and started. On
 * failure one line per problem goes to d and nothing is left open; *out is
 * NULL, or with keep_disabled a disabled route (status shows it, a later
 * reload may start it). */
bp_status bp_route_create(bp_runtime *rt, const bp_site *site, bp_site_route *cfg,
                          int keep_disabled, bp_route **out, bp_diags *d);

/* Starts the route's source thread (with its workers and sink thread). 0, or -1
 * (logged; r->failed set). Caller holds routes_lock (write) or is the only
 * thread (bp_runtime_run's start). */
int bp_route_start(bp_route *r);

/* Drains a running route as a stop does — its source is no longer polled,
 * records in flight finish and are acked — and joins its thread. No lock held. */
void bp_route_drain(bp_route *r);

/* Tears down the route's instances (stop, destroy: a source commits, a sink
 * closes as on a normal stop) and frees it. Its thread must be joined. */
void bp_route_free(bp_route *r);

#endif
