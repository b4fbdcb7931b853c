/* See keyset.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyset.h"

typedef struct {
    uint64_t h;
    char *key;        /* NULL: empty slot */
    size_t len;
} ks_slot;

struct bp_keyset {
    ks_slot *slots;
    size_t cap, n;    /* cap is a power of two, kept under 70% full */
};

static uint64_t ks_hash(const void *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *p = key;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

bp_keyset *bp_keyset_new(void)
{
    return calloc(1, sizeof(bp_keyset));
}

void bp_keyset_free(bp_keyset *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->cap; i++)
        free(ks->slots[i].key);
    free(ks->slots);
    free(ks);
}

static ks_slot *ks_find(ks_slot *slots, size_t cap, uint64_t h, const void *key, size_t len)
{
    for (size_t i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        ks_slot *s = &slots[i];
        if (s->key == NULL || (s->h == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

static int ks_grow(bp_keyset *ks)
{
    size_t cap = ks->cap ? ks->cap * 2 : 64;
    ks_slot *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < ks->cap; i++)
        if (ks->slots[i].key)
            *ks_find(slots, cap, ks->slots[i].h, ks->slots[i].key, ks->slots[i].len) =
                ks->slots[i];
    free(ks->slots);
    ks->slots = slots;
    ks->cap = cap;
    return 0;
}

int bp_keyset_add(bp_keyset *ks, const void *key, size_t len)
{
    if ((ks->n + 1) * 10 > ks->cap * 7 && ks_grow(ks) < 0)
        return -1;
    uint64_t h = ks_hash(key, len);
    ks_slot *s = ks_find(ks->slots, ks->cap, h, key, len);
    if (s->key)
        return 0;
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, key, len);
    *s = (ks_slot){.h = h, .key = copy, .len = len};
    ks->n++;
    return 0;
}

int bp_keyset_has(const bp_keyset *ks, const void *key, size_t len)
{
    if (ks == NULL || ks->n == 0)
        return 0;
    return ks_find(ks->slots, ks->cap, ks_hash(key, len), key, len)->key != NULL;
}

size_t bp_keyset_count(const bp_keyset *ks)
{
    return ks ? ks->n : 0;
}
