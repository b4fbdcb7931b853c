/* See audit_merkle.h. */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit_merkle.h"
#include "sha256.h"

/* One digest context per thread, reused (no allocation per hash), and the
 * SHA-256 implementation fetched once: an append hashes log n nodes, and
 * EVP_MD_CTX_new + an implicit fetch per hash cost more than the hash. */
static pthread_once_t merkle_once = PTHREAD_ONCE_INIT;
static pthread_key_t merkle_key;
static EVP_MD *merkle_md;

static void merkle_ctx_free(void *c)
{
    EVP_MD_CTX_free(c);
}

static void merkle_init(void)
{
    merkle_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (pthread_key_create(&merkle_key, merkle_ctx_free) != 0)
        merkle_md = NULL;
}

static int merkle_hash3(const void *a, size_t la, const void *b, size_t lb, const void *c,
                        size_t lc, bp_mhash out)
{
    pthread_once(&merkle_once, merkle_init);
    EVP_MD_CTX *x = merkle_md ? pthread_getspecific(merkle_key) : NULL;
    if (merkle_md && x == NULL && (x = EVP_MD_CTX_new()) != NULL &&
        pthread_setspecific(merkle_key, x) != 0) {
        EVP_MD_CTX_free(x);
        x = NULL;
    }
    unsigned int n = 0;
    if (x == NULL || EVP_DigestInit_ex(x, merkle_md, NULL) != 1 ||
        EVP_DigestUpdate(x, a, la) != 1 || (lb && EVP_DigestUpdate(x, b, lb) != 1) ||
        (lc && EVP_DigestUpdate(x, c, lc) != 1) || EVP_DigestFinal_ex(x, out, &n) != 1 ||
        n != BP_MERKLE_HASH) {
        memset(out, 0, BP_MERKLE_HASH);
        return -1;
    }
    return 0;
}

int bp_merkle_leaf_hash(const void *leaf, size_t len, bp_mhash out)
{
    static const unsigned char pre = 0x00;
    return merkle_hash3(&pre, 1, leaf, len, NULL, 0, out);
}

int bp_merkle_node_hash(const bp_mhash left, const bp_mhash right, bp_mhash out)
{
    static const unsigned char pre = 0x01;
    bp_mhash l, r;
    memcpy(l, left, sizeof(l));     /* out may alias left or right */
    memcpy(r, right, sizeof(r));
    return merkle_hash3(&pre, 1, l, sizeof(l), r, sizeof(r), out);
}

static int merkle_empty(bp_mhash out)
{
    bp_sha256 s;
    bp_sha256_init(&s);
    return bp_sha256_final(&s, out);
}

void bp_merkle_frontier_init(bp_merkle_frontier *f)
{
    memset(f, 0, sizeof(*f));
}

int bp_merkle_frontier_append(bp_merkle_frontier *f, const bp_mhash leaf)
{
    if (f->size >= (UINT64_C(1) << 63))
        return -1;
    bp_mhash h;
    memcpy(h, leaf, sizeof(h));
    int k = 0;
    /* Carry: each set low bit merges a perfect subtree with the new one. */
    while (f->size & (UINT64_C(1) << k)) {
        if (bp_merkle_node_hash(f->node[k], h, h) != 0)
            return -1;
        k++;
    }
    memcpy(f->node[k], h, sizeof(h));
    f->size++;
    return 0;
}

int bp_merkle_frontier_root(const bp_merkle_frontier *f, bp_mhash out)
{
    if (f->size == 0)
        return merkle_empty(out);
    int have = 0;
    bp_mhash acc;
    for (int k = 0; k < 64; k++) {
        if (!(f->size & (UINT64_C(1) << k)))
            continue;
        if (!have) {
            memcpy(acc, f->node[k], sizeof(acc));
            have = 1;
        } else if (bp_merkle_node_hash(f->node[k], acc, acc) != 0) {
            return -1;
        }
    }
    memcpy(out, acc, BP_MERKLE_HASH);
    return 0;
}

size_t bp_merkle_frontier_pack(const bp_merkle_frontier *f, unsigned char *buf)
{
    size_t n = 0;
    for (int k = 0; k < 64; k++)
        if (f->size & (UINT64_C(1) << k)) {
            memcpy(buf + n, f->node[k], BP_MERKLE_HASH);
            n += BP_MERKLE_HASH;
        }
    return n;
}

int bp_merkle_frontier_unpack(bp_merkle_frontier *f, uint64_t size, const unsigned char *buf,
                              size_t len)
{
    bp_merkle_frontier_init(f);
    if ((size_t)__builtin_popcountll(size) * BP_MERKLE_HASH != len ||
        size > (UINT64_C(1) << 63))
        return -1;
    f->size = size;
    size_t n = 0;
    for (int k = 0; k < 64; k++)
        if (size & (UINT64_C(1) << k)) {
            memcpy(f->node[k], buf + n, BP_MERKLE_HASH);
            n += BP_MERKLE_HASH;
        }
    return 0;
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t merkle_split(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

int bp_merkle_root(const bp_mhash *leaves, uint64_t n, bp_mhash out)
{
    if (n == 0)
        return merkle_empty(out);
    bp_merkle_frontier f;
    bp_merkle_frontier_init(&f);
    for (uint64_t i = 0; i < n; i++)
        if (bp_merkle_frontier_append(&f, leaves[i]) != 0)
            return -1;
    return bp_merkle_frontier_root(&f, out);
}

/* PATH(m, D[n]) of RFC 9162 §2.1.3.1, appended bottom-up to proof. */
static int merkle_path(const bp_mhash *d, uint64_t n, uint64_t m, bp_mhash *proof, size_t *np)
{
    if (n <= 1)
        return 0;
    uint64_t k = merkle_split(n);
    bp_mhash sib;
    if (m < k) {
        if (merkle_path(d, k, m, proof, np) != 0 || bp_merkle_root(d + k, n - k, sib) != 0)
            return -1;
    } else {
        if (merkle_path(d + k, n - k, m - k, proof, np) != 0 || bp_merkle_root(d, k, sib) != 0)
            return -1;
    }
    if (*np >= BP_MERKLE_MAX_PROOF)
        return -1;
    memcpy(proof[(*np)++], sib, BP_MERKLE_HASH);
    return 0;
}

int bp_merkle_inclusion_proof(const bp_mhash *leaves, uint64_t size, uint64_t index,
                              bp_mhash *proof, size_t *n_out)
{
    *n_out = 0;
    if (index >= size)
        return -1;
    return merkle_path(leaves, size, index, proof, n_out);
}

/* SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1. */
static int merkle_subproof(const bp_mhash *d, uint64_t n, uint64_t m, int b, bp_mhash *proof,
                           size_t *np)
{
    bp_mhash h;
    if (m == n) {
        if (b)
            return 0;
        if (bp_merkle_root(d, n, h) != 0)
            return -1;
    } else {
        uint64_t k = merkle_split(n);
        if (m <= k) {
            if (merkle_subproof(d, k, m, b, proof, np) != 0 ||
                bp_merkle_root(d + k, n - k, h) != 0)
                return -1;
        } else {
            if (merkle_subproof(d + k, n - k, m - k, 0, proof, np) != 0 ||
                bp_merkle_root(d, k, h) != 0)
                return -1;
        }
    }
    if (*np >= BP_MERKLE_MAX_PROOF)
        return -1;
    memcpy(proof[(*np)++], h, BP_MERKLE_HASH);
    return 0;
}

int bp_merkle_consistency_proof(const bp_mhash *leaves, uint64_t size1, uint64_t size2,
                                bp_mhash *proof, size_t *n_out)
{
    *n_out = 0;
    if (size1 > size2)
        return -1;
    if (size1 == 0 || size1 == size2)
        return 0;
    return merkle_subproof(leaves, size2, size1, 1, proof, n_out);
}

int bp_merkle_verify_inclusion(uint64_t index, uint64_t size, const bp_mhash leaf,
                               const bp_mhash *proof, size_t n, const bp_mhash root)
{
    if (index >= size || n > BP_MERKLE_MAX_PROOF)
        return 0;
    uint64_t fn = index, sn = size - 1;
    bp_mhash r;
    memcpy(r, leaf, sizeof(r));
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return 0;               /* longer than the path: falsified */
        if ((fn & 1) || fn == sn) {
            if (bp_merkle_node_hash(proof[i], r, r) != 0)
                return 0;
            if (!(fn & 1))
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else if (bp_merkle_node_hash(r, proof[i], r) != 0) {
            return 0;
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, BP_MERKLE_HASH) == 0;
}

int bp_merkle_verify_consistency(uint64_t size1, uint64_t size2, const bp_mhash root1,
                                 const bp_mhash root2, const bp_mhash *proof, size_t n)
{
    if (size1 > size2 || n > BP_MERKLE_MAX_PROOF)
        return 0;
    if (size1 == size2)
        return n == 0 && memcmp(root1, root2, BP_MERKLE_HASH) == 0;
    if (size1 == 0)
        return n == 0;              /* the empty tree is a prefix of all */
    if (n == 0)
        return 0;
    /* When size1 is a power of two, root1 is the proof's implicit first node. */
    bp_mhash first[1];
    const bp_mhash *p = proof;
    size_t np = n;
    bp_mhash buf[BP_MERKLE_MAX_PROOF + 1];
    if ((size1 & (size1 - 1)) == 0) {
        if (n + 1 > BP_MERKLE_MAX_PROOF + 1)
            return 0;
        memcpy(first[0], root1, BP_MERKLE_HASH);
        memcpy(buf[0], first[0], BP_MERKLE_HASH);
        memcpy(buf + 1, proof, n * BP_MERKLE_HASH);
        p = buf;
        np = n + 1;
    }
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    bp_mhash fr, sr;
    memcpy(fr, p[0], sizeof(fr));
    memcpy(sr, p[0], sizeof(sr));
    for (size_t i = 1; i < np; i++) {
        if (sn == 0)
            return 0;
        if ((fn & 1) || fn == sn) {
            if (bp_merkle_node_hash(p[i], fr, fr) != 0 || bp_merkle_node_hash(p[i], sr, sr) != 0)
                return 0;
            if (!(fn & 1))
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else if (bp_merkle_node_hash(sr, p[i], sr) != 0) {
            return 0;
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(fr, root1, BP_MERKLE_HASH) == 0 &&
           memcmp(sr, root2, BP_MERKLE_HASH) == 0;
}

void bp_merkle_hex(const bp_mhash h, char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < BP_MERKLE_HASH; i++) {
        out[2 * i] = hx[h[i] >> 4];
        out[2 * i + 1] = hx[h[i] & 15];
    }
    out[64] = 0;
}
