/* Verifying the audit log (audit_log.h bp_audit_verify): every leaf from its
 * row, the tree from the leaves, every signed checkpoint against the tree,
 * the tree head, and an older checkpoint kept elsewhere. One streaming pass:
 * O(n log n) hashing, O(checkpoints) memory. It names the FIRST bad entry. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit_int.h"
#include "strutil.h"

typedef struct vckpt {
    uint64_t size;
    bp_mhash root;          /* the signed root (from the note) */
    char *why;              /* set when the note itself is bad */
} vckpt;

typedef struct verifier {
    const char *origin;
    const unsigned char *pub;    /* NULL: signatures not checked */
    bp_merkle_frontier f;
    vckpt *ck;
    size_t n_ck, next_ck;
    uint64_t last_good;          /* size of the last checkpoint that held */
    uint64_t want_size;          /* an external checkpoint's size (0: none) */
    bp_mhash want_root;
    int have_want;
    uint64_t pruned;
    char *why;
} verifier;

static int vfail(verifier *v, char *why)
{
    if (v->why == NULL)
        v->why = why;
    else
        free(why);
    return 1;
}

/* A note: parsed and signature-checked; its size must match the row's. */
static int vadd_note(verifier *v, int64_t size, const void *root, size_t root_len,
                     const char *note)
{
    vckpt *n = realloc(v->ck, (v->n_ck + 1) * sizeof(*n));
    if (n == NULL)
        return vfail(v, bp_strfmt("out of memory"));
    v->ck = n;
    vckpt *c = &v->ck[v->n_ck++];
    memset(c, 0, sizeof(*c));
    c->size = (uint64_t)size;
    char *org = NULL, *why = NULL;
    uint64_t nsize = 0;
    if (size < 0 || root_len != BP_MERKLE_HASH) {
        c->why = bp_strfmt("checkpoint row at size %lld is damaged", (long long)size);
    } else if (!bp_audit_note_parse(note ? note : "", v->pub, &org, &nsize, c->root, &why)) {
        c->why = bp_strfmt("checkpoint at size %lld: %s", (long long)size, why ? why : "bad");
    } else if (strcmp(org, v->origin) != 0) {
        c->why = bp_strfmt("checkpoint at size %lld: origin '%s', not the site '%s'",
                           (long long)size, org, v->origin);
    } else if (nsize != (uint64_t)size || memcmp(c->root, root, BP_MERKLE_HASH) != 0) {
        c->why = bp_strfmt("checkpoint at size %lld: its row does not match its signed note"
                           " (size %llu)", (long long)size, (unsigned long long)nsize);
    }
    free(why);
    free(org);
    return 0;
}

/* Checks the checkpoints at the current size. */
static void vcheck_ckpts(verifier *v)
{
    while (v->next_ck < v->n_ck && v->ck[v->next_ck].size <= v->f.size) {
        vckpt *c = &v->ck[v->next_ck++];
        if (c->why) {
            vfail(v, strdup(c->why));
            continue;
        }
        bp_mhash r;
        if (c->size == 0)
            continue;
        if (c->size != v->f.size) {
            vfail(v, bp_strfmt("checkpoint at size %llu: out of order",
                               (unsigned long long)c->size));
            continue;
        }
        bp_merkle_frontier_root(&v->f, r);
        if (memcmp(r, c->root, BP_MERKLE_HASH) != 0)
            vfail(v, bp_strfmt("entries %llu..%llu do not match the signed checkpoint at size %llu"
                               " (an entry after seq %llu was changed and its leaf hash"
                               " recomputed, or entries were inserted or reordered)",
                               (unsigned long long)v->last_good,
                               (unsigned long long)c->size - 1, (unsigned long long)c->size,
                               (unsigned long long)(v->last_good ? v->last_good - 1 : 0)));
        else
            v->last_good = c->size;
    }
    if (v->have_want && v->want_size == v->f.size) {
        bp_mhash r;
        bp_merkle_frontier_root(&v->f, r);
        if (memcmp(r, v->want_root, BP_MERKLE_HASH) != 0)
            vfail(v, bp_strfmt("the log is not consistent with the given checkpoint (size %llu):"
                               " its first %llu entries were rewritten",
                               (unsigned long long)v->want_size,
                               (unsigned long long)v->want_size));
        v->have_want = 2;
    }
}

/* One row: seq, the stored leaf hash, the recomputed one (NULL: pruned). */
static int vfeed(verifier *v, int64_t seq, const void *stored, size_t stored_len,
                 const unsigned char *leaf, size_t leaf_len, const char *kind)
{
    if (v->why)
        return 1;
    if (seq < 0 || (uint64_t)seq != v->f.size) {
        if (seq >= 0 && (uint64_t)seq > v->f.size)
            return vfail(v, bp_strfmt("entry %llu is missing (the log goes from %lld to %lld)",
                                      (unsigned long long)v->f.size,
                                      (long long)v->f.size - 1, (long long)seq));
        return vfail(v, bp_strfmt("entry %lld is out of place", (long long)seq));
    }
    if (stored == NULL || stored_len != BP_MERKLE_HASH)
        return vfail(v, bp_strfmt("entry %lld: its leaf hash is damaged", (long long)seq));
    if (leaf) {
        bp_mhash h;
        if (bp_merkle_leaf_hash(leaf, leaf_len, h) != 0)
            return vfail(v, bp_strfmt("libcrypto failed"));
        if (memcmp(h, stored, BP_MERKLE_HASH) != 0)
            return vfail(v, bp_strfmt("entry %lld (%s) was changed: its fields do not match its"
                                      " leaf hash (content edited, or the entry moved)",
                                      (long long)seq, kind ? kind : "?"));
    } else {
        v->pruned++;
    }
    if (bp_merkle_frontier_append(&v->f, stored) != 0)
        return vfail(v, bp_strfmt("the log is too long"));
    vcheck_ckpts(v);
    return v->why != NULL;
}

static int vfinish(verifier *v)
{
    vcheck_ckpts(v);
    if (v->next_ck < v->n_ck && v->why == NULL) {
        vckpt *c = &v->ck[v->next_ck];
        vfail(v, bp_strfmt("entry %llu is missing: the signed checkpoint at size %llu covers"
                           " more entries than the log has (%llu)",
                           (unsigned long long)v->f.size, (unsigned long long)c->size,
                           (unsigned long long)v->f.size));
    }
    if (v->have_want == 1 && v->why == NULL)
        vfail(v, bp_strfmt("entry %llu is missing: the given checkpoint has %llu entries,"
                           " the log %llu (entries were removed)",
                           (unsigned long long)v->f.size, (unsigned long long)v->want_size,
                           (unsigned long long)v->f.size));
    return v->why == NULL;
}

static void vfree(verifier *v)
{
    for (size_t i = 0; i < v->n_ck; i++)
        free(v->ck[i].why);
    free(v->ck);
}

static int vset_want(verifier *v, const char *note)
{
    char *org = NULL, *why = NULL;
    if (!bp_audit_note_parse(note, v->pub, &org, &v->want_size, v->want_root, &why)) {
        vfail(v, bp_strfmt("the given checkpoint: %s", why ? why : "bad"));
        free(why);
        return 0;
    }
    if (strcmp(org, v->origin) != 0)
        vfail(v, bp_strfmt("the given checkpoint is of '%s', not of the site '%s'", org,
                           v->origin));
    free(org);
    v->have_want = 1;
    if (v->want_size == 0)
        v->have_want = 2;
    return 1;
}

typedef struct vctx {
    verifier *v;
    int oom;
} vctx;

static int verify_row(const bp_audit_row *r, void *ud)
{
    vctx *c = ud;
    unsigned char *leaf = NULL;
    size_t len = 0;
    if (r->pruned && r->e.payload != NULL)
        return vfail(c->v, bp_strfmt("entry %lld: marked pruned but has a payload",
                                     (long long)r->seq));
    if (!r->pruned) {
        leaf = bp_audit_leaf_bytes((uint64_t)r->seq, &r->e, &len);
        if (leaf == NULL) {
            c->oom = 1;
            return 1;
        }
    }
    int stop = vfeed(c->v, r->seq, r->leaf, r->leaf_len, leaf, len, r->e.kind);
    free(leaf);
    return stop;
}

static int verify_ckpt(int64_t size, const void *root, size_t root_len, const char *note,
                       void *ud)
{
    return vadd_note(ud, size, root, root_len, note);
}

bp_status bp_audit_verify(bp_state *st, const char *origin, const char *key_path,
                          const char *older_note, bp_audit_verdict *out)
{
    memset(out, 0, sizeof(*out));
    verifier v = {.origin = origin ? origin : ""};
    unsigned char pub[32];
    bp_merkle_frontier_init(&v.f);
    if (key_path) {
        char *err = NULL;
        void *k = bp_audit_load_key(key_path, pub, &err);
        if (k == NULL) {
            out->why = err;
            return BP_OK;
        }
        EVP_PKEY_free(k);
        v.pub = pub;
    }
    bp_status rc = bp_state_audit_checkpoints(st, verify_ckpt, &v);
    if (rc == BP_OK && older_note)
        vset_want(&v, older_note);
    vctx c = {&v, 0};
    if (rc == BP_OK)
        rc = bp_state_audit_rows(st, NULL, NULL, verify_row, &c);
    if (rc == BP_OK && c.oom)
        rc = BP_ERR_NOMEM;
    if (rc == BP_OK && v.why == NULL) {
        /* Past the last row: remaining checkpoints, then the stored head. */
        bp_merkle_frontier head;
        int present = 0;
        rc = bp_state_audit_head(st, &head, &present);
        if (rc == BP_OK && vfinish(&v)) {
            bp_mhash a, b;
            bp_merkle_frontier_root(&v.f, a);
            bp_merkle_frontier_root(&head, b);
            if (present < 0)
                vfail(&v, bp_strfmt("the tree head (audit_tree) is damaged"));
            else if (present == 0 && v.f.size > 0)
                vfail(&v, bp_strfmt("the tree head (audit_tree) is missing"));
            else if (head.size != v.f.size)
                vfail(&v, bp_strfmt("entry %llu is missing: the tree head has %llu entries,"
                                    " the log %llu", (unsigned long long)v.f.size,
                                    (unsigned long long)head.size,
                                    (unsigned long long)v.f.size));
            else if (memcmp(a, b, BP_MERKLE_HASH) != 0)
                vfail(&v, bp_strfmt("the tree head does not match the entries (a leaf hash"
                                    " was recomputed after the last checkpoint at size %llu)",
                                    (unsigned long long)v.last_good));
        }
    }
    out->ok = rc == BP_OK && v.why == NULL;
    out->why = v.why;
    out->size = v.f.size;
    out->checkpoints = v.next_ck;
    out->pruned = v.pruned;
    bp_merkle_frontier_root(&v.f, out->root);
    vfree(&v);
    return rc;
}

void bp_audit_verdict_clear(bp_audit_verdict *v)
{
    free(v->why);
    v->why = NULL;
}

int bp_audit_verify_mem(const bp_mhash *stored, const unsigned char *const *leaves,
                        const size_t *leaf_len, uint64_t n, const char *const *notes,
                        size_t n_notes, const char *origin, const unsigned char *pub,
                        char **why)
{
    verifier v = {.origin = origin, .pub = pub};
    bp_merkle_frontier_init(&v.f);
    for (size_t i = 0; i < n_notes; i++) {
        char *org = NULL, *w = NULL;
        uint64_t size = 0;
        bp_mhash root;
        if (bp_audit_note_parse(notes[i], NULL, &org, &size, root, &w) && size <= INT64_MAX)
            vadd_note(&v, (int64_t)size, root, BP_MERKLE_HASH, notes[i]);
        else
            vfail(&v, bp_strfmt("note %zu: %s", i, w ? w : "bad"));
        free(org);
        free(w);
    }
    /* Notes must come in increasing size, as the store returns them. */
    for (size_t i = 1; i < v.n_ck; i++)
        if (v.ck[i].size <= v.ck[i - 1].size)
            vfail(&v, bp_strfmt("notes out of order"));
    for (uint64_t i = 0; i < n && v.why == NULL; i++)
        vfeed(&v, (int64_t)i, stored[i], BP_MERKLE_HASH, leaves[i], leaf_len[i], "entry");
    int ok = vfinish(&v);
    *why = v.why;
    vfree(&v);
    return ok;
}
