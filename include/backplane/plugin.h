/* backplane SDK: the plugin ABI.
 *
 * A plugin is a shared object exporting exactly one symbol:
 *
 *     BP_EXPORT const struct bp_plugin *bp_plugin_entry(void);
 *
 * returning a descriptor built with designated initialisers (see
 * examples/plugin-skeleton and docs/writing-a-plugin.md). The loader refuses a
 * descriptor whose abi_major differs from the host's, or whose min_host_minor
 * (ABI 1.3) is newer than the host's minor, and reads fields only within
 * struct_size, so a plugin built against an older minor SDK keeps working.
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
#include <backplane/flags.h>

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
    BP_OPT_PREDICATE = 11, /* cJSON string, already checked to compile (errors point into the file) */
    /* ---- ABI 1.3 (core3-options) ---- */
    BP_OPT_PATH = 12      /* cJSON string: a file path; a relative one is resolved against the
                           * directory of the site file (an absolute one is kept) */
};

enum bp_option_flag {
    BP_OPT_REQUIRED = 1u << 0,    /* the site file must give it (no default) */
    /* ---- ABI 1.3 (core3-report) ---- */
    /* BP_OPT_STRING (or BP_OPT_LIST) whose value is a text template: {PATH}
     * is an envelope path replaced by its value, {{ and }} are braces.
     * `check` refuses a '{' without its '}' or a {PATH} that is not a path,
     * and warns about a path that names nothing the route's records can
     * carry (see bp_plugin.emits). A host before 1.3 ignores the flag. */
    BP_OPT_TEMPLATE = 1u << 16
    /* ---- end ABI 1.3 (core3-report) ---- */
};

/* One option. An array of these ends with an entry whose name is NULL ({0}).
 *
 * The fields after `description` came with ABI 1.3. struct bp_option has no
 * size of its own: the descriptor's option_size (set by BP_PLUGIN_HEADER) says
 * how large the entries of a plugin's arrays are, and the loader reads the
 * arrays of a plugin built before 1.3 with the 1.2 size (BP_OPTION_SIZE_1_2),
 * the newer fields then reading as 0. So new fields go at the end here too. */
struct bp_option {
    const char *name;
    enum bp_option_type type;
    unsigned flags;                /* BP_OPT_REQUIRED */
    const char *default_value;     /* as written in YAML ("5s", "true", "a,b" for lists), or NULL */
    const char *min;               /* inclusive bound as written ("1", "100ms", "1KiB"), or NULL */
    const char *max;               /* inclusive bound, or NULL */
    const char *const *choices;    /* BP_OPT_ENUM: NULL-terminated list */
    const char *description;       /* one line, for `backplane plugins --doc` */

    /* ---- ABI 1.3 (core3-options) ---- */
    /* enum bp_plugin_kind bits of the roles this option is for (0: every
     * role). Given in a route's per-use map for another role, it is an error;
     * in a connector's own map it is left to the uses it is for. */
    uint32_t roles;
    /* Roles for which the site file must give it ("a sink needs table"):
     * checked when the instance has one of these roles. */
    uint32_t required_for;
    /* 1 when `offset` is set (use BP_OPT_FIELD): the core stores the value
     * in the options struct it hands to init_ex (struct bp_instance_info). */
    uint32_t bound;
    size_t offset;
    /* BP_OPT_MAP: the schema of the map. Either a table of named keys (the
     * map is checked like a plugin's options: unknown keys, types, defaults,
     * required; bound keys bind into the same options struct, offsets taken
     * from the plugin's struct), or one entry named "*" that every value of
     * the map must match (a map of NAME: path, NAME: {sub-map}); a "*" of
     * type BP_OPT_STRING takes any scalar and keeps its YAML type (5 stays a
     * number). NULL: any map. */
    const struct bp_option *fields;
    /* A former name: an entry with `renamed` set is no option. Using its
     * name is an error whose text says "option 'NAME' was renamed: use
     * RENAMED", so write RENAMED as the operator should: "'poll_interval'",
     * "'tls: { verify: ... }'". */
    const char *renamed;
};

/* The size of struct bp_option in ABI 1.0-1.2, for reading old plugins. */
#define BP_OPTION_SIZE_1_2 (offsetof(struct bp_option, roles))

/* Binds an option to a member of the plugin's options struct:
 *   {.name = "batch_rows", .type = BP_OPT_INT, .default_value = "500",
 *    BP_OPT_FIELD(struct odbc_opts, batch_rows)},
 * The member's C type follows the option's type:
 *   STRING, SECRET, PREDICATE, PATH   const char *  (NULL when absent)
 *   INT                               long long
 *   DURATION (ms), SIZE (bytes)       int64_t
 *   BOOL                              int (0/1)
 *   FLOAT                             double
 *   ENUM                              int: index into choices, -1 when absent
 *   LIST, MAP                         const cJSON * (array/object; NULL when absent)
 * Strings and cJSON values point into the normalised config, which the core
 * keeps until the instance's destroy has returned. */
#define BP_OPT_FIELD(type, member) .bound = 1, .offset = offsetof(type, member)

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
 * An entry is present when offsetof(entry) < size; use BP_HOST_HAS().
 *
 * Like sqlite3ext.h, every entry says which ABI version added it, in brackets
 * at the start of its comment, with the threads that may call it:
 *   [1.0, any]      since ABI 1.0, from any thread (also a library's own
 *                   threads, e.g. librdkafka's delivery-report thread);
 *   [1.0, callback] only inside the plugin callback that was handed the object
 *                   (a bp_poll_batch inside poll, a bp_write_batch inside write);
 *   [1.3, instance] from any callback of that instance (init, start, poll, ack,
 *                   write, transform, lookup, stop), never after destroy.
 * An entry added after the minor a plugin requires (bp_plugin.min_host_minor)
 * must be tested with BP_HOST_HAS before use.
 *
 * Memory. ONE rule for everything the host hands out: bytes (strings, buffers,
 * arrays) are freed with api->free, cJSON trees with api->json_free [1.3]
 * (cJSON_Delete on a host older than 1.3). Never free() or cJSON_Delete them
 * yourself: the host may use another allocator than the plugin's libc. What a
 * plugin hands to the host to free (errmsg, reason) comes from api->alloc,
 * api->strdup or api->format. Borrowed results (get0, instance_name) stay
 * valid as the entry says and are never freed.
 *
 * Errors: entries returning bp_status return BP_OK or a negative code of
 * status.h; an entry taking char **errmsg sets it (host-allocated, free with
 * api->free) on failure and to NULL on success. */
struct bp_host_api {
    uint32_t size;          /* [1.0] sizeof(struct bp_host_api) of the running host */
    uint32_t abi_major;     /* [1.0] BP_ABI_MAJOR of the running host */
    uint32_t abi_minor;     /* [1.0] BP_ABI_MINOR of the running host */

    /* [1.0, any] Logging, prefixed with the instance's name ("route/connector").
     * Values of secret options are masked even if a plugin passes them. inst may
     * be NULL (plugin commands): no prefix. */
    void (*log)(bp_instance *inst, enum bp_log_level level, const char *fmt, ...) BP_PRINTF(3, 4);
    /* [1.0, any] Borrowed for the instance's life, e.g. "invoices/erp". */
    const char *(*instance_name)(const bp_instance *inst);

    /* [1.0, any] The host's allocator: everything handed to the host to free
     * (errmsg, reason), and the deallocator of everything the host hands out
     * except cJSON trees (see json_free). alloc(0) returns a unique pointer;
     * NULL only when out of memory. free(NULL) does nothing. */
    void *(*alloc)(size_t size);
    void (*free)(void *ptr);
    /* [1.0, any] strdup into host memory; NULL for NULL or out of memory. */
    char *(*strdup)(const char *s);
    /* [1.0, any] printf into a new host-allocated string; NULL when out of memory. */
    char *(*format)(const char *fmt, ...) BP_PRINTF(1, 2);

    /* [1.0, any] Clock: wall time and a monotonic clock, in milliseconds. */
    int64_t (*now_ms)(void);
    int64_t (*monotonic_ms)(void);

    /* [1.0, any] Envelopes: the functions of envelope.h, same contracts
     * (ownership and errors are stated there). An envelope is used by one thread
     * at a time; a shared (refcount > 1) envelope is read-only. to_json and
     * batch_to_json return host memory (api->free); headers from to_binary are
     * freed with headers_free, the value with api->free. */
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

    /* [1.0, any] Predicates (predicate.h). A compiled predicate may be
     * evaluated from several threads at once; free it with predicate_free. */
    bp_status (*predicate_compile)(const char *text, bp_predicate **out, int *errcol, char **errmsg);
    int (*predicate_eval)(const bp_predicate *pred, const bp_envelope *env);
    void (*predicate_free)(bp_predicate *pred);

    /* [1.0, callback: inside poll] Sources: hand records to the core.
     * batch_room: how many more records this batch takes (never push more).
     * batch_push: takes the caller's reference to env. token identifies the
     *   record in a later ack() (e.g. a byte offset). The core fills a missing
     *   source ("<plugin>://<connector>"), time and specversion, and a missing id
     *   with a DETERMINISTIC one (since 1.3; a random UUID before): from source +
     *   token when the descriptor has BP_PLUGIN_STABLE_TOKENS, else from a hash of
     *   source, type, subject, data and attachments — so a record read again after
     *   a crash keeps its id and a ledgered sink does not write it twice. Set your
     *   own stable id when you have one (a message id, a primary key), and do
     *   not call envelope_finalize first (it would set a random id).
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

    /* [1.0, callback: inside write; write_done: any] Sinks: read the batch and
     * set per-record results. wb_count/wb_get0 borrow (valid during write);
     * wb_ticket identifies the record for write_done; wb_set_result sets BP_OK,
     * BP_QUEUED, BP_RETRY, BP_NOT_CONNECTED or BP_REJECT with an optional reason
     * (copied). Unset records take the return value of write(). write_done
     * completes a BP_QUEUED record later, from any thread: status is then BP_OK,
     * BP_RETRY, BP_NOT_CONNECTED or BP_REJECT (reason copied). */
    size_t (*wb_count)(const bp_write_batch *wb);
    bp_envelope *(*wb_get0)(const bp_write_batch *wb, size_t i);
    uint64_t (*wb_ticket)(const bp_write_batch *wb, size_t i);
    void (*wb_set_result)(bp_write_batch *wb, size_t i, bp_status status, const char *reason);
    void (*write_done)(bp_instance *inst, uint64_t ticket, bp_status status, const char *reason);

    /* [1.0, any] Metrics: counters and gauges per instance ("records_out", ...).
     * name is copied. */
    void (*counter_add)(bp_instance *inst, const char *name, uint64_t delta);
    void (*gauge_set)(bp_instance *inst, const char *name, double value);

    /* [1.0, instance] Checkpoints: a small durable key/value store per instance
     * (offsets, watermarks, UIDs), scoped by route and connector (transforms: by
     * route, plugin and place in the chain). Since 1.3 a scope follows its
     * connector across a renamed route or connector and a transform inserted
     * before it (see docs/writing-a-plugin.md, "Checkpoints"). checkpoint_get
     * gives a host-allocated copy in *value (api->free) or BP_ERR_NOT_FOUND;
     * BP_ERR_IO when the state store fails. checkpoint_set is durable when it
     * returns BP_OK; value NULL deletes the key. */
    bp_status (*checkpoint_get)(bp_instance *inst, const char *key, char **value);
    bp_status (*checkpoint_set)(bp_instance *inst, const char *key, const char *value);

    /* [1.0, instance] Lookup through another connector (content enricher): runs
     * the named query of connector with params (borrowed). On BP_OK *result is a
     * new cJSON the caller frees with api->json_free (1.3; cJSON_Delete before).
     * BP_ERR_NOT_FOUND: the query ran and found nothing. Other errors: *errmsg
     * (host-allocated, api->free) says why (unknown connector, connector cannot
     * look up, the peer failed: BP_RETRY/BP_NOT_CONNECTED). Blocks the calling
     * worker until the connector answers. */
    bp_status (*lookup)(bp_instance *inst, const char *connector, const char *query,
                        const cJSON *params, cJSON **result, char **errmsg);

    /* [1.0, any] 1 once the runtime is shutting down: long operations should return. */
    int (*stopping)(const bp_instance *inst);

    /* [1.0, any] Syntax check of an envelope path (bp_path_check): BP_OK or BP_ERR_PARSE. */
    bp_status (*path_check)(const char *path);

    /* [1.0, callback: inside write] Sinks with BP_PLUGIN_LEDGER: ask the core to
     * store this instance's checkpoint key=value in the same state-store
     * transaction as the ledger entries of the records accepted by this write
     * (e.g. the file sink's committed length). Copied; the last call of a write
     * wins. */
    void (*wb_commit_checkpoint)(bp_write_batch *wb, const char *key, const char *value);

    /* [1.0, any] Appends the compact JSON text of item to a growable buffer
     * (*buf of capacity *cap, grown with the host allocator: free it with
     * api->free; *len bytes used; kept NUL-terminated). Several times faster
     * than cJSON_Print for numbers; output parses back to the same values.
     * BP_ERR_NOMEM leaves *len as it was. */
    bp_status (*json_append)(const cJSON *item, char **buf, size_t *len, size_t *cap);

    /* [1.0, callback: inside poll] Sources: data as JSON text, parsed by the
     * core on a worker thread (bp_envelope_set_data_json). Text that is not
     * valid JSON is dead-lettered with "ORIGIN:COL: invalid JSON" and the raw
     * text, nothing else is lost. text and origin are copied. */
    bp_status (*envelope_set_data_json)(bp_envelope *env, const char *text, size_t len,
                                        const char *origin);

    /* [1.0, any] Registers a secret the plugin found outside a BP_OPT_SECRET
     * option (a password inside a pass-through property map): every later log
     * line and diagnostic shows "****" in its place. Copied; values under 4
     * bytes are ignored. */
    void (*mask_secret)(const char *value);

    /* ---- ABI 1.3 (core3-sdk) ---- */

    /* [1.3, any] A static, human-readable name for a status ("ok", "retry",
     * "not connected", ...). Never NULL: unknown codes give "unknown status".
     * (Plugins must not call libbackplane's bp_status_str: they link nothing of
     * the core.) */
    const char *(*status_str)(bp_status st);

    /* [1.3, any thread holding env] Raises flag on env, which the caller has
     * made writable, by the conventions of <backplane/flags.h>: the name joins
     * the "flags" extension (comma-separated, each once: what `flags has 'x'`
     * tests) and {flag, reason, by} is appended to data.flags. reason and by
     * (the plugin or rule that raised it) may be NULL; all are copied. flag is
     * [a-z0-9_] and at most BP_FLAG_NAME_MAX bytes. Errors: BP_ERR_INVALID (env
     * not writable, a bad flag name, data is not an object or data.flags not
     * an array), BP_ERR_NOMEM. */
    bp_status (*flag_add)(bp_envelope *env, const char *flag, const char *reason,
                          const char *by);

    /* [1.3, any] Frees a cJSON tree the host handed out (a lookup result,
     * corrections_get's array). NULL does nothing. The host's cJSON uses the
     * host allocator. */
    void (*json_free)(cJSON *item);

    /* [1.3, instance] Checkpoints beyond get/set, same scope and errors:
     * checkpoint_list: the keys starting with prefix ("" or NULL: all), sorted,
     *   into *keys (a NULL-terminated array; ONE api->free frees it with its
     *   strings) and *n; BP_OK with *n 0 when there are none.
     * checkpoint_delete_prefix: deletes the keys starting with prefix (NULL or
     *   "" deletes every key of the instance) in one transaction; *n_deleted
     *   (may be NULL) says how many.
     * checkpoint_set_many: sets n keys atomically (all or none are durable when
     *   it returns); values[i] NULL deletes keys[i]. Errors: BP_ERR_INVALID (a
     *   NULL key), BP_ERR_IO (nothing was changed). */
    bp_status (*checkpoint_list)(bp_instance *inst, const char *prefix, char ***keys, size_t *n);
    bp_status (*checkpoint_delete_prefix)(bp_instance *inst, const char *prefix,
                                          size_t *n_deleted);
    bp_status (*checkpoint_set_many)(bp_instance *inst, const char *const *keys,
                                     const char *const *values, size_t n);

    /* [1.3, instance] Read access to reviewers' corrections of the instance's
     * route (the labelled examples `review correct` stores), for per-key
     * memory such as a vendor's usual fields. Newest first, at most max (0: all).
     * When key_path is set ("data.vendor"), only corrections of records whose
     * value at key_path (before correction) equals key_value: a string compares
     * as is, anything else as its compact JSON text. *out is a new cJSON array
     * (api->json_free) of objects {"path", "old" (absent when the field was
     * added), "new", "at_ms", "id", "source", "record"} where old/new are the
     * JSON values and record the envelope as it was parked (CloudEvents JSON
     * object). Read-only. Errors: BP_ERR_INVALID (bad key_path; *errmsg says
     * why), BP_ERR_IO (state store), BP_ERR_UNSUPPORTED (no state store, as in
     * a plugin command). */
    bp_status (*corrections_get)(bp_instance *inst, const char *key_path, const char *key_value,
                                 size_t max, cJSON **out, char **errmsg);

    /* [1.3, any] Finds a model by name: NAME is taken as a path when it holds a
     * '/' or ends in ".model" and exists; otherwise NAME.model (then NAME) is
     * searched in, in order: the site file's directory and its models/ folder,
     * each directory of $BP_MODEL_PATH (colon-separated), the build tree's
     * plugins/<plugin>/models (an uninstalled backplane) and the installed
     * <datadir>/backplane/models (backplane.pc's modeldir). On BP_OK *path is
     * host-allocated (api->free). BP_ERR_NOT_FOUND: *errmsg (api->free) lists
     * the directories searched. inst may be NULL (plugin commands: no site
     * directory). */
    bp_status (*model_find)(bp_instance *inst, const char *name, char **path, char **errmsg);

    /* ---- ABI 1.3 (core3-runtime) ---- */

    /* [1.3, any] Sources: ends the core's wait after a poll that returned
     * BP_AGAIN, so poll is called again now. A poll that returns BP_AGAIN
     * before its timeout_ms is not called again until the timeout has passed
     * (the core never re-polls in a busy loop); a source whose input arrives
     * on another thread (a library callback, a watcher) calls this from that
     * thread. Any thread; inst is the source's instance; cheap, and calls
     * while no wait is on make the next wait return at once. Check with
     * BP_HOST_HAS(api, poll_wakeup). */
    void (*poll_wakeup)(bp_instance *inst);

    /* [1.3, callback: inside write] Sinks: what the peer calls record i now — a
     * row key, "partition/offset", a queue or message id. Copied; the last
     * call for a record wins; kept only when the record's result is BP_OK
     * (for BP_QUEUED, when write_done completes it), and stored with the
     * record's audit row (column `receipts`: {"route/sink": receipt}) for a
     * later audit trace. Only inside write(): a receipt that is known only at
     * write_done cannot be given (yet). */
    void (*wb_set_receipt)(bp_write_batch *wb, size_t i, const char *receipt);

    /* ---- issue 20 (scale-out), appended within 1.3: test with BP_HOST_HAS ---- */

    /* [1.3+, any] The fencing epoch of the lease the instance's route runs
     * under (DESIGN.md §10), 0 when the route is not leased (SQLite state,
     * or a source that is shared, as Kafka's). A sink that can fence in its
     * target stores it there and refuses writes of an older epoch in the
     * write's own transaction (odbc's applied_table). Any thread. */
    int64_t (*lease_epoch)(bp_instance *inst);
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
    /* ---- ABI 1.3 (core3-sdk) ---- */
    /* Source (1.3): the token given to batch_push identifies the record stably:
     * the same record gets the same token when it is read again (a byte offset
     * of an append-only file, a mail UID with its UIDVALIDITY, a Kafka
     * partition/offset packed into 64 bits), two records never share one. The
     * core then derives a missing id from source + token (cheap, and right for
     * records with identical content). Without this flag a missing id is a
     * hash of the record's content: see batch_push. */
    BP_PLUGIN_STABLE_TOKENS = 1u << 2,
    /* ---- ABI 1.3 (core3-runtime) ---- */
    /* Lookup (1.3): lookup() is thread-safe on one instance, so the core
     * calls it from every worker at once. Without it the core keeps a small
     * pool of instances of the connector and calls each from one thread at a
     * time (a slow query then holds up only its caller). */
    BP_PLUGIN_LOOKUP_CONCURRENT = 1u << 3
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

/* Every field says in brackets which ABI version added it (the loader reads a
 * field only when struct_size covers it: a plugin built against an older SDK
 * gets NULL/0 for the rest), and which thread the core calls a callback on.
 * The core calls an instance's callbacks from one thread at a time (a route's
 * workers have one instance each); only write_done and the entries marked
 * [.., any] of the host table may be used from other threads. */
/* What init_ex and check_ex are told about an instance (ABI 1.3). The host
 * fills `size`; fields beyond it are absent (append-only). */
struct bp_instance_info {
    uint32_t size;           /* sizeof(struct bp_instance_info) of the running host */
    uint32_t role;           /* one enum bp_plugin_kind bit: what this instance is in the site */
    const void *options;     /* the bound options struct (options_size bytes), or NULL */
};

struct bp_plugin {
    uint32_t abi_major;       /* [1.0] BP_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;       /* [1.0] BP_ABI_MINOR the plugin was built with */
    uint32_t struct_size;     /* [1.0] sizeof(struct bp_plugin) the plugin was built with */

    const char *name;         /* [1.0] [a-z0-9_-]+, also the file name: NAME.so */
    const char *version;      /* [1.0] the plugin's own version, e.g. "1.0.0" */
    const char *description;  /* [1.0] one line */
    uint32_t kinds;           /* [1.0] enum bp_plugin_kind bits */
    const struct bp_option *options; /* [1.0] {0}-terminated, or NULL for none */

    /* [1.0, main thread]
     * Creates an instance. config: normalised options (an object; borrowed, valid
     * only during init: copy what you keep). On failure return non-BP_OK and set
     * *errmsg to a message allocated with api->alloc/format (the host frees it);
     * the host then calls nothing else on this instance. */
    bp_status (*init)(const struct bp_host_api *api, bp_instance *inst,
                      const cJSON *config, void **self, char **errmsg);

    /* [1.0, main thread] Optional: connect, open files. Errors as init. */
    bp_status (*start)(void *self, char **errmsg);

    /* [1.0, the route's source thread]
     * Source: push up to api->batch_room() records, waiting at most timeout_ms
     * for the first. Returns BP_OK (records pushed, possibly none), BP_AGAIN
     * (nothing now: the core calls again once timeout_ms has passed since this
     * call, or at api->poll_wakeup), BP_EOF (finite input exhausted), or an
     * error (BP_RETRY, BP_NOT_CONNECTED: the core backs off with the route's
     * retry policy and polls again; after errors.retry.max failed polls in a
     * row the route stops with an error). While the route
     * is backpressured the core calls poll with batch_room() 0 and timeout 0
     * about every 200 ms: pause input, keep sessions alive, push nothing. */
    bp_status (*poll)(void *self, bp_poll_batch *batch, int timeout_ms);

    /* [1.0, the route's source thread]
     * Source: these records are done (delivered, parked or dead-lettered), in
     * the order they were pushed: commit offsets / watermarks now. Returns
     * BP_OK when this and every earlier ack are durable (the source will not
     * deliver these records again after a crash); BP_QUEUED when this ack's
     * commit is still in flight but every earlier one is durable; BP_AGAIN
     * when earlier commits are not confirmed yet either. Until an ack is known
     * durable, the core keeps its write-back ledger rows (ledger sinks skip
     * such records if they come again). Other values are logged as errors. */
    bp_status (*ack)(void *self, const uint64_t *tokens, size_t n);

    /* [1.0, the sink's thread] Sink: write the batch, set per-record results (see wb_set_result).
     * The return value is the result of records left unset. BP_OK means
     * durably accepted. */
    bp_status (*write)(void *self, bp_write_batch *wb);

    /* [1.0, one worker thread per instance]
     * Transform one record. *env is the caller's reference; to change it, call
     * api->envelope_make_writable(*env) and store the result back in *env.
     * Returns BP_OK (unchanged), BP_MODIFIED, BP_DROP, BP_REVIEW, BP_REJECT or
     * BP_RETRY; for the last three *reason may be set (api->alloc'ed). */
    bp_status (*transform)(void *self, bp_envelope **env, char **reason);

    /* [1.0, the calling transform's worker thread; the core never calls one
     * instance from two threads at once] Lookup: run the named query with
     * params; contract of api->lookup. */
    bp_status (*lookup)(void *self, const char *query, const cJSON *params,
                        cJSON **result, char **errmsg);

    /* [1.0, main thread]
     * Optional: stop producing/flush (called before destroy on a started instance). */
    void (*stop)(void *self);

    /* [1.0, main thread] Frees self. Called once for every instance that init created. */
    void (*destroy)(void *self);

    /* [1.0] enum bp_plugin_flag bits. */
    uint32_t flags;

    /* [1.1, main thread] Optional command-line commands, {0}-terminated, or NULL. */
    const struct bp_command *commands;

    /* [1.1, main thread] Optional: checks of the normalised options that the schema
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

    /* [1.2, the route's source thread]
     * Source (optional): ack with what became of each record (fates[i], a
     * bp_fate), so that the source can write back accordingly (e.g. move mail
     * parked for review elsewhere than processed mail). When present the core
     * calls it instead of ack; same order, same return values. */
    bp_status (*ack_fates)(void *self, const uint64_t *tokens, const unsigned char *fates,
                           size_t n);

    /* ---- ABI 1.3 (core3-sdk) ---- */

    /* [1.3] The oldest host minor this plugin runs on: the minor whose host
     * entries it calls without BP_HOST_HAS. A host older than that refuses to
     * load it, naming both versions ("plugin needs host ABI 1.4 or newer, this
     * host speaks ABI 1.3"). 0 (or a plugin built before 1.3): any 1.x host;
     * the plugin then tests newer entries with BP_HOST_HAS. */
    uint32_t min_host_minor;
    /* ---- ABI 1.3 (core3-options) ---- */

    /* sizeof(struct bp_option) the plugin was built with; BP_PLUGIN_HEADER
     * sets it. The loader reads the option arrays with this stride. */
    uint32_t option_size;

    /* sizeof the plugin's options struct (the members BP_OPT_FIELD names);
     * 0: none. The core allocates it zeroed, fills every bound option (the
     * default when the site file gives none) and hands it to init_ex in
     * info->options, so a default is written once, in the schema. */
    uint32_t options_size;

    /* Optional, instead of init: the same contract, plus info: the role this
     * instance has in the site (a source, a sink, a lookup provider or a
     * transform) and the bound options. config and info->options stay valid
     * until destroy has returned. */
    bp_status (*init_ex)(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                         const struct bp_instance_info *info, void **self, char **errmsg);

    /* Optional, instead of check: the same contract, plus info (role; the
     * bound options). Runs even when other options of the instance failed the
     * schema, so that `check` prints every error in one pass: an option that
     * failed (or a required one that is missing) is then absent from config
     * and reads as 0/NULL/-1 in info->options; check what is there.
     * info->role is 0 for a connector no route uses. */
    bp_status (*check_ex)(const struct bp_host_api *api, const cJSON *config,
                          const struct bp_instance_info *info,
                          void (*report)(void *ctx, const char *path, int col, const char *msg),
                          void *ctx);
    /* ---- ABI 1.3 (core3-report) ---- */

    /* Optional: the top-level paths this plugin adds to the records it emits
     * (a source) or passes on (a transform), NULL-terminated: "data.subject",
     * "data.from", "flags" (an extension). A transform's paths named in its
     * options ("into: data.invoice", set's keys) count without being listed,
     * so { NULL } says "only what my options name". NULL: not declared; then
     * `check` cannot prove a template path after this stage wrong, and does
     * not try. Read by `check` only (a host before 1.3 ignores it). */
    const char *const *emits;
    /* ---- end ABI 1.3 (core3-report) ---- */
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
    .struct_size = (uint32_t)sizeof(struct bp_plugin), \
    .option_size = (uint32_t)sizeof(struct bp_option)

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
