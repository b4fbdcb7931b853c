/* backplane SDK: status codes.
 *
 * One enum for the whole project. BP_OK is 0; everything else is negative.
 * Codes are APPEND-ONLY: never renumber, never remove (libcurl's rule). A plugin
 * built against an older SDK must keep meaning the same thing.
 */
#ifndef BACKPLANE_STATUS_H
#define BACKPLANE_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bp_status {
    BP_OK = 0,

    /* Generic failures. */
    BP_ERR_NOMEM = -1,        /* allocation failed */
    BP_ERR_INVALID = -2,      /* invalid argument or malformed input */
    BP_ERR_NOT_FOUND = -3,    /* no such key / path / plugin / connector */
    BP_ERR_IO = -4,           /* operating-system I/O error (see errno in the log) */
    BP_ERR_PARSE = -5,        /* text could not be parsed (JSON, YAML, predicate, ...) */
    BP_ERR_ABI = -6,          /* plugin built for an incompatible ABI */
    BP_ERR_UNSUPPORTED = -7,  /* the operation is not offered (callback missing, old host) */
    BP_ERR_INTERNAL = -8,     /* a bug: an invariant did not hold */

    /* Per-record results of a sink's write (syslog-ng's LTR_* model): the core,
     * not the plugin, owns retry and dead-letter policy. */
    BP_QUEUED = -20,          /* accepted, durable acknowledgement comes later (async) */
    BP_RETRY = -21,           /* transient failure: try the same record again later */
    BP_NOT_CONNECTED = -22,   /* the peer is down: retry after reconnecting */
    BP_REJECT = -23,          /* permanent failure: dead-letter this record, go on */

    /* Per-record results of a transform. BP_OK means "unchanged, pass on". */
    BP_MODIFIED = -30,        /* changed (the envelope was made writable first) */
    BP_DROP = -31,            /* filter this record out: it is acked, not delivered */
    BP_REVIEW = -32,          /* park for human review */

    /* Source results. */
    BP_AGAIN = -40,           /* nothing available right now: poll again later */
    BP_EOF = -41,             /* finite input exhausted: this source has no more */
    BP_STOPPED = -42,         /* the runtime is shutting down */

    /* ---- ABI 1.3 (core3-runtime) ---- */
    BP_ERR_FULL = -43,        /* batch_push: the batch is full (batch_room() was 0); the
                               * record was not taken: push it in a later poll */

    /* ---- ABI 1.3 (robust2) ---- */
    BP_ERR_DEPTH = -44        /* JSON nested deeper than BP_JSON_MAX_DEPTH (1000) levels:
                               * cannot be written (a permanent fault of the record, not
                               * of memory: reject it) */
} bp_status;

/* Returns a static, human-readable name for a status ("ok", "retry", ...).
 * Never NULL; unknown codes give "unknown status". */
const char *bp_status_str(bp_status st);

#ifdef __cplusplus
}
#endif
#endif
