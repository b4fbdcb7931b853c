/* backplane SDK: the envelope, a CloudEvents 1.0 event plus attachments and lineage.
 *
 * Ownership (OpenSSL style):
 *   get0  borrows: the pointer stays valid while the envelope lives and is not changed.
 *   set0  takes:   the envelope now owns the argument (also on failure: it is freed).
 *   dup   gives:   the caller owns the result and frees it.
 *
 * Envelopes are reference counted (atomically; safe to ref/unref across threads).
 * An envelope with more than one reference is shared and must not be changed:
 * call bp_envelope_make_writable() first (copy-on-write, like syslog-ng's
 * log_msg_make_writable). Every mutating function returns BP_ERR_INVALID when
 * called on a shared envelope.
 *
 * Plugins do not link against these symbols: they call the same functions through
 * the host-API table (struct bp_host_api in plugin.h). An embedding program links
 * libbackplane and may call them directly.
 */
#ifndef BACKPLANE_ENVELOPE_H
#define BACKPLANE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <backplane/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bp_envelope bp_envelope;

/* An attachment travels beside `data` (a mail's PDF, say). */
typedef struct bp_attachment {
    const char *name;        /* file name, may be "" */
    const char *media_type;  /* e.g. "application/pdf" */
    const unsigned char *bytes;
    size_t size;
} bp_attachment;

/* One step of the audit trail: what a transform did. */
typedef struct bp_lineage {
    const char *plugin;      /* plugin name, e.g. "set" */
    const char *version;     /* plugin version */
    const char *model;       /* model name/version, or NULL */
    double confidence;       /* 0..1, or a negative number when not applicable */
    const char *changed;     /* comma-separated changed paths, or NULL */
    int64_t at_ms;           /* wall-clock time, ms since the epoch */
} bp_lineage;

/* A Kafka-style header (binary content mode). value is not NUL-terminated. */
typedef struct bp_header {
    char *name;
    unsigned char *value;
    size_t len;
} bp_header;

/* Serialisation flags for bp_envelope_to_json(). */
enum {
    BP_SER_DEFAULT = 0,      /* pure CloudEvents JSON: attributes, extensions, data */
    BP_SER_FULL = 1 << 0,    /* also "bpattachments" and "bplineage" (for bus-to-bus hops) */
    BP_SER_PRETTY = 1 << 1   /* indented output */
};

/* ---- life cycle --------------------------------------------------------- */

/* New empty envelope, refcount 1, specversion "1.0", no data.
 * Returns NULL when out of memory. */
bp_envelope *bp_envelope_new(void);

/* Takes one more reference; returns env. NULL-safe. */
bp_envelope *bp_envelope_ref(bp_envelope *env);

/* Drops one reference; the last one frees the envelope. NULL-safe. */
void bp_envelope_unref(bp_envelope *env);

/* Deep copy with refcount 1 (the caller owns it). NULL when out of memory. */
bp_envelope *bp_envelope_dup(const bp_envelope *env);

/* 1 when the caller holds the only reference (the envelope may be changed). */
int bp_envelope_is_writable(const bp_envelope *env);

/* Copy-on-write. Takes the caller's reference to env and returns an envelope the
 * caller may change: env itself when it was not shared, otherwise a copy (and
 * env's reference is dropped). Returns NULL when out of memory; the caller's
 * reference to env is then left untouched. */
bp_envelope *bp_envelope_make_writable(bp_envelope *env);

/* ---- attributes ---------------------------------------------------------- */

/* Returns a context attribute ("id", "source", "specversion", "type", "subject",
 * "time", "datacontenttype", "dataschema") or a string-valued extension, borrowed.
 * NULL when absent. For integer/boolean extensions use bp_envelope_get0_ext(). */
const char *bp_envelope_get0_attr(const bp_envelope *env, const char *name);

/* Sets (copies) a context attribute or a string extension; value NULL removes it
 * (required attributes cannot be removed: BP_ERR_INVALID). Errors: BP_ERR_INVALID
 * for a shared envelope, a bad extension name (CloudEvents: a-z and 0-9 only,
 * 1..20 characters), specversion other than "1.0", a "time" that is not RFC 3339,
 * or an empty required attribute; BP_ERR_NOMEM. */
bp_status bp_envelope_set_attr(bp_envelope *env, const char *name, const char *value);

/* Extensions (any CloudEvents extension: string, integer or boolean). */
const cJSON *bp_envelope_get0_ext(const bp_envelope *env, const char *name);
/* Takes value (must be a cJSON string, number or bool; freed on failure).
 * Errors as bp_envelope_set_attr; name must not be a context attribute. */
bp_status bp_envelope_set0_ext(bp_envelope *env, const char *name, cJSON *value);
/* Number of extensions and the i-th name (borrowed), in insertion order. */
size_t bp_envelope_ext_count(const bp_envelope *env);
const char *bp_envelope_ext_name(const bp_envelope *env, size_t i);

/* Fills missing id (random UUIDv4), specversion and time (now, UTC) and checks
 * that id, source, type are present and non-empty. On failure returns
 * BP_ERR_INVALID and, if errmsg is not NULL, a malloc'ed message. */
bp_status bp_envelope_finalize(bp_envelope *env, char **errmsg);

/* ---- data ------------------------------------------------------------- */

/* Borrowed data tree, NULL when the event has no data. */
const cJSON *bp_envelope_get0_data(const bp_envelope *env);
/* Mutable access to data (BP_ERR_INVALID semantics: NULL when shared). */
cJSON *bp_envelope_get0_data_mut(bp_envelope *env);
/* Takes data (NULL clears it). BP_ERR_INVALID when shared (data is freed). */
bp_status bp_envelope_set0_data(bp_envelope *env, cJSON *data);

/* Sets data from JSON text (copied) to be parsed later: by the core on a
 * transform worker thread before any transform sees the record (so a source's
 * thread only reads), or at the first access to data. origin (copied, may be
 * NULL) says where the text came from, e.g. "in.jsonl:12", for the error when
 * it is not valid JSON. Errors: BP_ERR_INVALID (shared envelope), BP_ERR_NOMEM. */
bp_status bp_envelope_set_data_json(bp_envelope *env, const char *text, size_t len,
                                    const char *origin);

/* Parses deferred data now. BP_OK also when there was none. On invalid JSON
 * returns BP_ERR_PARSE, keeps the text (bp_envelope_get0_raw_data) and sets
 * *errmsg (malloc'ed, if errmsg is not NULL) to "ORIGIN:COL: invalid JSON". */
bp_status bp_envelope_materialize(bp_envelope *env, char **errmsg);

/* The deferred JSON text not parsed yet (borrowed), or NULL. */
const char *bp_envelope_get0_raw_data(const bp_envelope *env, size_t *len);

/* Paths address the whole envelope: a context attribute ("subject"), an
 * extension ("confidence"), or data ("data", "data.vendor.name",
 * "data.lines[0].amount"). Returns the node borrowed, NULL when absent.
 * Attributes are returned as cJSON strings owned by the envelope. */
const cJSON *bp_envelope_get0_path(const bp_envelope *env, const char *path);

/* Sets the node at path, taking value (freed on failure). Missing objects on
 * the way are created in data. Attributes accept strings only; extensions
 * strings, numbers and booleans. Errors: BP_ERR_INVALID (shared envelope, bad
 * path, wrong type, index out of range), BP_ERR_NOMEM. */
bp_status bp_envelope_set0_path(bp_envelope *env, const char *path, cJSON *value);

/* Removes the node at path. BP_ERR_NOT_FOUND when absent, BP_ERR_INVALID when
 * the path is a required attribute or the envelope is shared. */
bp_status bp_envelope_remove_path(bp_envelope *env, const char *path);

/* Syntax check of a path without an envelope: BP_OK or BP_ERR_PARSE. */
bp_status bp_path_check(const char *path);

/* ---- attachments ------------------------------------------------------ */

/* Copies name, media type and bytes. Errors: BP_ERR_INVALID (shared), BP_ERR_NOMEM. */
bp_status bp_envelope_add_attachment(bp_envelope *env, const char *name,
                                     const char *media_type,
                                     const void *bytes, size_t size);
size_t bp_envelope_attachment_count(const bp_envelope *env);
/* Borrowed view of the i-th attachment; NULL when i is out of range. */
const bp_attachment *bp_envelope_get0_attachment(const bp_envelope *env, size_t i);

/* ---- lineage ---------------------------------------------------------- */

/* Appends a copy of *entry (strings are copied; at_ms 0 means now). */
bp_status bp_envelope_add_lineage(bp_envelope *env, const bp_lineage *entry);
size_t bp_envelope_lineage_count(const bp_envelope *env);
const bp_lineage *bp_envelope_get0_lineage(const bp_envelope *env, size_t i);

/* ---- serialisation: CloudEvents JSON (structured mode) ----------------- */

/* Returns a malloc'ed NUL-terminated JSON text (caller frees with free()),
 * NULL when out of memory. flags: BP_SER_*. */
char *bp_envelope_to_json(const bp_envelope *env, int flags);

/* Parses one structured-mode event. On success *out holds a new envelope
 * (refcount 1). On failure returns BP_ERR_PARSE (not JSON; message has
 * "line:col") or BP_ERR_INVALID (not a valid CloudEvent: missing required
 * attribute, bad extension name, wrong specversion), and *errmsg (if errmsg is
 * not NULL) a malloc'ed message. */
bp_status bp_envelope_from_json(const char *text, size_t len,
                                bp_envelope **out, char **errmsg);

/* Batch mode (application/cloudevents-batch+json): a JSON array of events. */
char *bp_envelope_batch_to_json(bp_envelope *const *envs, size_t n, int flags);
/* On success *out is a malloc'ed array of *n new envelopes (free each with
 * bp_envelope_unref, the array with free()). Errors as bp_envelope_from_json;
 * the message names the failing element ("event 3: ..."). */
bp_status bp_envelope_batch_from_json(const char *text, size_t len,
                                      bp_envelope ***out, size_t *n, char **errmsg);

/* ---- serialisation: binary content mode (Kafka headers) ---------------- */

/* Attributes become "ce_<name>" headers, datacontenttype becomes
 * "content-type", data becomes the value (JSON text for JSON data, the raw
 * string for text data, decoded bytes for data_base64). On success *headers is
 * a malloc'ed array of *n headers (free with bp_headers_free) and *value a
 * malloc'ed buffer of *value_len bytes (NULL/0 when there is no data). */
bp_status bp_envelope_to_binary(const bp_envelope *env, bp_header **headers,
                                size_t *n, unsigned char **value, size_t *value_len);

/* Builds an envelope from binary-mode headers and value. Headers that are not
 * "ce_*" or "content-type" are ignored. Errors as bp_envelope_from_json. */
bp_status bp_envelope_from_binary(const bp_header *headers, size_t n,
                                  const void *value, size_t value_len,
                                  bp_envelope **out, char **errmsg);

/* Frees an array returned by bp_envelope_to_binary. NULL-safe. */
void bp_headers_free(bp_header *headers, size_t n);

#ifdef __cplusplus
}
#endif
#endif
