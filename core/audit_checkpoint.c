/* Signed checkpoints of the audit log: C2SP tlog-checkpoint bodies
 *   "<origin>\n<size>\n<base64 root>\n"
 * in C2SP signed notes (a blank line, then "— <origin> <base64(keyid||sig)>\n"
 * with keyid = SHA-256(origin || "\n" || 0x01 || pubkey)[:4], Ed25519 over
 * the body). The key is the owner's, read from a PEM file outside the state. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit_int.h"
#include "sha256.h"
#include "state_int.h"
#include "clock.h"
#include "strutil.h"

struct bp_audit_signer {
    EVP_PKEY *key;
    char *origin;
    unsigned char pub[32];
    int64_t every, interval_ms;
    int64_t since_ms;      /* when the signer started: the interval's start before a first checkpoint */
};

static const char audit_dash[] = "\xe2\x80\x94 ";    /* U+2014 EM DASH, space */

unsigned char *bp_audit_leaf_bytes(uint64_t seq, const bp_audit_entry *e, size_t *len)
{
    static const char magic[] = "bp-audit-v1\n";
    char seqs[24], ats[24];
    snprintf(seqs, sizeof(seqs), "%llu", (unsigned long long)seq);
    snprintf(ats, sizeof(ats), "%lld", (long long)e->at_ms);
    const char *f[] = {seqs, ats, e->actor, e->kind, e->route, e->source, e->id, e->subject,
                       e->payload};
    size_t total = sizeof(magic) - 1;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        total += 4 + (f[i] ? strlen(f[i]) : 0);
    unsigned char *b = malloc(total), *p = b;
    if (b == NULL)
        return NULL;
    memcpy(p, magic, sizeof(magic) - 1);
    p += sizeof(magic) - 1;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        uint32_t n = f[i] ? (uint32_t)strlen(f[i]) : 0xffffffffu;
        p[0] = (unsigned char)(n >> 24);
        p[1] = (unsigned char)(n >> 16);
        p[2] = (unsigned char)(n >> 8);
        p[3] = (unsigned char)n;
        p += 4;
        if (f[i]) {
            memcpy(p, f[i], n);
            p += n;
        }
    }
    *len = total;
    return b;
}

static void audit_keyid(const char *origin, const unsigned char pub[32], unsigned char id[4])
{
    static const unsigned char alg = 0x01, nl = '\n';
    unsigned char h[32];
    bp_sha256 s;
    bp_sha256_init(&s);
    bp_sha256_update(&s, origin, strlen(origin));
    bp_sha256_update(&s, &nl, 1);
    bp_sha256_update(&s, &alg, 1);
    bp_sha256_update(&s, pub, 32);
    bp_sha256_final(&s, h);
    memcpy(id, h, 4);
}

void *bp_audit_load_key(const char *path, unsigned char pub[32], char **errmsg)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0) {
        bp_set_err(errmsg, BP_ERR_INVALID, "audit.signing_key %s: cannot open (%s)", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0) {
        bp_set_err(errmsg, BP_ERR_INVALID,
                      "audit.signing_key %s: must be a regular file readable by its owner only"
                      " (chmod 600 %s)", path, path);
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    else
        close(fd);
    size_t n = 32;
    if (k == NULL || EVP_PKEY_id(k) != EVP_PKEY_ED25519 ||
        EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 || n != 32) {
        EVP_PKEY_free(k);
        bp_set_err(errmsg, BP_ERR_INVALID,
                      "audit.signing_key %s: not an Ed25519 private key in PEM (make one with"
                      " `backplane audit keygen FILE`)", path);
        return NULL;
    }
    return k;
}

bp_status bp_audit_set_signer(bp_state *st, const char *origin, const char *key_path,
                              int64_t every, int64_t interval_ms, char **errmsg)
{
    bp_audit_signer *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return BP_ERR_NOMEM;
    s->key = bp_audit_load_key(key_path, s->pub, errmsg);
    s->origin = strdup(origin ? origin : "");
    s->every = every > 0 ? every : 1000;
    s->interval_ms = interval_ms > 0 ? interval_ms : 600000;
    s->since_ms = bp_now_ms();
    if (s->key == NULL || s->origin == NULL) {
        bp_audit_signer_free(s);
        return BP_ERR_INVALID;
    }
    pthread_mutex_lock(&st->mu);
    bp_audit_signer_free(st->audit_signer);
    st->audit_signer = s;
    pthread_mutex_unlock(&st->mu);
    return BP_OK;
}

bp_audit_signer *bp_audit_signer_new_raw(const unsigned char seed[32], const char *origin,
                                         unsigned char pub[32])
{
    bp_audit_signer *s = calloc(1, sizeof(*s));
    size_t n = 32;
    if (s == NULL)
        return NULL;
    s->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    s->origin = strdup(origin);
    s->every = 1000;
    s->interval_ms = 600000;
    if (s->key == NULL || s->origin == NULL ||
        EVP_PKEY_get_raw_public_key(s->key, s->pub, &n) != 1 || n != 32) {
        bp_audit_signer_free(s);
        return NULL;
    }
    memcpy(pub, s->pub, 32);
    return s;
}

void bp_audit_signer_free(bp_audit_signer *s)
{
    if (s == NULL)
        return;
    EVP_PKEY_free(s->key);
    free(s->origin);
    free(s);
}

int bp_audit_signer_due(const bp_audit_signer *s, uint64_t size, uint64_t last_size,
                        int64_t last_ms, int64_t now)
{
    if (size <= last_size)
        return 0;
    int64_t from = last_ms > s->since_ms ? last_ms : s->since_ms;
    return size - last_size >= (uint64_t)s->every || now - from >= s->interval_ms;
}

static char *audit_body(const char *origin, uint64_t size, const bp_mhash root)
{
    char b64[48];
    EVP_EncodeBlock((unsigned char *)b64, root, BP_MERKLE_HASH);
    return bp_strfmt("%s\n%llu\n%s\n", origin, (unsigned long long)size, b64);
}

char *bp_audit_sign_note(const bp_audit_signer *s, uint64_t size, const bp_mhash root)
{
    char *body = audit_body(s->origin, size, root);
    if (body == NULL)
        return NULL;
    unsigned char blob[4 + 64];
    size_t siglen = 64;
    audit_keyid(s->origin, s->pub, blob);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestSignInit(c, NULL, NULL, NULL, s->key) == 1 &&
             EVP_DigestSign(c, blob + 4, &siglen, (const unsigned char *)body, strlen(body)) ==
                 1 && siglen == 64;
    EVP_MD_CTX_free(c);
    char b64[96];
    char *note = NULL;
    if (ok) {
        EVP_EncodeBlock((unsigned char *)b64, blob, sizeof(blob));
        note = bp_strfmt("%s\n%s%s %s\n", body, audit_dash, s->origin, b64);
    }
    free(body);
    return note;
}

static int audit_fail(char **why, const char *fmt, const char *arg)
{
    if (why) {
        free(*why);
        *why = bp_strfmt(fmt, arg);
    }
    return 0;
}

int bp_audit_note_parse(const char *note, const unsigned char *pub, char **origin,
                        uint64_t *size, bp_mhash root, char **why)
{
    *origin = NULL;
    const char *l1 = strchr(note, '\n');
    if (l1 == NULL || l1 == note)
        return audit_fail(why, "%s", "not a checkpoint note (no origin line)");
    const char *l2 = strchr(l1 + 1, '\n');
    const char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
    if (l3 == NULL)
        return audit_fail(why, "%s", "not a checkpoint note (needs origin, size, root lines)");
    /* Size: decimal, no sign, no leading zero (one spelling per value). */
    const char *p = l1 + 1;
    if (p == l2 || (*p == '0' && l2 - p > 1) || l2 - p > 19)
        return audit_fail(why, "%s", "checkpoint size is not a decimal number");
    uint64_t n = 0;
    for (; p < l2; p++) {
        if (*p < '0' || *p > '9')
            return audit_fail(why, "%s", "checkpoint size is not a decimal number");
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (l3 - (l2 + 1) != 44)
        return audit_fail(why, "%s", "checkpoint root is not base64 of 32 bytes");
    unsigned char raw[36];
    if (EVP_DecodeBlock(raw, (const unsigned char *)l2 + 1, 44) != 33 || l2[44] != '=')
        return audit_fail(why, "%s", "checkpoint root is not base64 of 32 bytes");
    /* Extension lines may follow the root; the body ends at the blank line. */
    const char *blank = strstr(l3, "\n\n");
    if (blank == NULL)
        return audit_fail(why, "%s", "checkpoint note has no signature (no blank line)");
    size_t body_len = (size_t)(blank - note) + 1;
    char *org = strndup(note, (size_t)(l1 - note));
    if (org == NULL)
        return 0;
    if (pub) {
        unsigned char id[4];
        audit_keyid(org, pub, id);
        int good = 0, seen = 0;
        const char *sl = blank + 2;
        while (*sl && !good) {
            const char *end = strchr(sl, '\n');
            if (end == NULL)
                break;
            size_t dl = sizeof(audit_dash) - 1, ol = strlen(org);
            /* "— origin base64(4+64 bytes)": 92 base64 characters. */
            if ((size_t)(end - sl) == dl + ol + 1 + 92 && memcmp(sl, audit_dash, dl) == 0 &&
                memcmp(sl + dl, org, ol) == 0 && sl[dl + ol] == ' ') {
                unsigned char blob[72];
                if (EVP_DecodeBlock(blob, (const unsigned char *)sl + dl + ol + 1, 92) == 69 &&
                    memcmp(blob, id, 4) == 0) {
                    seen = 1;
                    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
                    EVP_MD_CTX *c = EVP_MD_CTX_new();
                    good = k && c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
                           EVP_DigestVerify(c, blob + 4, 64, (const unsigned char *)note,
                                            body_len) == 1;
                    EVP_MD_CTX_free(c);
                    EVP_PKEY_free(k);
                }
            }
            sl = end + 1;
        }
        if (!good) {
            free(org);
            return audit_fail(why, "%s",
                              seen ? "checkpoint signature does not verify with the site's key"
                                   : "checkpoint is not signed by the site's key (another key"
                                     " or none)");
        }
    }
    *origin = org;
    *size = n;
    memcpy(root, raw, BP_MERKLE_HASH);
    return 1;
}

int bp_audit_keygen(const char *path, char **errmsg)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (c == NULL || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_keygen(c, &k) != 1) {
        EVP_PKEY_CTX_free(c);
        bp_set_err(errmsg, BP_ERR_INVALID, "cannot make an Ed25519 key (libcrypto failed)");
        return -1;
    }
    EVP_PKEY_CTX_free(c);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        bp_set_err(errmsg, BP_ERR_INVALID, "%s: cannot create (%s)", path, strerror(errno));
        EVP_PKEY_free(k);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    if (f == NULL)
        close(fd);
    else if (fclose(f) != 0)
        ok = 0;
    EVP_PKEY_free(k);
    if (!ok) {
        bp_set_err(errmsg, BP_ERR_INVALID, "%s: cannot write the key", path);
        unlink(path);
        return -1;
    }
    return 0;
}
