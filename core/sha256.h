/* SHA-256, for ids and scope names the core derives from content: a collision
 * would make a ledgered sink skip a record, so the hash must resist crafted
 * input (FNV would not). A thin layer over OpenSSL's EVP digest (libcrypto),
 * not a hand-written hash. Incremental; one bp_sha256 per thread at a time. */
#ifndef BP_CORE_SHA256_H
#define BP_CORE_SHA256_H

#include <stddef.h>

typedef struct bp_sha256 {
    void *ctx;        /* EVP_MD_CTX; NULL once libcrypto failed (out of memory) */
} bp_sha256;

/* Starts a digest. The context is freed by bp_sha256_final, which must follow. */
void bp_sha256_init(bp_sha256 *s);
void bp_sha256_update(bp_sha256 *s, const void *data, size_t len);
/* Writes the digest and frees the context. Returns 0, or -1 when libcrypto
 * failed anywhere since init (out holds zeros then: never use it). */
int bp_sha256_final(bp_sha256 *s, unsigned char out[32]);

#endif
