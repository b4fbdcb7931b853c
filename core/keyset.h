/* A set of byte strings (open addressing, FNV-1a). Used for the write-back
 * ledger's keys left by earlier runs. Not thread-safe. */
#ifndef BP_CORE_KEYSET_H
#define BP_CORE_KEYSET_H

#include <stddef.h>

typedef struct bp_keyset bp_keyset;

bp_keyset *bp_keyset_new(void);
void bp_keyset_free(bp_keyset *ks);
/* Adds a copy of key (len bytes). 0 on success, -1 when out of memory. */
int bp_keyset_add(bp_keyset *ks, const void *key, size_t len);
/* 1 when key is in the set. */
int bp_keyset_has(const bp_keyset *ks, const void *key, size_t len);
size_t bp_keyset_count(const bp_keyset *ks);

#endif
