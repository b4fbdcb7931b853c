/* The audit log's Merkle tree against the RFC 9162 test vectors of
 * transparency-dev/merkle (testonly/constants.go: the 8-leaf reference tree,
 * its roots for every size; the inclusion and consistency proofs of its
 * proof tests), then falsified proofs: every one must be refused. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <string.h>

#include "audit_int.h"
#include "audit_merkle.h"
#include "state.h"
#include "tap.h"
#include "state_target.h"

static const char *const leaf_hex[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};
static const char *const root_hex[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
static const char *const leafhash_hex[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};

typedef struct vec {
    uint64_t a, b;          /* inclusion: leaf index, size; consistency: size1, size2 */
    size_t n;
    const char *h[3];
} vec;

/* Inclusion (leaf index is 0-based here; the Go vectors count from 1). */
static const vec incl[] = {
    {0, 1, 0, {0}},
    {0, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8, 3, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
               "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5, 3, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};
static const vec cons[] = {
    {1, 1, 0, {0}},
    {1, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
               "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5, 2, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6, 7, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
               "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static size_t unhex(const char *s, unsigned char *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return n;
}

static int same(const bp_mhash h, const char *hex)
{
    char got[65];
    bp_merkle_hex(h, got);
    return strcmp(got, hex) == 0;
}

/* The log in a state store: appends in batches keep the frontier (the
 * stored head equals the root of all leaves), verify holds, and a damaged
 * row is named. */
static int count_row(const bp_audit_row *r, void *ud)
{
    bp_mhash *l = ud;
    if (r->leaf_len == 32)
        memcpy(l[r->seq], r->leaf, 32);
    return 0;
}

static void test_store(void)
{
    char path[] = "/tmp/bp_test_merkle_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    const char *tgt = test_state_target(path);   /* SQLite file or PostgreSQL */
    bp_state *st = NULL;
    char *err = NULL;
    CHECK(bp_state_open(tgt, "t", &st, &err) == BP_OK);
    if (st == NULL)
        return;
    bp_audit_entry e[100];
    char pay[100][32];
    for (int b = 0; b < 10; b++) {
        for (int i = 0; i < 100; i++) {
            snprintf(pay[i], sizeof(pay[i]), "{\"n\":%d}", b * 100 + i);
            e[i] = (bp_audit_entry){.actor = "t", .kind = "ai", .payload = pay[i],
                                    .id = i == 7 ? "rec-7" : NULL, .at_ms = 1000 + b};
        }
        CHECK(bp_audit_append_n(st, e, (size_t)(b + 1) * 10) == BP_OK);
    }
    static bp_mhash leaves[1000];
    CHECK(bp_state_audit_rows(st, NULL, NULL, count_row, leaves) == BP_OK);
    bp_merkle_frontier head;
    int present = 0;
    CHECK(bp_state_audit_head(st, &head, &present) == BP_OK && present == 1);
    CHECK_INT((long long)head.size, 550);
    bp_mhash a, b;
    bp_merkle_root(leaves, 550, a);
    bp_merkle_frontier_root(&head, b);
    CHECK(memcmp(a, b, 32) == 0);
    bp_audit_verdict v;
    CHECK(bp_audit_verify(st, "t", NULL, NULL, &v) == BP_OK);
    CHECK(v.ok);
    CHECK_INT((long long)v.size, 550);
    bp_audit_verdict_clear(&v);
    cJSON *tr = NULL;
    CHECK(bp_audit_trace(st, "rec-7", &tr) == BP_OK);
    CHECK_INT(cJSON_GetArraySize(tr), 10);   /* one per batch */
    cJSON_Delete(tr);
    /* Retention: payloads go, leaf hashes stay, verify still holds. */
    CHECK_INT((long long)bp_audit_prune(st, -1000000), 550);
    CHECK(bp_audit_verify(st, "t", NULL, NULL, &v) == BP_OK);
    CHECK(v.ok);
    CHECK_INT((long long)v.pruned, 550);
    bp_audit_verdict_clear(&v);
    bp_state_close(st);
    unlink(path);
}

int main(void)
{
    test_store();
    bp_mhash leaves[8], root;
    for (int i = 0; i < 8; i++) {
        unsigned char in[32];
        size_t n = unhex(leaf_hex[i], in);
        CHECK(bp_merkle_leaf_hash(in, n, leaves[i]) == 0);
        CHECK(same(leaves[i], leafhash_hex[i]));
    }
    /* Roots of every size: from the leaves, and incrementally (frontier),
     * packed and unpacked as the state store keeps it. */
    bp_merkle_frontier f;
    bp_merkle_frontier_init(&f);
    for (int n = 0; n <= 8; n++) {
        CHECK(bp_merkle_root(leaves, (uint64_t)n, root) == 0);
        CHECK(same(root, root_hex[n]));
        unsigned char buf[64 * 32];
        size_t len = bp_merkle_frontier_pack(&f, buf);
        bp_merkle_frontier g;
        CHECK(bp_merkle_frontier_unpack(&g, f.size, buf, len) == 0);
        CHECK(bp_merkle_frontier_root(&g, root) == 0);
        CHECK(same(root, root_hex[n]));
        CHECK(bp_merkle_frontier_unpack(&g, f.size, buf, len + 32) == -1);
        if (n < 8)
            bp_merkle_frontier_append(&f, leaves[n]);
    }

    for (size_t v = 0; v < sizeof(incl) / sizeof(incl[0]); v++) {
        bp_mhash proof[BP_MERKLE_MAX_PROOF], want[3], r;
        size_t n = 0;
        CHECK(bp_merkle_inclusion_proof(leaves, incl[v].b, incl[v].a, proof, &n) == 0);
        CHECK_INT((long long)n, (long long)incl[v].n);
        for (size_t i = 0; i < incl[v].n; i++) {
            unhex(incl[v].h[i], want[i]);
            CHECK(memcmp(proof[i], want[i], 32) == 0);
        }
        unhex(root_hex[incl[v].b], r);
        CHECK(bp_merkle_verify_inclusion(incl[v].a, incl[v].b, leaves[incl[v].a], want, incl[v].n,
                                         r) == 1);
        /* Falsified: each bit of each hash, a wrong index, size, leaf, root,
         * a proof one hash short or one hash long (GHSA-672p-m5jq-mrh8). */
        for (size_t i = 0; i < incl[v].n; i++)
            for (int bit = 0; bit < 256; bit += 37) {
                want[i][bit / 8] ^= (unsigned char)(1u << (bit % 8));
                CHECK(bp_merkle_verify_inclusion(incl[v].a, incl[v].b, leaves[incl[v].a], want,
                                                 incl[v].n, r) == 0);
                want[i][bit / 8] ^= (unsigned char)(1u << (bit % 8));
            }
        CHECK(bp_merkle_verify_inclusion(incl[v].a + 1, incl[v].b, leaves[incl[v].a], want,
                                         incl[v].n, r) == 0);
        /* (A size with the same path shape verifies alike: the checkpoint
         * signs the size with the root, so that is not a forgery.) */
        CHECK(bp_merkle_verify_inclusion(incl[v].a, incl[v].b * 2 + 1, leaves[incl[v].a], want,
                                         incl[v].n, r) == 0);
        CHECK(bp_merkle_verify_inclusion(incl[v].a, incl[v].a, leaves[incl[v].a], want,
                                         incl[v].n, r) == 0);
        CHECK(bp_merkle_verify_inclusion(incl[v].a, incl[v].b, leaves[(incl[v].a + 1) % 8], want,
                                         incl[v].n, r) == 0);
        if (incl[v].n > 0)
            CHECK(bp_merkle_verify_inclusion(incl[v].a, incl[v].b, leaves[incl[v].a], want,
                                             incl[v].n - 1, r) == 0);
        memcpy(proof, want, sizeof(want));
        memcpy(proof[incl[v].n], leaves[0], 32);
        CHECK(bp_merkle_verify_inclusion(incl[v].a, incl[v].b, leaves[incl[v].a], proof,
                                         incl[v].n + 1, r) == 0);
        unhex(root_hex[incl[v].b - 1], r);
        CHECK(bp_merkle_verify_inclusion(incl[v].a, incl[v].b, leaves[incl[v].a], want, incl[v].n,
                                         r) == 0);
    }
    /* Every proof of every (index, size) up to 8 verifies. */
    int all = 1;
    for (uint64_t sz = 1; sz <= 8; sz++)
        for (uint64_t i = 0; i < sz; i++) {
            bp_mhash proof[BP_MERKLE_MAX_PROOF], r;
            size_t n = 0;
            unhex(root_hex[sz], r);
            all &= bp_merkle_inclusion_proof(leaves, sz, i, proof, &n) == 0 &&
                   bp_merkle_verify_inclusion(i, sz, leaves[i], proof, n, r) == 1;
        }
    CHECK(all);

    for (size_t v = 0; v < sizeof(cons) / sizeof(cons[0]); v++) {
        bp_mhash proof[BP_MERKLE_MAX_PROOF], want[3], r1, r2;
        size_t n = 0;
        CHECK(bp_merkle_consistency_proof(leaves, cons[v].a, cons[v].b, proof, &n) == 0);
        CHECK_INT((long long)n, (long long)cons[v].n);
        for (size_t i = 0; i < cons[v].n; i++) {
            unhex(cons[v].h[i], want[i]);
            CHECK(memcmp(proof[i], want[i], 32) == 0);
        }
        unhex(root_hex[cons[v].a], r1);
        unhex(root_hex[cons[v].b], r2);
        CHECK(bp_merkle_verify_consistency(cons[v].a, cons[v].b, r1, r2, want, cons[v].n) == 1);
        for (size_t i = 0; i < cons[v].n; i++) {
            want[i][4] ^= 0x10;
            CHECK(bp_merkle_verify_consistency(cons[v].a, cons[v].b, r1, r2, want, cons[v].n) == 0);
            want[i][4] ^= 0x10;
        }
        if (cons[v].n > 0) {
            CHECK(bp_merkle_verify_consistency(cons[v].a, cons[v].b, r1, r2, want,
                                               cons[v].n - 1) == 0);
            CHECK(bp_merkle_verify_consistency(cons[v].a, cons[v].b, r2, r1, want, cons[v].n) ==
                  0);
            CHECK(bp_merkle_verify_consistency(cons[v].a, cons[v].b, r1, r2, want + 1,
                                               cons[v].n - 1) == 0);
        }
        if (cons[v].a != cons[v].b)
            CHECK(bp_merkle_verify_consistency(cons[v].b, cons[v].a, r2, r1, want, cons[v].n) ==
                  0);
    }
    /* The testdata "additional" cases: equal sizes need an empty proof. */
    {
        bp_mhash r1, junk[1];
        unhex(root_hex[1], r1);
        memcpy(junk[0], r1, 32);
        CHECK(bp_merkle_verify_consistency(1, 1, r1, r1, NULL, 0) == 1);
        CHECK(bp_merkle_verify_consistency(1, 1, r1, r1, junk, 1) == 0);
        bp_mhash r0;
        unhex(root_hex[0], r0);
        CHECK(bp_merkle_verify_consistency(0, 0, r0, r0, junk, 1) == 0);
        CHECK(bp_merkle_verify_consistency(0, 0, r0, r0, NULL, 0) == 1);
        CHECK(bp_merkle_verify_consistency(1, 2, r1, r1, NULL, 0) == 0);
    }
    all = 1;
    for (uint64_t s2 = 1; s2 <= 8; s2++)
        for (uint64_t s1 = 1; s1 <= s2; s1++) {
            bp_mhash proof[BP_MERKLE_MAX_PROOF], r1, r2;
            size_t n = 0;
            unhex(root_hex[s1], r1);
            unhex(root_hex[s2], r2);
            all &= bp_merkle_consistency_proof(leaves, s1, s2, proof, &n) == 0 &&
                   bp_merkle_verify_consistency(s1, s2, r1, r2, proof, n) == 1;
        }
    CHECK(all);
    return tap_done();
}
