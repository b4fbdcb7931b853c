/* The audit log's private parts, shared by audit_*.c and state_audit.c. */
#ifndef BP_CORE_AUDIT_INT_H
#define BP_CORE_AUDIT_INT_H

#include "audit_log.h"

typedef struct bp_audit_signer bp_audit_signer;

/* A signed tlog-checkpoint note of (size, root) by s: malloc'ed, or NULL. */
char *bp_audit_sign_note(const bp_audit_signer *s, uint64_t size, const bp_mhash root);
/* Whether a checkpoint is due at size (the last at last_size, last_ms). */
int bp_audit_signer_due(const bp_audit_signer *s, uint64_t size, uint64_t last_size,
                        int64_t last_ms, int64_t now);
void bp_audit_signer_free(bp_audit_signer *s);
/* A signer of the Ed25519 key with that 32-byte seed (tests, fuzz): pub gets
 * its public key. NULL when libcrypto failed. */
bp_audit_signer *bp_audit_signer_new_raw(const unsigned char seed[32], const char *origin,
                                         unsigned char pub[32]);
/* Loads an Ed25519 private key (PEM, 0600 or stricter): its raw public key
 * (32 bytes) into pub; returns the EVP_PKEY (void *), or NULL with *errmsg. */
void *bp_audit_load_key(const char *path, unsigned char pub[32], char **errmsg);

/* One stored row (strings borrowed from the statement for the callback). */
typedef struct bp_audit_row {
    int64_t seq;
    bp_audit_entry e;
    int pruned;
    const void *leaf;
    size_t leaf_len;
} bp_audit_row;

/* Appends n entries: lock held, inside a transaction. 1 ok, 0 failed. */
int bp_state_audit_append_locked(bp_state *st, const bp_audit_entry *e, size_t n);
/* Rows in seq order; where_sql e.g. "WHERE source = ?1" with one text arg. */
bp_status bp_state_audit_rows(bp_state *st, const char *where_sql, const char *arg,
                              int (*fn)(const bp_audit_row *row, void *ud), void *ud);
/* The stored tree head; *present 0 none, 1 read, -1 damaged. */
bp_status bp_state_audit_head(bp_state *st, bp_merkle_frontier *f, int *present);
bp_status bp_state_audit_checkpoints(bp_state *st,
                                     int (*fn)(int64_t size, const void *root, size_t root_len,
                                               const char *note, void *ud),
                                     void *ud);
bp_status bp_state_audit_migrate(bp_state *st, char **sqlerr);

#endif
