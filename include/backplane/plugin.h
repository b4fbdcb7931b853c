/* backplane SDK: the plugin ABI.
 *
 * A plugin is a shared object exporting exactly one symbol:
 *
 *     BP_EXPORT const struct bp_plugin *bp_plugin_entry(void);
 *
 * returning a descriptor built with designated initialisers (see
 * examples/plugin-skeleton and docs/writing-a-plugin.md). The loader refuses a
 * descriptor whose abi_major differs from the host's, and reads fields only
 * within struct_size, so a plugin built against an older minor SDK keeps working.
 *
 * Plugins never link against libbackplane: everything they need from the host
 * arrives through struct bp_host_api, whose `size` tells which entries this host
 * offers. All state lives in `self`; no mutable globals.
 *
 * Both structs are APPEND-ONLY: new fields go at the end, nothing is reordered.
 */
#ifndef BACKPLANE_PLUGIN_H
#define BACKPLANE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <backplane/status.h>
#include <backplane/envelope.h>
#include <backplane/predicate.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_ABI_MAJOR 1
#define BP_ABI_MINOR 3

#if defined(__GNUC__)
#define BP_EXPORT __attribute__((visibility("default")))
#define BP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BP_EXPORT
#define BP_PRINTF(a, b)
#endif

/* The exported entry point's name, for dlsym. */
#define BP_PLUGIN_ENTRY_SYMBOL "bp_plugin_entry"

/* What a plugin can be (bit set). */
enum bp_plugin_kind {
    BP_KIND_SOURCE = 1u << 0,     /* poll + ack */
    BP_KIND_SINK = 1u << 1,       /* write */
    BP_KIND_TRANSFORM = 1u << 2,  /* transform */
    BP_KIND_LOOKUP = 1u << 3      /* lookup (content enricher) */
};

/* ---- option schema ------------------------------------------------------ */

/* How the core turns the site file's value into the config object handed to
 * init (all values normalised, defaults filled in): */
enum bp_option_type {
    BP_OPT_STRING = 1,    /* cJSON string */
    BP_OPT_INT = 2,       /* cJSON number (integral) */
    BP_OPT_BOOL = 3,      /* cJSON true/false; YAML true/false/yes/no/on/off */
    BP_OPT_DURATION = 4,  /* cJSON number, milliseconds; written "250ms", "5s", "2m", "1h", "1d" */
    BP_OPT_SIZE = 5,      /* cJSON number, bytes; written "512", "64KiB", "10MB", "1GiB" */
    BP_OPT_ENUM = 6,      /* cJSON string, one of `choices` */
    BP_OPT_LIST = 7,      /* cJSON array of strings; a YAML sequence or one scalar */
    BP_OPT_SECRET = 8,    /* cJSON string; never logged, never printed by `check` */
    BP_OPT_FLOAT = 9,     /* cJSON number */
    BP_OPT_MAP = 10,      /* cJSON object; YAML scalars keep their types */
    BP_OPT_PREDICATE = 11 /* cJSON string, already checked to compile (errors point into the file) */
};

enum bp_option_flag {
    BP_OPT_REQUIRED = 1u << 0     /* the site file must give it (no default) */
};

/* One option. An array of these ends with an entry whose name is NULL ({0}). */
struct bp_option {
    const char *name;
    enum bp_option_type type;
    unsigned flags;                /* BP_OPT_REQUIRED */
    const char *default_value;     /* as written in YAML ("5s", "true", "a,b" for lists), or NULL */
    const char *min;               /* inclusive bound as written ("1", "100ms", "1KiB"), or NULL */
    const char *max;               /* inclusive bound, or NULL */
    const char *const *choices;    /* BP_OPT_ENUM: NULL-terminated list */
    const char *description;       /* one line, for `backplane plugins --doc` */
};

/* ---- host side ---------------------------------------------------------- */

typedef struct bp_instance bp_instance;       /* core's handle for one plugin instance */
typedef struct bp_poll_batch bp_poll_batch;   /* records a source hands over */
typedef struct bp_write_batch bp_write_batch; /* records a sink is asked to write */

enum bp_log_level {
    BP_LOG_ERROR = 0,
    BP_LOG_WARN = 1,
    BP_LOG_INFO = 2,
    BP_LOG_DEBUG = 3
};

/* The host-API table. A plugin keeps the pointer it got in init in `self`.
 * An entry is present when offsetof(entry) < size; use BP_HOST_HAS(). */
struct bp_host_api {
    uint32_t size;          /* sizeof(struct bp_host_api) of the running host */
    uint32_t abi_major;
    uint32_t abi_minor;

    /* Logging, prefixed with the instance's name ("route/connector"). Values of
     * secret options are masked even if a plugin passes them. */
    void (*log)(bp_instance *inst, enum bp_log_level level, const char *fmt, ...) BP_PRINTF(3, 4);
    /* Borrowed, e.g. "invoices/erp" or "connector erp". */
    const char *(*instance_name)(const bp_instance *inst);

    /* Allocation for anything handed to the host to free (errmsg, reason). */
    void *(*alloc)(size_t size);
    void (*free)(void *ptr);
    char *(*strdup)(const char *s);
    /* printf into a new host-allocated string; NULL when out of memory. */
    char *(*format)(const char *fmt, ...) BP_PRINTF(1, 2);

    /* Clock: wall time and a monotonic clock, in milliseconds. */
    int64_t (*now_ms)(void);
    int64_t (*monotonic_ms)(void);

    /* Envelopes: the functions of envelope.h, same contracts. */
    bp_envelope *(*envelope_new)(void);
    bp_envelope *(*envelope_ref)(bp_envelope *env);
    void (*envelope_unref)(bp_envelope *env);
    bp_envelope *(*envelope_dup)(const bp_envelope *env);
    int (*envelope_is_writable)(const bp_envelope *env);
    bp_envelope *(*envelope_make_writable)(bp_envelope *env);
    const char *(*envelope_get0_attr)(const bp_envelope *env, const char *name);
    bp_status (*envelope_set_attr)(bp_envelope *env, const char *name, const char *value);
    const cJSON *(*envelope_get0_ext)(const bp_envelope *env, const char *name);
    bp_status (*envelope_set0_ext)(bp_envelope *env, const char *name, cJSON *value);
    bp_status (*envelope_finalize)(bp_envelope *env, char **errmsg);
    const cJSON *(*envelope_get0_data)(const bp_envelope *env);
    cJSON *(*envelope_get0_data_mut)(bp_envelope *env);
    bp_status (*envelope_set0_data)(bp_envelope *env, cJSON *data);
    const cJSON *(*envelope_get0_path)(const bp_envelope *env, const char *path);
    bp_status (*envelope_set0_path)(bp_envelope *env, const char *path, cJSON *value);
    bp_status (*envelope_remove_path)(bp_envelope *env, const char *path);
    bp_status (*envelope_add_attachment)(bp_envelope *env, const char *name,
                                         const char *media_type, const void *bytes, size_t size);
    size_t (*envelope_attachment_count)(const bp_envelope *env);
    const bp_attachment *(*envelope_get0_attachment)(const bp_envelope *env, size_t i);
    bp_status (*envelope_add_lineage)(bp_envelope *env, const bp_lineage *entry);
    char *(*envelope_to_json)(const bp_envelope *env, int flags);
    bp_status (*envelope_from_json)(const char *text, size_t len, bp_envelope **out, char **errmsg);
    char *(*envelope_batch_to_json)(bp_envelope *const *envs, size_t n, int flags);
    bp_status (*envelope_batch_from_json)(const char *text, size_t len, bp_envelope ***out,
                                          size_t *n, char **errmsg);
    bp_status (*envelope_to_binary)(const bp_envelope *env, bp_header **headers, size_t *n,
                                    unsigned char **value, size_t *value_len);
    bp_status (*envelope_from_binary)(const bp_header *headers, size_t n, const void *value,
                                      size_t value_len, bp_envelope **out, char **errmsg);
    void (*headers_free)(bp_header *headers, size_t n);

    /* Predicates (predicate.h). */
    bp_status (*predicate_compile)(const char *text, bp_predicate **out, int *errcol, char **errmsg);
    int (*predicate_eval)(const bp_predicate *pred, const bp_envelope *env);
    void (*predicate_free)(bp_predicate *pred);

    /* Sources: hand records to the core inside poll().
     * batch_room: how many more records this batch takes (never push more).
     * batch_push: takes the caller's reference to env. token identifies the
     *   record in a later ack() (e.g. a byte offset). The core fills a missing id,
     *   source ("<plugin>://<connector>"), time and specversion.
     *   Returns BP_ERR_INVALID when env is not a valid event (env is released and
     *   the record is treated like batch_push_invalid), BP_ERR_FULL (ABI 1.3;
     *   BP_ERR_INVALID before) when the batch is full (env is released, not
     *   dead-lettered: push it again in a later poll).
     * batch_push_invalid: input that could not become an envelope (a bad line);
     *   the core dead-letters raw with reason (which should carry file:line:col)
     *   and acks token in order, so nothing else is lost. raw is copied. */
    size_t (*batch_room)(const bp_poll_batch *batch);
    bp_status (*batch_push)(bp_poll_batch *batch, bp_envelope *env, uint64_t token);
    bp_status (*batch_push_invalid)(bp_poll_batch *batch, uint64_t token, const char *reason,
                                    const void *raw, size_t raw_len);

    /* Sinks: inside write(), read the batch and set per-record results.
     * wb_count/wb_get0 borrow; wb_ticket identifies the record for write_done;
     * wb_set_result sets BP_OK, BP_QUEUED, BP_RETRY, BP_NOT_CONNECTED or
     * BP_REJECT with an optional reason (copied). Unset records take the return
     * value of write(). write_done completes a BP_QUEUED record later, from any
     * thread: status is then BP_OK, BP_RETRY, BP_NOT_CONNECTED or BP_REJECT. */
    size_t (*wb_count)(const bp_write_batch *wb);
    bp_envelope *(*wb_get0)(const bp_write_batch *wb, size_t i);
    uint64_t (*wb_ticket)(const bp_write_batch *wb, size_t i);
    void (*wb_set_result)(bp_write_batch *wb, size_t i, bp_status status, const char *reason);
    void (*write_done)(bp_instance *inst, uint64_t ticket, bp_status status, const char *reason);

    /* Metrics: counters and gauges per instance ("records_out", ...). */
    void (*counter_add)(bp_instance *inst, const char *name, uint64_t delta);
    void (*gauge_set)(bp_instance *inst, const char *name, double value);

    /* Checkpoints: a small durable key/value store per instance (offsets,
     * watermarks, UIDs). checkpoint_get gives a host-allocated copy in *value
     * (free with api->free) or BP_ERR_NOT_FOUND. checkpoint_set is durable when
     * it returns BP_OK; value NULL deletes the key. */
    bp_status (*checkpoint_get)(bp_instance *inst, const char *key, char **value);
    bp_status (*checkpoint_set)(bp_instance *inst, const char *key, const char *value);

    /* Lookup through another connector (content enricher): runs the named query
     * of connector with params (borrowed). On BP_OK *result is a new cJSON the
     * caller frees with cJSON_Delete. BP_ERR_NOT_FOUND: the query ran and found
     * nothing. Other errors: *errmsg (host-allocated) says why (unknown connector,
     * connector cannot look up, the peer failed: BP_RETRY/BP_NOT_CONNECTED). */
    bp_status (*lookup)(bp_instance *inst, const char *connector, const char *query,
                        const cJSON *params, cJSON **result, char **errmsg);

    /* 1 once the runtime is shutting down: long operations should return. */
    int (*stopping)(const bp_instance *inst);

    /* Syntax check of an envelope path (bp_path_check): BP_OK or BP_ERR_PARSE. */
    bp_status (*path_check)(const char *path);

    /* Sinks with BP_PLUGIN_LEDGER: inside write(), ask the core to store this
     * instance's checkpoint key=value in the same state-store transaction as the
     * ledger entries of the records accepted by this write (e.g. the file sink's
     * committed length). Copied; the last call of a write wins. */
    void (*wb_commit_checkpoint)(bp_write_batch *wb, const char *key, const char *value);

    /* Appends the compact JSON text of item to a growable buffer (*buf of
     * capacity *cap, allocated with realloc: free it with api->free; *len bytes
     * used; kept NUL-terminated). Several times faster than cJSON_Print for
     * numbers; output parses back to the same values. BP_ERR_NOMEM leaves *len
     * as it was. */
    bp_status (*json_append)(const cJSON *item, char **buf, size_t *len, size_t *cap);

    /* Sources: data as JSON text, parsed by the core on a worker thread
     * (bp_envelope_set_data_json). Text that is not valid JSON is dead-lettered
     * with "ORIGIN:COL: invalid JSON" and the raw text, nothing else is lost. */
    bp_status (*envelope_set_data_json)(bp_envelope *env, const char *text, size_t len,
                                        const char *origin);

    /* Registers a secret the plugin found outside a BP_OPT_SECRET option (a
     * password inside a pass-through property map): every later log line and
     * diagnostic shows "****" in its place. Copied; values under 4 bytes are
     * ignored. */
    void (*mask_secret)(const char *value);

    /* ---- ABI 1.3 (core3-runtime) ---- */

    /* Sources (ABI 1.3): ends the core's wait after a poll that returned
     * BP_AGAIN, so poll is called again now. A poll that returns BP_AGAIN
     * before its timeout_ms is not called again until the timeout has passed
     * (the core never re-polls in a busy loop); a source whose input arrives
     * on another thread (a library callback, a watcher) calls this from that
     * thread. Any thread; inst is the source's instance; cheap, and calls
     * while no wait is on make the next wait return at once. Check with
     * BP_HOST_HAS(api, poll_wakeup). */
    void (*poll_wakeup)(bp_instance *inst);

    /* Sinks (ABI 1.3): inside write(), what the peer calls record i now — a
     * row key, "partition/offset", a queue or message id. Copied; the last
     * call for a record wins; kept only when the record's result is BP_OK
     * (for BP_QUEUED, when write_done completes it), and stored with the
     * record's audit row (column `receipts`: {"route/sink": receipt}) for a
     * later audit trace. Only inside write(): a receipt that is known only at
     * write_done cannot be given (yet). */
    void (*wb_set_receipt)(bp_write_batch *wb, size_t i, const char *receipt);
};

#define BP_HOST_HAS(api, field) \
    ((api) != NULL && offsetof(struct bp_host_api, field) < (api)->size && (api)->field != NULL)

/* Descriptor flags (struct bp_plugin.flags). */
enum bp_plugin_flag {
    /* Sink: the core keeps a write-back ledger for this sink. A record whose
     * (source, id) the ledger holds is not written again after a crash (the
     * core reports it BP_OK without calling write); records the sink accepts
     * are recorded atomically with its wb_commit_checkpoint. For sinks whose
     * peer is not idempotent (append to a file, INSERT without a key). */
    BP_PLUGIN_LEDGER = 1u << 0,
    /* Sink (ABI 1.2): results usually come later, through write_done (BP_QUEUED
     * now). The core then keeps more batches in flight to this sink — worth
     * it when a round trip takes milliseconds (Kafka's delivery reports) — at
     * the price of more records in flight (and so redelivered by a rebalance
     * or crash). */
    BP_PLUGIN_ASYNC = 1u << 1,
    /* ---- ABI 1.3 (core3-runtime) ---- */
    /* Lookup (ABI 1.3): lookup() is thread-safe on one instance, so the core
     * calls it from every worker at once. Without it the core keeps a small
     * pool of instances of the connector and calls each from one thread at a
     * time (a slow query then holds up only its caller). */
    BP_PLUGIN_LOOKUP_CONCURRENT = 1u << 2
};

/* ---- plugin commands ---------------------------------------------------- */

/* A command a plugin adds to the command line, run without a site or an
 * instance: `backplane PLUGIN NAME ARGS...` (`backplane soap inspect URL`) or
 * `backplane NAME PLUGIN ARGS...` (`backplane train extract --data DIR`).
 * run: argv[0] is "NAME", the plugin's arguments follow. api is the host API;
 * functions taking an instance accept NULL here (log lines then carry no
 * instance prefix). Returns the process exit code: 0 ok, 1 failed (say why on
 * stderr), 2 usage error (print the usage on stderr). */
struct bp_command {
    const char *name;       /* [a-z0-9_-]+, e.g. "train", "inspect" */
    const char *summary;    /* one line, shown by `backplane plugins --doc` */
    int (*run)(const struct bp_host_api *api, int argc, char **argv);
};

/* ---- the descriptor ---------------------------------------------------- */

struct bp_plugin {
    uint32_t abi_major;       /* BP_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;       /* BP_ABI_MINOR the plugin was built with */
    uint32_t struct_size;     /* sizeof(struct bp_plugin) the plugin was built with */

    const char *name;         /* [a-z0-9_-]+, also the file name: NAME.so */
    const char *version;      /* the plugin's own version, e.g. "1.0.0" */
    const char *description;  /* one line */
    uint32_t kinds;           /* enum bp_plugin_kind bits */
    const struct bp_option *options; /* {0}-terminated, or NULL for none */

    /* Creates an instance. config: normalised options (an object; borrowed, valid
     * only during init: copy what you keep). On failure return non-BP_OK and set
     * *errmsg to a message allocated with api->alloc/format (the host frees it);
     * the host then calls nothing else on this instance. */
    bp_status (*init)(const struct bp_host_api *api, bp_instance *inst,
                      const cJSON *config, void **self, char **errmsg);

    /* Optional: connect, open files. Errors as init. */
    bp_status (*start)(void *self, char **errmsg);

    /* Source: push up to api->batch_room() records, waiting at most timeout_ms
     * for the first. Returns BP_OK (records pushed, possibly none), BP_AGAIN
     * (nothing now: the core calls again once timeout_ms has passed since this
     * call, or at api->poll_wakeup), BP_EOF (finite input exhausted), or an
     * error (BP_RETRY, BP_NOT_CONNECTED: the core backs off with the route's
     * retry policy and polls again; after errors.retry.max failed polls in a
     * row the route stops with an error). While the route
     * is backpressured the core calls poll with batch_room() 0 and timeout 0
     * about every 200 ms: pause input, keep sessions alive, push nothing. */
    bp_status (*poll)(void *self, bp_poll_batch *batch, int timeout_ms);

    /* Source: these records are done (delivered, parked or dead-lettered), in
     * the order they were pushed: commit offsets / watermarks now. Returns
     * BP_OK when this and every earlier ack are durable (the source will not
     * deliver these records again after a crash); BP_QUEUED when this ack's
     * commit is still in flight but every earlier one is durable; BP_AGAIN
     * when earlier commits are not confirmed yet either. Until an ack is known
     * durable, the core keeps its write-back ledger rows (ledger sinks skip
     * such records if they come again). Other values are logged as errors. */
    bp_status (*ack)(void *self, const uint64_t *tokens, size_t n);

    /* Sink: write the batch, set per-record results (see wb_set_result).
     * The return value is the result of records left unset. BP_OK means
     * durably accepted. */
    bp_status (*write)(void *self, bp_write_batch *wb);

    /* Transform one record. *env is the caller's reference; to change it, call
     * api->envelope_make_writable(*env) and store the result back in *env.
     * Returns BP_OK (unchanged), BP_MODIFIED, BP_DROP, BP_REVIEW, BP_REJECT or
     * BP_RETRY; for the last three *reason may be set (api->alloc'ed). */
    bp_status (*transform)(void *self, bp_envelope **env, char **reason);

    /* Lookup: run the named query with params; contract of api->lookup. */
    bp_status (*lookup)(void *self, const char *query, const cJSON *params,
                        cJSON **result, char **errmsg);

    /* Optional: stop producing/flush (called before destroy on a started instance). */
    void (*stop)(void *self);

    /* Frees self. Called once for every instance that init created. */
    void (*destroy)(void *self);

    /* enum bp_plugin_flag bits (0 for plugins built before this field). */
    uint32_t flags;

    /* Optional command-line commands, {0}-terminated, or NULL (ABI 1.1). */
    const struct bp_command *commands;

    /* Optional (ABI 1.1): checks of the normalised options that the schema
     * cannot express (rules inside a map, paths inside a mapping), run by
     * `backplane check` and by `run` before any instance is created. For each
     * problem call report(ctx, path, col, message): path names the offending
     * value in config ("rules.big.when"; "" for the options as a whole), col is
     * 1-based inside that string value (0: the value as a whole); the core turns
     * it into file:line:col. message is copied. Returns BP_OK when nothing was
     * reported, else BP_ERR_INVALID. */
    bp_status (*check)(const struct bp_host_api *api, const cJSON *config,
                       void (*report)(void *ctx, const char *path, int col, const char *msg),
                       void *ctx);

    /* ---- ABI 1.2 ---- */

    /* Source (optional): ack with what became of each record (fates[i], a
     * bp_fate), so that the source can write back accordingly (e.g. move mail
     * parked for review elsewhere than processed mail). When present the core
     * calls it instead of ack; same order, same return values. */
    bp_status (*ack_fates)(void *self, const uint64_t *tokens, const unsigned char *fates,
                           size_t n);
};

/* What became of a record a source handed out (bp_plugin.ack_fates). */
typedef enum bp_fate {
    BP_FATE_DELIVERED = 1,       /* written to every sink */
    BP_FATE_DROPPED = 2,         /* a transform dropped it */
    BP_FATE_PARKED = 3,          /* parked for human review (it may be delivered later) */
    BP_FATE_DEAD_LETTERED = 4,   /* in the dead-letter store or channel */
    /* ---- ABI 1.3 (core3-runtime) ---- */
    BP_FATE_PARTIAL = 5,         /* written to some sinks, dead-lettered at another (a
                                  * source that writes back treats it as delivered:
                                  * the dead letter is replayed to that sink alone) */
} bp_fate;

/* Put first in a descriptor: .BP_PLUGIN_HEADER would not parse, so use
 *   static const struct bp_plugin p = { BP_PLUGIN_HEADER, .name = ..., ... }; */
#define BP_PLUGIN_HEADER \
    .abi_major = BP_ABI_MAJOR, .abi_minor = BP_ABI_MINOR, \
    .struct_size = (uint32_t)sizeof(struct bp_plugin)

/* The one symbol a plugin exports. */
BP_EXPORT const struct bp_plugin *bp_plugin_entry(void);
typedef const struct bp_plugin *(*bp_plugin_entry_fn)(void);

/* ---- small helpers for reading the normalised config in init ---------- */

/* Borrowed string option, or NULL when absent (options with a default are never absent). */
static inline const char *bp_cfg_str(const cJSON *config, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Integer-valued option (int, duration in ms, size in bytes), or dflt when absent. */
static inline long long bp_cfg_int(const cJSON *config, const char *name, long long dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, name);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : dflt;
}

static inline double bp_cfg_float(const cJSON *config, const char *name, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, name);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static inline int bp_cfg_bool(const cJSON *config, const char *name, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, name);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* Borrowed array/object option, or NULL. */
static inline const cJSON *bp_cfg_get0(const cJSON *config, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(config, name);
}

#ifdef __cplusplus
}
#endif
#endif
