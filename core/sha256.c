/* See sha256.h. */
#include <string.h>

#include <openssl/evp.h>

#include "sha256.h"

void bp_sha256_init(bp_sha256 *s)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    s->ctx = c;
}

void bp_sha256_update(bp_sha256 *s, const void *data, size_t len)
{
    if (s->ctx && len > 0 && EVP_DigestUpdate(s->ctx, data, len) != 1) {
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
    }
}

int bp_sha256_final(bp_sha256 *s, unsigned char out[32])
{
    unsigned int n = 0;
    int rc = 0;
    if (s->ctx == NULL || EVP_DigestFinal_ex(s->ctx, out, &n) != 1 || n != 32) {
        memset(out, 0, 32);
        rc = -1;
    }
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
    return rc;
}
