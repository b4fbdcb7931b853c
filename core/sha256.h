/* SHA-256 (FIPS 180-4), for ids the core derives from a record's content: a
 * collision would make a ledgered sink skip a record, so the hash must resist
 * crafted input (FNV would not). Incremental; not thread-shared. */
#ifndef BP_CORE_SHA256_H
#define BP_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct bp_sha256 {
    uint32_t h[8];
    uint64_t len;          /* bytes hashed so far */
    unsigned char buf[64];
    size_t n;              /* bytes in buf */
} bp_sha256;

void bp_sha256_init(bp_sha256 *s);
void bp_sha256_update(bp_sha256 *s, const void *data, size_t len);
void bp_sha256_final(bp_sha256 *s, unsigned char out[32]);

#endif
