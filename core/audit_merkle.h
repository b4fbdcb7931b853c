/* The audit log's Merkle tree, per RFC 9162 §2.1 (Certificate Transparency v2):
 * leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right),
 * the empty tree's root = SHA-256(""). A frontier (the roots of the perfect
 * subtrees on the tree's right edge, one per set bit of the size) makes an
 * append O(log n) and yields the root without the leaves. Inclusion and
 * consistency proofs (§2.1.3, §2.1.4): made from the leaf hashes, verified
 * from the proof alone. Pure functions over caller memory; thread-safe. */
#ifndef BP_CORE_AUDIT_MERKLE_H
#define BP_CORE_AUDIT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define BP_MERKLE_HASH 32
#define BP_MERKLE_MAX_PROOF 64      /* hashes in any proof of a tree < 2^63 */

typedef unsigned char bp_mhash[BP_MERKLE_HASH];

/* Leaf and node hashes. Return 0, or -1 when libcrypto failed (out: zeros). */
int bp_merkle_leaf_hash(const void *leaf, size_t len, bp_mhash out);
int bp_merkle_node_hash(const bp_mhash left, const bp_mhash right, bp_mhash out);

/* The right edge of a tree of `size` leaves: node[k] is the root of the
 * perfect subtree of 2^k leaves when bit k of size is set (else unused). */
typedef struct bp_merkle_frontier {
    uint64_t size;
    bp_mhash node[64];
} bp_merkle_frontier;

void bp_merkle_frontier_init(bp_merkle_frontier *f);
/* Appends one leaf hash: O(log size). 0, or -1 (libcrypto, or size at 2^63). */
int bp_merkle_frontier_append(bp_merkle_frontier *f, const bp_mhash leaf);
/* The tree's root hash (the empty tree's for size 0). 0 or -1. */
int bp_merkle_frontier_root(const bp_merkle_frontier *f, bp_mhash out);
/* Packs the set nodes (lowest level first) into buf (64 × 32 bytes max):
 * returns the bytes written. unpack: 0, or -1 when len does not match size. */
size_t bp_merkle_frontier_pack(const bp_merkle_frontier *f, unsigned char *buf);
int bp_merkle_frontier_unpack(bp_merkle_frontier *f, uint64_t size, const unsigned char *buf,
                              size_t len);

/* MTH(D[lo:hi]) of leaf hashes (hi > lo, or the empty root when equal). 0/-1. */
int bp_merkle_root(const bp_mhash *leaves, uint64_t n, bp_mhash out);

/* Inclusion proof of leaf index in the tree of the first size leaves
 * (leaves: at least size hashes). Writes *n_out hashes into proof (room for
 * BP_MERKLE_MAX_PROOF). 0, or -1 when index >= size or libcrypto failed. */
int bp_merkle_inclusion_proof(const bp_mhash *leaves, uint64_t size, uint64_t index,
                              bp_mhash *proof, size_t *n_out);
/* Consistency proof between the trees of size1 <= size2 leaves. 0 or -1. */
int bp_merkle_consistency_proof(const bp_mhash *leaves, uint64_t size1, uint64_t size2,
                                bp_mhash *proof, size_t *n_out);

/* Verifies an inclusion proof (RFC 9162 §2.1.3.2): 1 when leaf is at index
 * of the tree of size with that root, 0 otherwise (never on bad input). */
int bp_merkle_verify_inclusion(uint64_t index, uint64_t size, const bp_mhash leaf,
                               const bp_mhash *proof, size_t n, const bp_mhash root);
/* Verifies a consistency proof (RFC 9162 §2.1.4.2): 1 when the tree of size1
 * with root1 is a prefix of the tree of size2 with root2, else 0. */
int bp_merkle_verify_consistency(uint64_t size1, uint64_t size2, const bp_mhash root1,
                                 const bp_mhash root2, const bp_mhash *proof, size_t n);

/* Lower-case hex of a hash into out (65 bytes). */
void bp_merkle_hex(const bp_mhash h, char out[65]);

#endif
