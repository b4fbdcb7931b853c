/* Unit tests for the envelope object (core/envelope.c, core/envelope_path.c):
 * CloudEvents attribute rules, extensions, reference counting and
 * copy-on-write, deep copies, paths, finalize. Every CHECK is a behaviour a
 * plugin author or an operator would notice if it changed.
 *
 * Everything allocated here is released again: the suite runs under ASan, so a
 * leak or a double free in the envelope code fails it too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/envelope.h>
#include "envelope_int.h"
#include "sha256.h"
#include "tap.h"

/* Envelope with data parsed from JSON text (the test's fixture, so abort on
 * failure rather than test against a half-built object). */
static bp_envelope *env_with_data(const char *json)
{
    bp_envelope *env = bp_envelope_new();
    cJSON *data = cJSON_Parse(json);
    if (env == NULL || data == NULL || bp_envelope_set0_data(env, data) != BP_OK) {
        fprintf(stderr, "fixture failed: %s\n", json);
        abort();
    }
    return env;
}

static double num_at(const bp_envelope *env, const char *path)
{
    const cJSON *v = bp_envelope_get0_path(env, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -12345.0;
}

static const char *str_at(const bp_envelope *env, const char *path)
{
    const cJSON *v = bp_envelope_get0_path(env, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* 8-4-4-4-12 lowercase hex, version nibble 4, variant 10xx. */
static int is_uuid4(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* ---- a new envelope ------------------------------------------------------ */

static void test_new(void)
{
    bp_envelope *env = bp_envelope_new();
    CHECK(env != NULL);
    CHECK_STR(bp_envelope_get0_attr(env, "specversion"), "1.0");
    CHECK_STR(bp_envelope_get0_attr(env, "id"), NULL);
    CHECK_STR(bp_envelope_get0_attr(env, "source"), NULL);
    CHECK_STR(bp_envelope_get0_attr(env, "type"), NULL);
    CHECK(bp_envelope_get0_data(env) == NULL);
    CHECK_INT(bp_envelope_is_writable(env), 1);
    CHECK_INT(bp_envelope_ext_count(env), 0);
    CHECK_INT(bp_envelope_attachment_count(env), 0);
    CHECK_INT(bp_envelope_lineage_count(env), 0);
    bp_envelope_unref(env);

    /* NULL-safe, as documented: a cleanup path may call these unconditionally. */
    CHECK(bp_envelope_ref(NULL) == NULL);
    bp_envelope_unref(NULL);
}

/* ---- context attributes ------------------------------------------------- */

static void test_attributes(void)
{
    bp_envelope *env = bp_envelope_new();

    CHECK_INT(bp_envelope_set_attr(env, "id", "inv-1"), BP_OK);
    CHECK_INT(bp_envelope_set_attr(env, "source", "odbc://erp/ap_invoices"), BP_OK);
    CHECK_INT(bp_envelope_set_attr(env, "type", "com.example.ap.invoice"), BP_OK);
    CHECK_INT(bp_envelope_set_attr(env, "subject", "INV-2026-0001"), BP_OK);
    CHECK_INT(bp_envelope_set_attr(env, "datacontenttype", "application/json"), BP_OK);
    CHECK_INT(bp_envelope_set_attr(env, "dataschema", "https://example.com/inv.json"), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "id"), "inv-1");
    CHECK_STR(bp_envelope_get0_attr(env, "source"), "odbc://erp/ap_invoices");
    CHECK_STR(bp_envelope_get0_attr(env, "type"), "com.example.ap.invoice");
    CHECK_STR(bp_envelope_get0_attr(env, "subject"), "INV-2026-0001");
    CHECK_STR(bp_envelope_get0_attr(env, "datacontenttype"), "application/json");
    CHECK_STR(bp_envelope_get0_attr(env, "dataschema"), "https://example.com/inv.json");
    /* Attributes are not extensions. */
    CHECK_INT(bp_envelope_ext_count(env), 0);

    /* Setting again replaces. */
    CHECK_INT(bp_envelope_set_attr(env, "subject", "INV-2026-0002"), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "subject"), "INV-2026-0002");

    /* Required attributes can be neither removed nor emptied; the old value stays. */
    CHECK_INT(bp_envelope_set_attr(env, "id", NULL), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "source", NULL), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "type", NULL), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "specversion", NULL), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "id", ""), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "source", ""), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "type", ""), BP_ERR_INVALID);
    CHECK_STR(bp_envelope_get0_attr(env, "id"), "inv-1");
    CHECK_STR(bp_envelope_get0_attr(env, "source"), "odbc://erp/ap_invoices");
    CHECK_STR(bp_envelope_get0_attr(env, "type"), "com.example.ap.invoice");
    CHECK_STR(bp_envelope_get0_attr(env, "specversion"), "1.0");

    /* Optional attributes can be removed. */
    CHECK_INT(bp_envelope_set_attr(env, "subject", NULL), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "subject"), NULL);
    CHECK_INT(bp_envelope_set_attr(env, "dataschema", NULL), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "dataschema"), NULL);

    /* This bus speaks CloudEvents 1.0 only. */
    CHECK_INT(bp_envelope_set_attr(env, "specversion", "1.0"), BP_OK);
    CHECK_INT(bp_envelope_set_attr(env, "specversion", "0.3"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "specversion", "1.0.2"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "specversion", "2.0"), BP_ERR_INVALID);
    CHECK_STR(bp_envelope_get0_attr(env, "specversion"), "1.0");

    /* time must be RFC 3339. */
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-11-22T10:00:00Z"), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "time"), "2026-11-22T10:00:00Z");
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-11-22T10:00:00.123+01:00"), BP_OK);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-11-22T10:00:00.5-05:30"), BP_OK);
    CHECK_INT(bp_envelope_set_attr(env, "time", "yesterday"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-11-22"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-11-22T10:00:00"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-11-22T10:00:00+0100"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-13-01T10:00:00Z"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-11-22T25:00:00Z"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-11-22T10:00:00Zjunk"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", "22.11.2026 10:00"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", ""), BP_ERR_INVALID);
    /* A refused value leaves the previous one in place. */
    CHECK_STR(bp_envelope_get0_attr(env, "time"), "2026-11-22T10:00:00.5-05:30");
    /* RFC 3339 5.7: the day must exist in its month, the offset hour is 00-23. */
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-02-30T10:00:00Z"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2025-02-29T10:00:00Z"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2024-02-29T10:00:00Z"), BP_OK);
    CHECK_INT(bp_envelope_set_attr(env, "time", "2026-11-22T10:00:00+25:00"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "time", NULL), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "time"), NULL);

    bp_envelope_unref(env);
}

/* ---- extensions -------------------------------------------------------- */

static void test_extensions(void)
{
    bp_envelope *env = bp_envelope_new();
    const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    CHECK_INT(bp_envelope_set_attr(env, "traceparent", tp), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "traceparent"), tp);
    CHECK(cJSON_IsString(bp_envelope_get0_ext(env, "traceparent")));

    /* Names: lowercase letters and digits, 1..20 characters. */
    CHECK_INT(bp_envelope_set_attr(env, "Foo", "x"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "foo_bar", "x"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "foo-bar", "x"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "foo.bar", "x"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "", "x"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "abcdefghijklmnopqrstu", "x"), BP_ERR_INVALID); /* 21 */
    CHECK_INT(bp_envelope_set_attr(env, "abcdefghijklmnopqrst", "x"), BP_OK);           /* 20 */
    CHECK_INT(bp_envelope_set_attr(env, "x1", "y"), BP_OK);
    CHECK(bp_envelope_get0_ext(env, "Foo") == NULL);
    CHECK(bp_envelope_get0_ext(env, "foo_bar") == NULL);
    CHECK(bp_envelope_get0_ext(env, "abcdefghijklmnopqrstu") == NULL);
    CHECK_INT(bp_envelope_set0_ext(env, "Foo", cJSON_CreateString("x")), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_ext(env, "foo_bar", cJSON_CreateNumber(1)), BP_ERR_INVALID);

    /* Types: string, number, bool; anything else is refused (and freed). */
    CHECK_INT(bp_envelope_set0_ext(env, "attempt", cJSON_CreateNumber(3)), BP_OK);
    CHECK_INT(bp_envelope_set0_ext(env, "reviewed", cJSON_CreateTrue()), BP_OK);
    CHECK_INT(bp_envelope_set0_ext(env, "flags", cJSON_CreateString("po_mismatch")), BP_OK);
    CHECK_INT(bp_envelope_set0_ext(env, "obj", cJSON_CreateObject()), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_ext(env, "arr", cJSON_CreateArray()), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_ext(env, "nul", cJSON_CreateNull()), BP_ERR_INVALID);
    CHECK(bp_envelope_get0_ext(env, "obj") == NULL);
    const cJSON *attempt = bp_envelope_get0_ext(env, "attempt");
    CHECK(cJSON_IsNumber(attempt) && attempt->valuedouble == 3);
    CHECK(cJSON_IsTrue(bp_envelope_get0_ext(env, "reviewed")));
    /* get0_attr is for strings only: a numeric extension is not a string. */
    CHECK_STR(bp_envelope_get0_attr(env, "attempt"), NULL);
    CHECK_STR(bp_envelope_get0_attr(env, "flags"), "po_mismatch");

    /* Context attributes are not extensions. */
    CHECK_INT(bp_envelope_set0_ext(env, "subject", cJSON_CreateString("x")), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_ext(env, "id", cJSON_CreateString("x")), BP_ERR_INVALID);
    CHECK_STR(bp_envelope_get0_attr(env, "subject"), NULL);

    /* Replacing keeps one entry; order is insertion order. */
    CHECK_INT(bp_envelope_set0_ext(env, "attempt", cJSON_CreateNumber(4)), BP_OK);
    CHECK_INT(bp_envelope_ext_count(env), 6);
    CHECK_STR(bp_envelope_ext_name(env, 0), "traceparent");
    CHECK_STR(bp_envelope_ext_name(env, 1), "abcdefghijklmnopqrst");
    CHECK_STR(bp_envelope_ext_name(env, 3), "attempt");
    CHECK_STR(bp_envelope_ext_name(env, 5), "flags");
    CHECK_STR(bp_envelope_ext_name(env, 6), NULL);
    CHECK(bp_envelope_get0_ext(env, "attempt")->valuedouble == 4);

    /* Removing an extension. */
    CHECK_INT(bp_envelope_set_attr(env, "x1", NULL), BP_OK);
    CHECK(bp_envelope_get0_ext(env, "x1") == NULL);
    CHECK_INT(bp_envelope_ext_count(env), 5);

    bp_envelope_unref(env);
}

/* ---- reference counting and copy-on-write ----------------------------- */

static void test_refcount_cow(void)
{
    bp_envelope *env = bp_envelope_new();
    bp_envelope_set_attr(env, "source", "file://in");
    bp_envelope_set_attr(env, "subject", "orig");
    bp_envelope_set0_data(env, cJSON_Parse("{\"a\":1}"));

    bp_envelope *other = bp_envelope_ref(env);
    CHECK(other == env);
    CHECK_INT(bp_envelope_is_writable(env), 0);

    /* Every mutation of a shared envelope is refused, and nothing changes. */
    CHECK_INT(bp_envelope_set_attr(env, "subject", "changed"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set_attr(env, "subject", NULL), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_ext(env, "flags", cJSON_CreateString("x")), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_data(env, cJSON_CreateObject()), BP_ERR_INVALID);
    CHECK(bp_envelope_get0_data_mut(env) == NULL);
    CHECK_INT(bp_envelope_set0_path(env, "data.a", cJSON_CreateNumber(2)), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "data.b", cJSON_CreateNumber(2)), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_remove_path(env, "data.a"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_add_attachment(env, "a.txt", "text/plain", "x", 1), BP_ERR_INVALID);
    bp_lineage lin = {.plugin = "set", .version = "1.0.0", .confidence = -1};
    CHECK_INT(bp_envelope_add_lineage(env, &lin), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_finalize(env, NULL), BP_ERR_INVALID);
    CHECK_STR(bp_envelope_get0_attr(env, "subject"), "orig");
    CHECK(bp_envelope_get0_ext(env, "flags") == NULL);
    CHECK(num_at(env, "data.a") == 1);
    CHECK(bp_envelope_get0_path(env, "data.b") == NULL);
    CHECK_STR(bp_envelope_get0_attr(env, "id"), NULL);
    CHECK_INT(bp_envelope_attachment_count(env), 0);
    CHECK_INT(bp_envelope_lineage_count(env), 0);

    /* make_writable on a shared envelope: a copy, the original untouched, and
     * the caller's reference to the original handed back. */
    bp_envelope *w = bp_envelope_make_writable(env);
    CHECK(w != NULL && w != env);
    CHECK_INT(bp_envelope_is_writable(w), 1);
    CHECK_INT(bp_envelope_is_writable(other), 1);
    CHECK_STR(bp_envelope_get0_attr(w, "subject"), "orig");
    CHECK(num_at(w, "data.a") == 1);
    CHECK_INT(bp_envelope_set_attr(w, "subject", "changed"), BP_OK);
    CHECK_INT(bp_envelope_set0_path(w, "data.a", cJSON_CreateNumber(2)), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(w, "subject"), "changed");
    CHECK(num_at(w, "data.a") == 2);
    CHECK_STR(bp_envelope_get0_attr(other, "subject"), "orig");
    CHECK(num_at(other, "data.a") == 1);

    /* make_writable on an unshared envelope is free: the same pointer. */
    CHECK(bp_envelope_make_writable(w) == w);
    CHECK(bp_envelope_make_writable(NULL) == NULL);

    /* ref/unref pairs restore writability. */
    bp_envelope_ref(w);
    CHECK_INT(bp_envelope_is_writable(w), 0);
    bp_envelope_unref(w);
    CHECK_INT(bp_envelope_is_writable(w), 1);

    bp_envelope_unref(w);
    bp_envelope_unref(other);
}

/* ---- dup is deep -------------------------------------------------------- */

static void test_dup(void)
{
    static const unsigned char pdf[] = {'%', 'P', 'D', 'F', 0, 1, 0, 0xff, 'x'};
    bp_envelope *env = env_with_data("{\"a\":[1,2],\"vendor\":\"ACME\"}");
    bp_envelope_set_attr(env, "source", "imap://mail/INBOX");
    bp_envelope_set_attr(env, "traceparent", "00-abc-def-01");
    CHECK_INT(bp_envelope_add_attachment(env, "invoice.pdf", "application/pdf", pdf, sizeof(pdf)),
              BP_OK);
    CHECK_INT(bp_envelope_add_attachment(env, NULL, NULL, NULL, 0), BP_OK);
    bp_lineage l1 = {.plugin = "extract", .version = "1.2.0", .model = "invoices-v3",
                     .confidence = 0.875, .changed = "data.total,data.vendor", .at_ms = 1234};
    bp_lineage l2 = {.plugin = "set", .version = "1.0.0", .confidence = -1};
    CHECK_INT(bp_envelope_add_lineage(env, &l1), BP_OK);
    CHECK_INT(bp_envelope_add_lineage(env, &l2), BP_OK);
    bp_lineage bad = {.plugin = NULL};
    CHECK_INT(bp_envelope_add_lineage(env, &bad), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_lineage_count(env), 2);
    /* at_ms 0 means "now". */
    CHECK(bp_envelope_get0_lineage(env, 1)->at_ms > 1600000000000LL);
    const bp_attachment *empty = bp_envelope_get0_attachment(env, 1);
    CHECK_STR(empty->name, "");
    CHECK_STR(empty->media_type, "application/octet-stream");
    CHECK_INT(empty->size, 0);
    CHECK(bp_envelope_get0_attachment(env, 2) == NULL);

    bp_envelope *d = bp_envelope_dup(env);
    CHECK(d != NULL && d != env);
    CHECK_INT(bp_envelope_is_writable(env), 1);
    CHECK_INT(bp_envelope_is_writable(d), 1);
    CHECK_STR(bp_envelope_get0_attr(d, "source"), "imap://mail/INBOX");
    CHECK_STR(bp_envelope_get0_attr(d, "traceparent"), "00-abc-def-01");
    CHECK(bp_envelope_get0_data(d) != bp_envelope_get0_data(env));

    /* Changing the copy does not reach the original. */
    CHECK_INT(bp_envelope_set0_path(d, "data.a[0]", cJSON_CreateNumber(99)), BP_OK);
    CHECK_INT(bp_envelope_set_attr(d, "traceparent", "00-new-01"), BP_OK);
    CHECK(num_at(env, "data.a[0]") == 1);
    CHECK_STR(bp_envelope_get0_attr(env, "traceparent"), "00-abc-def-01");

    /* Free the original first: everything the copy shows must be its own. */
    const bp_attachment *orig_att = bp_envelope_get0_attachment(env, 0);
    const bp_lineage *orig_lin = bp_envelope_get0_lineage(env, 0);
    const bp_attachment *a = bp_envelope_get0_attachment(d, 0);
    const bp_lineage *l = bp_envelope_get0_lineage(d, 0);
    CHECK(a->bytes != orig_att->bytes);
    CHECK(l->plugin != orig_lin->plugin && l->changed != orig_lin->changed);
    bp_envelope_unref(env);

    CHECK_INT(bp_envelope_attachment_count(d), 2);
    CHECK_STR(a->name, "invoice.pdf");
    CHECK_STR(a->media_type, "application/pdf");
    CHECK_INT(a->size, sizeof(pdf));
    CHECK(memcmp(a->bytes, pdf, sizeof(pdf)) == 0); /* NUL bytes inside survive */
    CHECK_INT(bp_envelope_get0_attachment(d, 1)->size, 0);

    CHECK_INT(bp_envelope_lineage_count(d), 2);
    CHECK_STR(l->plugin, "extract");
    CHECK_STR(l->version, "1.2.0");
    CHECK_STR(l->model, "invoices-v3");
    CHECK_STR(l->changed, "data.total,data.vendor");
    CHECK(l->confidence == 0.875);
    CHECK_INT(l->at_ms, 1234);
    CHECK_STR(bp_envelope_get0_lineage(d, 1)->plugin, "set");
    CHECK_STR(bp_envelope_get0_lineage(d, 1)->model, NULL);
    CHECK_STR(bp_envelope_get0_lineage(d, 1)->changed, NULL);
    CHECK(bp_envelope_get0_lineage(d, 2) == NULL);
    CHECK(num_at(d, "data.a[0]") == 99);
    CHECK_STR(str_at(d, "data.vendor"), "ACME");

    bp_envelope_unref(d);
}

/* ---- paths: read ------------------------------------------------------- */

static void test_path_get(void)
{
    bp_envelope *env = env_with_data(
        "{\"a\":{\"b\":\"deep\"},\"lines\":[{\"amount\":10},{\"amount\":12.5}],\"n\":0}");
    bp_envelope_set_attr(env, "subject", "INV-1");
    bp_envelope_set_attr(env, "traceparent", "00-abc-def-01");
    bp_envelope_set0_ext(env, "confidence", cJSON_CreateNumber(0.9));

    CHECK(bp_envelope_get0_path(env, "data") == bp_envelope_get0_data(env));
    CHECK_STR(str_at(env, "data.a.b"), "deep");
    CHECK(cJSON_IsObject(bp_envelope_get0_path(env, "data.a")));
    CHECK(num_at(env, "data.lines[1].amount") == 12.5);
    CHECK(num_at(env, "data.lines[0].amount") == 10);
    CHECK(cJSON_IsArray(bp_envelope_get0_path(env, "data.lines")));
    CHECK(num_at(env, "data.n") == 0);
    CHECK_STR(str_at(env, "subject"), "INV-1");
    CHECK_STR(str_at(env, "specversion"), "1.0");
    CHECK_STR(str_at(env, "traceparent"), "00-abc-def-01");
    CHECK(num_at(env, "confidence") == 0.9);

    /* Missing is NULL, never an error. */
    CHECK(bp_envelope_get0_path(env, "data.missing") == NULL);
    CHECK(bp_envelope_get0_path(env, "data.a.b.c") == NULL);
    CHECK(bp_envelope_get0_path(env, "data.a.missing.c") == NULL);
    CHECK(bp_envelope_get0_path(env, "data.lines[2]") == NULL);
    CHECK(bp_envelope_get0_path(env, "data.lines[2].amount") == NULL);
    CHECK(bp_envelope_get0_path(env, "data.lines.amount") == NULL);
    CHECK(bp_envelope_get0_path(env, "data.a[0]") == NULL);
    CHECK(bp_envelope_get0_path(env, "id") == NULL);
    CHECK(bp_envelope_get0_path(env, "dataschema") == NULL);
    CHECK(bp_envelope_get0_path(env, "nosuchext") == NULL);
    CHECK(bp_envelope_get0_path(env, "subject.x") == NULL);

    /* Bad syntax is NULL here and BP_ERR_PARSE from bp_path_check. */
    static const char *const bad[] = {
        "data..a", "data[x]", "data.a]", "", "data.", ".data", "[0]", "data.lines[1",
        "data.lines[]", "data.lines[-1]", "data.a b", "data.lines[0]x", NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        if (!CHECK(bp_envelope_get0_path(env, bad[i]) == NULL))
            printf("#   path: \"%s\"\n", bad[i]);
        if (!CHECK_INT(bp_path_check(bad[i]), BP_ERR_PARSE))
            printf("#   path: \"%s\"\n", bad[i]);
    }
    CHECK_INT(bp_path_check(NULL), BP_ERR_PARSE);
    CHECK(bp_envelope_get0_path(env, NULL) == NULL);

    static const char *const good[] = {
        "data", "data.a.b", "data.lines[0].amount", "data[3]", "data.m[0][1]", "subject",
        "traceparent", NULL,
    };
    for (size_t i = 0; good[i]; i++)
        if (!CHECK_INT(bp_path_check(good[i]), BP_OK))
            printf("#   path: \"%s\"\n", good[i]);

    bp_envelope_unref(env);
}

/* ---- paths: write ------------------------------------------------------ */

static void test_path_set(void)
{
    bp_envelope *env = bp_envelope_new();

    /* Missing objects on the way are created, data included. (Under ASan this
     * is also where a leak of the intermediate key's name would show.) */
    CHECK_INT(bp_envelope_set0_path(env, "data.vendor.name", cJSON_CreateString("ACME")), BP_OK);
    CHECK(cJSON_IsObject(bp_envelope_get0_data(env)));
    CHECK(cJSON_IsObject(bp_envelope_get0_path(env, "data.vendor")));
    CHECK_STR(str_at(env, "data.vendor.name"), "ACME");
    CHECK_INT(bp_envelope_set0_path(env, "data.vendor.name", cJSON_CreateString("Acme")), BP_OK);
    CHECK_STR(str_at(env, "data.vendor.name"), "Acme");
    CHECK_INT(cJSON_GetArraySize(bp_envelope_get0_path(env, "data.vendor")), 1);

    /* Arrays: replace in range, append at index == size, refuse beyond. */
    CHECK_INT(bp_envelope_set0_path(env, "data.items", cJSON_Parse("[1,2]")), BP_OK);
    CHECK_INT(bp_envelope_set0_path(env, "data.items[0]", cJSON_CreateNumber(10)), BP_OK);
    CHECK_INT(bp_envelope_set0_path(env, "data.items[2]", cJSON_CreateNumber(3)), BP_OK);
    CHECK_INT(cJSON_GetArraySize(bp_envelope_get0_path(env, "data.items")), 3);
    CHECK(num_at(env, "data.items[0]") == 10);
    CHECK(num_at(env, "data.items[2]") == 3);
    CHECK_INT(bp_envelope_set0_path(env, "data.items[4]", cJSON_CreateNumber(5)), BP_ERR_INVALID);
    CHECK_INT(cJSON_GetArraySize(bp_envelope_get0_path(env, "data.items")), 3);
    CHECK_INT(bp_envelope_set0_path(env, "data.lines", cJSON_Parse("[{\"amount\":1}]")), BP_OK);
    CHECK_INT(bp_envelope_set0_path(env, "data.lines[0].amount", cJSON_CreateNumber(7.25)), BP_OK);
    CHECK(num_at(env, "data.lines[0].amount") == 7.25);
    CHECK_INT(bp_envelope_set0_path(env, "data.lines[0].tax.rate", cJSON_CreateNumber(0.19)),
              BP_OK);
    CHECK(num_at(env, "data.lines[0].tax.rate") == 0.19);

    /* Cannot descend through a scalar or index a non-array. */
    CHECK_INT(bp_envelope_set0_path(env, "data.items[0].x", cJSON_CreateNumber(1)),
              BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "data.vendor.name.first", cJSON_CreateString("x")),
              BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "data.vendor[0]", cJSON_CreateString("x")),
              BP_ERR_INVALID);
    CHECK_STR(str_at(env, "data.vendor.name"), "Acme");

    /* Bad syntax and bad arguments. */
    CHECK_INT(bp_envelope_set0_path(env, "data..x", cJSON_CreateNumber(1)), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "", cJSON_CreateNumber(1)), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "data.x", NULL), BP_ERR_INVALID);

    /* Context attributes take strings only, under their own rules. */
    CHECK_INT(bp_envelope_set0_path(env, "subject", cJSON_CreateString("S-1")), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "subject"), "S-1");
    CHECK_INT(bp_envelope_set0_path(env, "subject", cJSON_CreateNumber(5)), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "subject", cJSON_CreateTrue()), BP_ERR_INVALID);
    CHECK_STR(bp_envelope_get0_attr(env, "subject"), "S-1");
    CHECK_INT(bp_envelope_set0_path(env, "type", cJSON_CreateString("")), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "specversion", cJSON_CreateString("0.3")),
              BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "time", cJSON_CreateString("now")), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "subject.x", cJSON_CreateString("x")), BP_ERR_INVALID);
    CHECK_STR(bp_envelope_get0_attr(env, "specversion"), "1.0");

    /* Extensions take strings, numbers and booleans; numbers stay numbers. */
    CHECK_INT(bp_envelope_set0_path(env, "confidence", cJSON_CreateNumber(0.75)), BP_OK);
    const cJSON *conf = bp_envelope_get0_ext(env, "confidence");
    CHECK(cJSON_IsNumber(conf) && conf->valuedouble == 0.75);
    CHECK_INT(bp_envelope_set0_path(env, "flags", cJSON_CreateString("a,b")), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "flags"), "a,b");
    CHECK_INT(bp_envelope_set0_path(env, "reviewed", cJSON_CreateFalse()), BP_OK);
    CHECK(cJSON_IsFalse(bp_envelope_get0_ext(env, "reviewed")));
    CHECK_INT(bp_envelope_set0_path(env, "confidence", cJSON_CreateObject()), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "BadName", cJSON_CreateString("x")), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_set0_path(env, "foo_bar", cJSON_CreateString("x")), BP_ERR_INVALID);
    CHECK(num_at(env, "confidence") == 0.75);

    /* "data" alone replaces the whole payload, with any JSON value. */
    CHECK_INT(bp_envelope_set0_path(env, "data", cJSON_CreateString("plain text")), BP_OK);
    CHECK_STR(str_at(env, "data"), "plain text");
    CHECK(bp_envelope_get0_path(env, "data.vendor") == NULL);
    CHECK_INT(bp_envelope_set0_path(env, "data", cJSON_Parse("[1,2]")), BP_OK);
    CHECK_INT(bp_envelope_set0_path(env, "data[2]", cJSON_CreateNumber(3)), BP_OK);
    CHECK(num_at(env, "data[2]") == 3);

    bp_envelope_unref(env);
}

/* A refused set0_path must leave the envelope as it was (the caller gets an
 * error and assumes nothing happened). */
static void test_path_set_refused_leaves_no_trace(void)
{
    bp_envelope *env = bp_envelope_new();
    CHECK_INT(bp_envelope_set0_path(env, "data.items[3]", cJSON_CreateNumber(1)),
              BP_ERR_INVALID);
    if (!CHECK(bp_envelope_get0_data(env) == NULL)) {
        char *s = cJSON_PrintUnformatted(bp_envelope_get0_data(env));
        printf("#   data after the refused set: %s\n", s ? s : "(null)");
        free(s);
    }
    bp_envelope_unref(env);

    /* Base64 data (binary payload) refuses a key, and must stay base64. */
    env = bp_envelope_new();
    bp_envelope_set0_data(env, cJSON_CreateString("aGVsbG8="));
    bp_envelope_set_data_base64(env, 1);
    CHECK_INT(bp_envelope_set0_path(env, "data.a", cJSON_CreateNumber(1)), BP_ERR_INVALID);
    CHECK_STR(str_at(env, "data"), "aGVsbG8=");
    CHECK_INT(bp_envelope_data_is_base64(env), 1);
    bp_envelope_unref(env);
}

/* ---- paths: remove ----------------------------------------------------- */

static void test_path_remove(void)
{
    bp_envelope *env = env_with_data("{\"a\":{\"b\":1,\"c\":2},\"lines\":[10,20,30]}");
    bp_envelope_set_attr(env, "id", "r-1");
    bp_envelope_set_attr(env, "source", "file://in");
    bp_envelope_set_attr(env, "type", "com.example.test");
    bp_envelope_set_attr(env, "subject", "S");
    bp_envelope_set_attr(env, "datacontenttype", "application/json");
    bp_envelope_set_attr(env, "traceparent", "00-abc-def-01");

    CHECK_INT(bp_envelope_remove_path(env, "data.a.b"), BP_OK);
    CHECK(bp_envelope_get0_path(env, "data.a.b") == NULL);
    CHECK(num_at(env, "data.a.c") == 2);

    CHECK_INT(bp_envelope_remove_path(env, "data.lines[1]"), BP_OK);
    CHECK_INT(cJSON_GetArraySize(bp_envelope_get0_path(env, "data.lines")), 2);
    CHECK(num_at(env, "data.lines[0]") == 10);
    CHECK(num_at(env, "data.lines[1]") == 30);

    CHECK_INT(bp_envelope_remove_path(env, "traceparent"), BP_OK);
    CHECK(bp_envelope_get0_ext(env, "traceparent") == NULL);
    CHECK_INT(bp_envelope_ext_count(env), 0);

    CHECK_INT(bp_envelope_remove_path(env, "subject"), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "subject"), NULL);
    CHECK_INT(bp_envelope_remove_path(env, "datacontenttype"), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "datacontenttype"), NULL);

    /* Required attributes stay. */
    CHECK_INT(bp_envelope_remove_path(env, "id"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_remove_path(env, "source"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_remove_path(env, "type"), BP_ERR_INVALID);
    CHECK_INT(bp_envelope_remove_path(env, "specversion"), BP_ERR_INVALID);
    CHECK_STR(bp_envelope_get0_attr(env, "id"), "r-1");
    CHECK_STR(bp_envelope_get0_attr(env, "source"), "file://in");
    CHECK_STR(bp_envelope_get0_attr(env, "type"), "com.example.test");
    CHECK_STR(bp_envelope_get0_attr(env, "specversion"), "1.0");

    /* Missing. */
    CHECK_INT(bp_envelope_remove_path(env, "data.zzz"), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_envelope_remove_path(env, "data.a.b"), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_envelope_remove_path(env, "data.a.b.c"), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_envelope_remove_path(env, "data.lines[5]"), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_envelope_remove_path(env, "traceparent"), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_envelope_remove_path(env, "subject"), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_envelope_remove_path(env, "dataschema"), BP_ERR_NOT_FOUND);
    CHECK(bp_envelope_remove_path(env, "data..a") != BP_OK);

    /* The whole payload. */
    CHECK_INT(bp_envelope_remove_path(env, "data"), BP_OK);
    CHECK(bp_envelope_get0_data(env) == NULL);
    CHECK_INT(bp_envelope_remove_path(env, "data"), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_envelope_remove_path(env, "data.a"), BP_ERR_NOT_FOUND);

    bp_envelope_unref(env);
}

/* ---- finalize --------------------------------------------------------- */

static void test_finalize(void)
{
    char *err = (char *)"untouched";
    bp_envelope *env = bp_envelope_new();
    bp_envelope_set_attr(env, "source", "file://in");
    bp_envelope_set_attr(env, "type", "com.example.test");
    CHECK_INT(bp_envelope_finalize(env, &err), BP_OK);
    CHECK(err == NULL);
    const char *id = bp_envelope_get0_attr(env, "id");
    if (!CHECK(is_uuid4(id)))
        printf("#   id: %s\n", id ? id : "NULL");
    CHECK_INT(id ? strlen(id) : 0, 36);
    const char *t = bp_envelope_get0_attr(env, "time");
    CHECK(t != NULL);
    /* The filled-in time passes the same RFC 3339 rule set_attr applies. */
    char tcopy[64];
    snprintf(tcopy, sizeof(tcopy), "%s", t ? t : "");
    CHECK_INT(bp_envelope_set_attr(env, "time", tcopy), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "specversion"), "1.0");

    /* Each finalize makes a new id. */
    bp_envelope *env2 = bp_envelope_new();
    bp_envelope_set_attr(env2, "source", "file://in");
    bp_envelope_set_attr(env2, "type", "com.example.test");
    CHECK_INT(bp_envelope_finalize(env2, NULL), BP_OK);
    CHECK(is_uuid4(bp_envelope_get0_attr(env2, "id")));
    CHECK(strcmp(bp_envelope_get0_attr(env2, "id"), id ? id : "") != 0);
    bp_envelope_unref(env2);

    /* Present values are kept. */
    bp_envelope *env3 = bp_envelope_new();
    bp_envelope_set_attr(env3, "id", "fixed-1");
    bp_envelope_set_attr(env3, "time", "2026-01-01T00:00:00Z");
    bp_envelope_set_attr(env3, "source", "file://in");
    bp_envelope_set_attr(env3, "type", "com.example.test");
    CHECK_INT(bp_envelope_finalize(env3, NULL), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env3, "id"), "fixed-1");
    CHECK_STR(bp_envelope_get0_attr(env3, "time"), "2026-01-01T00:00:00Z");
    bp_envelope_unref(env3);

    /* Missing required attributes are named, word for word. */
    bp_envelope *nosrc = bp_envelope_new();
    bp_envelope_set_attr(nosrc, "type", "com.example.test");
    err = NULL;
    CHECK_INT(bp_envelope_finalize(nosrc, &err), BP_ERR_INVALID);
    CHECK_STR(err, "missing required attribute 'source'");
    free(err);
    CHECK_INT(bp_envelope_finalize(nosrc, NULL), BP_ERR_INVALID);
    bp_envelope_unref(nosrc);

    bp_envelope *notype = bp_envelope_new();
    bp_envelope_set_attr(notype, "source", "file://in");
    err = NULL;
    CHECK_INT(bp_envelope_finalize(notype, &err), BP_ERR_INVALID);
    CHECK_STR(err, "missing required attribute 'type'");
    free(err);
    bp_envelope_unref(notype);

    bp_envelope_unref(env);
}

/* ---- values keep their types and bytes ---------------------------------- */

static void test_numbers_and_utf8(void)
{
    bp_envelope *env = env_with_data(
        "{\"n\":1,\"total\":1234.5,\"neg\":-3,\"big\":9007199254740991,\"s\":\"1\"}");
    CHECK(cJSON_IsNumber(bp_envelope_get0_path(env, "data.n")));
    CHECK(num_at(env, "data.n") == 1);
    CHECK(num_at(env, "data.total") == 1234.5);
    CHECK(num_at(env, "data.neg") == -3);
    CHECK(num_at(env, "data.big") == 9007199254740991.0);
    /* A numeric-looking string stays a string. */
    CHECK(cJSON_IsString(bp_envelope_get0_path(env, "data.s")));

    const char *name = "J\xc3\xb6rg \xc3\x9cmlaut"; /* "Jörg Ümlaut", 13 bytes */
    CHECK_INT(bp_envelope_set0_path(env, "data.vendor", cJSON_CreateString(name)), BP_OK);
    CHECK_STR(str_at(env, "data.vendor"), "Jörg Ümlaut");
    CHECK_INT(strlen(str_at(env, "data.vendor")), 13);
    CHECK_INT(bp_envelope_set_attr(env, "subject", "Jörg Ümlaut"), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(env, "subject"), name);
    /* Keys may be UTF-8 too. */
    CHECK_INT(bp_envelope_set0_path(env, "data.stra\xc3\x9f" "e", cJSON_CreateNumber(7)), BP_OK);
    CHECK(num_at(env, "data.straße") == 7);

    bp_envelope *d = bp_envelope_dup(env);
    CHECK_STR(str_at(d, "data.vendor"), "Jörg Ümlaut");
    CHECK(num_at(d, "data.big") == 9007199254740991.0);
    CHECK(cJSON_IsNumber(bp_envelope_get0_path(d, "data.total")));
    bp_envelope_unref(d);
    bp_envelope_unref(env);
}

/* SHA-256 against FIPS 180-4's examples, and the ids derived from it. */
static void test_derived_ids(void)
{
    static const struct { const char *in; const char *hex; } v[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        bp_sha256 h;
        unsigned char d[32];
        char hex[65];
        bp_sha256_init(&h);
        bp_sha256_update(&h, v[i].in, strlen(v[i].in));
        bp_sha256_final(&h, d);
        for (int k = 0; k < 32; k++)
            snprintf(hex + 2 * k, 3, "%02x", d[k]);
        CHECK_STR(hex, v[i].hex);
    }
    /* Same content: same id; another subject or token: another id. */
    char ids[4][40];
    for (int i = 0; i < 4; i++) {
        bp_envelope *e = bp_envelope_new();
        bp_envelope_set_attr(e, "source", "fx://in");
        bp_envelope_set_attr(e, "type", "t");
        bp_envelope_set_attr(e, "subject", i == 1 ? "other" : "s");
        bp_envelope_set_data_json(e, "{\"n\":1}", 7, "x");
        uint64_t tok = (uint64_t)i;
        CHECK_INT(bp_envelope_fill_id(e, i >= 2 ? &tok : NULL), BP_OK);
        snprintf(ids[i], sizeof ids[i], "%s", bp_envelope_get0_attr(e, "id"));
        bp_envelope_unref(e);
    }
    bp_envelope *e = bp_envelope_new();
    bp_envelope_set_attr(e, "source", "fx://in");
    bp_envelope_set_attr(e, "type", "t");
    bp_envelope_set_attr(e, "subject", "s");
    bp_envelope_set_data_json(e, "{\"n\":1}", 7, "x");
    bp_envelope_fill_id(e, NULL);
    CHECK_STR(bp_envelope_get0_attr(e, "id"), ids[0]);
    bp_envelope_set_attr(e, "id", "mine");
    CHECK_INT(bp_envelope_fill_id(e, NULL), BP_OK);
    CHECK_STR(bp_envelope_get0_attr(e, "id"), "mine");
    bp_envelope_unref(e);
    CHECK(strcmp(ids[0], ids[1]) != 0);
    CHECK(strcmp(ids[2], ids[3]) != 0);
    CHECK(strcmp(ids[0], ids[2]) != 0);
    CHECK(strlen(ids[0]) == 36 && ids[0][14] == '8');
    e = bp_envelope_new();
    CHECK_INT(bp_envelope_fill_id(e, NULL), BP_ERR_INVALID);   /* no source */
    bp_envelope_unref(e);
}

int main(void)
{
    test_new();
    test_attributes();
    test_extensions();
    test_refcount_cow();
    test_dup();
    test_path_get();
    test_path_set();
    test_path_set_refused_leaves_no_trace();
    test_path_remove();
    test_finalize();
    test_numbers_and_utf8();
    test_derived_ids();
    return tap_done();
}
