/* libFuzzer target for the audit log's verifier (issue 18): the verifiers of
 * journald (CVE-2023-31439) and immudb (GHSA-672p-m5jq-mrh8) accepted damaged
 * logs and falsified proofs. A genuine log of up to 16 entries with signed
 * checkpoints is built from the input, then damaged as the input says
 * (leaf bytes, stored leaf hashes, notes replaced by input bytes); the
 * verifier must refuse every effective damage. Inclusion and consistency
 * proofs taken from the input must verify only when they are the genuine
 * ones. Any note bytes must parse or be refused without a crash.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   build-fuzz/tests/fuzz/fuzz_audit_verify tests/fuzz/corpus/audit_verify
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"

/* The signer of a fixed key, made once. */
static bp_audit_signer *fz_signer(unsigned char pub[32])
{
    static bp_audit_signer *s;
    static unsigned char p[32];
    if (s == NULL) {
        unsigned char seed[32];
        for (int i = 0; i < 32; i++)
            seed[i] = (unsigned char)(i * 7 + 1);
        if ((s = bp_audit_signer_new_raw(seed, "fz", p)) == NULL)
            abort();
    }
    memcpy(pub, p, 32);
    return s;
}

static char *fz_note(uint64_t size, const bp_mhash root)
{
    unsigned char pub[32];
    return bp_audit_sign_note(fz_signer(pub), size, root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 4096)
        return 0;
    unsigned char pub[32];
    fz_signer(pub);
    uint64_t n = 1 + data[0] % 16;
    uint64_t every = 1 + data[1] % 8;
    const uint8_t *rest = data + 2;
    size_t rlen = size - 2;

    /* The genuine log. */
    unsigned char *leaf[16], *orig[16];
    size_t len[16];
    bp_mhash stored[16], good[16];
    bp_merkle_frontier f;
    bp_merkle_frontier_init(&f);
    char *notes[17], *orig_notes[17];
    size_t n_notes = 0;
    for (uint64_t i = 0; i < n; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "{\"n\":%llu}", (unsigned long long)i);
        bp_audit_entry e = {.actor = "fz", .kind = "ai", .payload = payload, .at_ms = 1000};
        leaf[i] = bp_audit_leaf_bytes(i, &e, &len[i]);
        orig[i] = malloc(len[i]);
        memcpy(orig[i], leaf[i], len[i]);
        bp_merkle_leaf_hash(leaf[i], len[i], stored[i]);
        memcpy(good[i], stored[i], 32);
        bp_merkle_frontier_append(&f, stored[i]);
        if ((i + 1) % every == 0 || i + 1 == n) {
            bp_mhash r;
            bp_merkle_frontier_root(&f, r);
            notes[n_notes] = fz_note(i + 1, r);
            orig_notes[n_notes] = strdup(notes[n_notes]);
            n_notes++;
        }
    }
    /* Damage: each 3-byte command (op, where, what). */
    size_t i = 0;
    for (; i + 3 <= rlen && i < 48; i += 3) {
        uint8_t op = rest[i] % 5, w = rest[i + 1], x = rest[i + 2];
        uint64_t at = w % n;
        if (op == 0)
            leaf[at][x % len[at]] ^= (uint8_t)(1u << (w % 8));
        else if (op == 1)
            stored[at][x % 32] ^= (uint8_t)(1u << (w % 8));
        else if (op == 2 && n > 1) {   /* swap two entries whole */
            uint64_t b = x % n;
            unsigned char *t = leaf[at];
            size_t tl = len[at];
            bp_mhash th;
            leaf[at] = leaf[b];
            len[at] = len[b];
            leaf[b] = t;
            len[b] = tl;
            memcpy(th, stored[at], 32);
            memcpy(stored[at], stored[b], 32);
            memcpy(stored[b], th, 32);
        } else if (op == 3) {          /* a leaf hash recomputed to match its damaged leaf */
            leaf[at][x % len[at]] ^= 0x20;
            bp_merkle_leaf_hash(leaf[at], len[at], stored[at]);
        } else if (op == 4) {
            break;                     /* the rest of the input replaces a note */
        }
    }
    if (i + 3 <= rlen && rest[i] % 5 == 4 && n_notes > 0) {
        size_t k = rest[i + 1] % n_notes;
        free(notes[k]);
        notes[k] = strndup((const char *)rest + i + 3, rlen - i - 3);
    }
    char *why = NULL;
    int ok = bp_audit_verify_mem((const bp_mhash *)stored, (const unsigned char *const *)leaf, len,
                                 n, (const char *const *)notes, n_notes, "fz", pub, &why);
    if (ok) {
        /* Then nothing that matters was damaged. */
        for (uint64_t j = 0; j < n; j++)
            if (memcmp(leaf[j], orig[j], len[j]) != 0)
                abort();
        for (uint64_t j = 0; j < n; j++)
            if (memcmp(stored[j], good[j], 32) != 0)
                abort();
        for (size_t k = 0; k < n_notes; k++) {
            char *o1 = NULL, *o2 = NULL;
            uint64_t s1, s2;
            bp_mhash r1, r2;
            if (!bp_audit_note_parse(notes[k], pub, &o1, &s1, r1, NULL) ||
                !bp_audit_note_parse(orig_notes[k], pub, &o2, &s2, r2, NULL) || s1 != s2 ||
                memcmp(r1, r2, 32) != 0 || strcmp(o1, o2) != 0)
                abort();
            free(o1);
            free(o2);
        }
    }
    free(why);
    /* Proofs from the input against the genuine tree. */
    if (rlen >= 2 + 32) {
        uint64_t sz = n, idx = rest[0] % n;
        size_t np = (rlen - 2) / 32;
        if (np > BP_MERKLE_MAX_PROOF)
            np = BP_MERKLE_MAX_PROOF;
        bp_mhash proof[BP_MERKLE_MAX_PROOF], real[BP_MERKLE_MAX_PROOF], root, r1;
        memcpy(proof, rest + 2, np * 32);
        bp_merkle_root(good, sz, root);
        size_t nr = 0;
        bp_merkle_inclusion_proof(good, sz, idx, real, &nr);
        if (bp_merkle_verify_inclusion(idx, sz, good[idx], proof, np, root) &&
            (np != nr || memcmp(proof, real, np * 32) != 0))
            abort();
        uint64_t s1 = 1 + rest[1] % n;
        bp_merkle_root(good, s1, r1);
        bp_merkle_consistency_proof(good, s1, sz, real, &nr);
        if (bp_merkle_verify_consistency(s1, sz, r1, root, proof, np) &&
            (np != nr || memcmp(proof, real, np * 32) != 0))
            abort();
    }
    for (uint64_t j = 0; j < n; j++) {
        free(leaf[j]);
        free(orig[j]);
    }
    for (size_t k = 0; k < n_notes; k++) {
        free(notes[k]);
        free(orig_notes[k]);
    }
    return 0;
}
