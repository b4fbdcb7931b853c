/* The tamper-evident audit log (issue 18, docs/audit.md): every audit entry
 * is a leaf of an RFC 9162 Merkle tree kept in the state store (table
 * audit_log; the tree's frontier in audit_tree), and signed checkpoints
 * (C2SP tlog-checkpoint notes, Ed25519) in audit_checkpoints.
 *
 * The leaf of an entry is the byte string
 *   "bp-audit-v1\n" then, for seq, at_ms (decimal), actor, kind, route,
 *   source, id, subject, payload: a 4-byte big-endian length (0xffffffff for
 *   NULL) and the bytes,
 * so any change of any field, or of its position (seq), changes the leaf. */
#ifndef BP_CORE_AUDIT_LOG_H
#define BP_CORE_AUDIT_LOG_H

#include <stdint.h>
#include <stdio.h>

#include <backplane/status.h>

#include "audit_merkle.h"
#include "state.h"

struct cJSON;

/* One audit entry. Strings borrowed; only kind is required. */
typedef struct bp_audit_entry {
    const char *actor;     /* "os:alice", "api:token-name", "route:invoices" */
    const char *kind;      /* "ai", "delivered", "review:approved", "dlq:replay", "dlq:drop",
                            * "reload", "token", "checkpoint:reset", "receipt" */
    const char *route;
    const char *source, *id, *subject;   /* the record, when the entry is about one */
    const char *payload;   /* JSON text: what was decided, changed, written */
    int64_t at_ms;         /* 0: now */
} bp_audit_entry;

/* Appends n entries as leaves, in ONE transaction (the frontier is read and
 * written once: O(n log size)), and signs a checkpoint when a signer is set
 * and checkpoint_every / checkpoint_interval is due. Durable on BP_OK;
 * BP_ERR_IO when the store failed (nothing appended). Any thread. */
bp_status bp_audit_append(bp_state *st, const bp_audit_entry *e);
bp_status bp_audit_append_n(bp_state *st, const bp_audit_entry *e, size_t n);

/* The owner's signer: origin (the site's name), the Ed25519 private key read
 * from key_path (a PEM file that must not be readable by group or others).
 * Checkpoints then follow appends every `every` entries or interval_ms.
 * Returns BP_OK, else BP_ERR_INVALID with a malloc'ed *errmsg naming the file. */
bp_status bp_audit_set_signer(bp_state *st, const char *origin, const char *key_path,
                              int64_t every, int64_t interval_ms, char **errmsg);

/* Signs a checkpoint of the tree as it is now (when it grew since the last);
 * BP_OK, BP_ERR_INVALID without a signer, BP_ERR_IO. */
bp_status bp_audit_checkpoint_now(bp_state *st);

/* Signs a checkpoint when one is due by the signer's every / interval_ms
 * although nothing is being appended: the tree grew since the last checkpoint
 * (by this process or another on the same state) and the last is interval_ms
 * old. The owner calls it every second (`run`), so a quiet log is signed
 * within a second of T. BP_OK (also without a signer, or nothing due),
 * BP_ERR_IO. Any thread. */
bp_status bp_audit_checkpoint_if_due(bp_state *st);

/* The newest stored checkpoint note (malloc'ed), BP_ERR_NOT_FOUND when none. */
bp_status bp_audit_latest_checkpoint(bp_state *st, char **note);

/* Writes a new Ed25519 private key (PEM, mode 0600, never overwriting) to
 * path. 0, or -1 with *errmsg malloc'ed. */
int bp_audit_keygen(const char *path, char **errmsg);

/* Result of a verification: ok 1 when all holds, else why names the first
 * bad entry or checkpoint (malloc'ed). */
typedef struct bp_audit_verdict {
    int ok;
    char *why;
    uint64_t size;           /* leaves checked */
    uint64_t checkpoints;    /* signed checkpoints checked */
    uint64_t pruned;         /* entries whose payload retention removed */
    bp_mhash root;
} bp_audit_verdict;

/* Recomputes every leaf from its row and the tree from the leaves; checks
 * the stored tree head, every stored checkpoint (its root, and its
 * signature with the key of key_path — the site's signing key — when not
 * NULL), and, when older_note is not NULL, that the log extends that
 * checkpoint (same origin and key, its root at its size). BP_OK with *v
 * filled (v->ok says the verdict), BP_ERR_IO when the store could not be
 * read. origin: the expected origin (site name). */
bp_status bp_audit_verify(bp_state *st, const char *origin, const char *key_path,
                          const char *older_note, bp_audit_verdict *v);
void bp_audit_verdict_clear(bp_audit_verdict *v);

/* The same checks over leaves and notes given in memory (the fuzz target's
 * entry): rows[i] the leaf hashes the store claims, leaves[i] the leaf bytes
 * (NULL: pruned, trust rows[i]). Notes are verified with pub (32 bytes). */
int bp_audit_verify_mem(const bp_mhash *stored, const unsigned char *const *leaves,
                        const size_t *leaf_len, uint64_t n, const char *const *notes,
                        size_t n_notes, const char *origin, const unsigned char *pub,
                        char **why);

/* One record's way: every entry whose source/id, subject or payload names
 * subject_or_id, oldest first, as a JSON array of
 * {seq, at, actor, kind, route, source, id, subject, payload}. *out: the
 * caller's (cJSON_Delete). BP_OK (maybe an empty array), BP_ERR_IO. */
bp_status bp_audit_trace(bp_state *st, const char *subject_or_id, struct cJSON **out);

/* JSON lines of the entries since since_ms (0: all) with each one's leaf
 * hash and inclusion proof in the tree at the latest checkpoint (or the
 * current tree when there is none). Returns entries written, or -1. */
int64_t bp_audit_export(bp_state *st, int64_t since_ms, FILE *out);

/* Prunes payloads of entries older than older_than_ms (wall clock), keeping
 * their leaf hashes. Returns how many, or -1. */
int64_t bp_audit_prune(bp_state *st, int64_t older_than_ms);

/* Leaf bytes of an entry (malloc'ed, *len set): the encoding above. */
unsigned char *bp_audit_leaf_bytes(uint64_t seq, const bp_audit_entry *e, size_t *len);

/* Parses a tlog-checkpoint note: origin (malloc'ed), size, root; verifies its
 * signature line by origin with pub when pub is not NULL. 1 ok, 0 bad (why). */
int bp_audit_note_parse(const char *note, const unsigned char *pub, char **origin,
                        uint64_t *size, bp_mhash root, char **why);

#endif
