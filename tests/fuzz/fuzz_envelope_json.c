/* libFuzzer target for the CloudEvents JSON readers.
 *
 * Beyond "does not crash", it checks the property the bus relies on when it
 * forwards events: whatever the reader accepts, the writer writes, and the
 * reader accepts that again and it comes out byte for byte the same (for
 * every flag combination). Binary mode is checked the same way (see
 * fz_binary for the one change it may make). Any violation abort()s so
 * libFuzzer keeps the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/envelope.h>

static const int fz_flags[] = {BP_SER_DEFAULT, BP_SER_FULL, BP_SER_FULL | BP_SER_PRETTY};

static void fz_fail(const char *what, const char *text, const char *err)
{
    fprintf(stderr, "round trip failed: %s\n  text: %s\n  error: %s\n", what,
            text ? text : "(null)", err ? err : "(none)");
    abort();
}

static void fz_single(const bp_envelope *env, int flags)
{
    char *t1 = bp_envelope_to_json(env, flags);
    if (t1 == NULL)
        fz_fail("to_json returned NULL", NULL, NULL);
    bp_envelope *again = NULL;
    char *err = NULL;
    if (bp_envelope_from_json(t1, strlen(t1), &again, &err) != BP_OK)
        fz_fail("from_json rejected to_json output", t1, err);
    char *t2 = bp_envelope_to_json(again, flags);
    if (t2 == NULL || strcmp(t1, t2) != 0)
        fz_fail("second to_json differs", t1, t2);
    free(t2);
    free(t1);
    bp_envelope_unref(again);
}

static void fz_batch(bp_envelope *const *envs, size_t n, int flags)
{
    char *t1 = bp_envelope_batch_to_json(envs, n, flags);
    if (t1 == NULL)
        fz_fail("batch_to_json returned NULL", NULL, NULL);
    bp_envelope **again = NULL;
    size_t n2 = 0;
    char *err = NULL;
    if (bp_envelope_batch_from_json(t1, strlen(t1), &again, &n2, &err) != BP_OK)
        fz_fail("batch_from_json rejected batch_to_json output", t1, err);
    if (n2 != n)
        fz_fail("batch size changed", t1, NULL);
    char *t2 = bp_envelope_batch_to_json(again, n2, flags);
    if (t2 == NULL || strcmp(t1, t2) != 0)
        fz_fail("second batch_to_json differs", t1, t2);
    free(t2);
    free(t1);
    for (size_t i = 0; i < n2; i++)
        bp_envelope_unref(again[i]);
    free(again);
}

struct fz_record {
    bp_header *h;
    size_t n;
    unsigned char *value;
    size_t len;
};

static void fz_record_free(struct fz_record *r)
{
    bp_headers_free(r->h, r->n);
    free(r->value);
}

static int fz_same_headers(const struct fz_record *a, const struct fz_record *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->h[i].name, b->h[i].name) != 0 || a->h[i].len != b->h[i].len ||
            (a->h[i].len > 0 && memcmp(a->h[i].value, b->h[i].value, a->h[i].len) != 0))
            return 0;
    return 1;
}

static int fz_same_value(const struct fz_record *a, const struct fz_record *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->value, b->value, a->len) == 0);
}

/* Writes env as a record and reads it back into *back (NULL when the record
 * is legitimately unreadable, e.g. data_base64 without a content type gives
 * raw bytes that binary mode reads as JSON). */
static void fz_to_record(const bp_envelope *env, struct fz_record *r, bp_envelope **back)
{
    memset(r, 0, sizeof(*r));
    if (bp_envelope_to_binary(env, &r->h, &r->n, &r->value, &r->len) != BP_OK)
        fz_fail("to_binary failed", NULL, NULL);
    *back = NULL;
    if (bp_envelope_from_binary(r->h, r->n, r->value, r->len, back, NULL) != BP_OK)
        *back = NULL;
}

/* Headers must survive the first trip. The value may change once: bytes of
 * data_base64 without a content type are read as JSON and rewritten in
 * cJSON's canonical form ("{ }" becomes "{}"). From then on all is stable. */
static void fz_binary(const bp_envelope *env)
{
    struct fz_record r1, r2, r3;
    bp_envelope *e2, *e3;
    fz_to_record(env, &r1, &e2);
    if (e2 != NULL) {
        fz_to_record(e2, &r2, &e3);
        if (!fz_same_headers(&r1, &r2))
            fz_fail("binary round trip changed the headers", NULL, NULL);
        if (e3 == NULL)
            fz_fail("binary record written from a binary record is unreadable", NULL, NULL);
        bp_envelope *e4;
        fz_to_record(e3, &r3, &e4);
        if (!fz_same_headers(&r2, &r3) || !fz_same_value(&r2, &r3))
            fz_fail("second binary round trip changed the record", NULL, NULL);
        bp_envelope_unref(e4);
        bp_envelope_unref(e3);
        fz_record_free(&r3);
        fz_record_free(&r2);
        bp_envelope_unref(e2);
    }
    fz_record_free(&r1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* data is not NUL-terminated: the readers must honour size. */
    const char *text = (const char *)data;
    bp_envelope *env = NULL;
    char *err = NULL;
    if (bp_envelope_from_json(text, size, &env, &err) == BP_OK) {
        if (env == NULL || err != NULL)
            fz_fail("success without an envelope or with a message", NULL, err);
        for (size_t i = 0; i < sizeof(fz_flags) / sizeof(fz_flags[0]); i++)
            fz_single(env, fz_flags[i]);
        fz_binary(env);
        bp_envelope_unref(env);
    } else if (env != NULL) {
        fz_fail("failure left an envelope behind", NULL, err);
    }
    free(err);

    bp_envelope **envs = NULL;
    size_t n = 0;
    err = NULL;
    if (bp_envelope_batch_from_json(text, size, &envs, &n, &err) == BP_OK) {
        for (size_t i = 0; i < sizeof(fz_flags) / sizeof(fz_flags[0]); i++)
            fz_batch(envs, n, fz_flags[i]);
        for (size_t i = 0; i < n; i++)
            bp_envelope_unref(envs[i]);
        free(envs);
    } else if (envs != NULL || n != 0) {
        fz_fail("batch failure left envelopes behind", NULL, err);
    }
    free(err);
    return 0;
}
