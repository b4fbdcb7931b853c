/* CloudEvents serialisers: structured JSON, JSON batch and Kafka binary mode.
 * Round trips must keep types (numbers stay numbers), bytes and UTF-8 intact;
 * every validation message is asserted word for word because users and
 * operators match on them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/envelope.h>
#include "envelope_int.h"
#include "tap.h"

/* ---- helpers -------------------------------------------------------------- */

static bp_envelope *parse(const char *json)
{
    bp_envelope *env = NULL;
    char *err = NULL;
    bp_status st = bp_envelope_from_json(json, strlen(json), &env, &err);
    if (!CHECK_INT(st, BP_OK))
        printf("#   input: %s\n#   error: %s\n", json, err ? err : "(none)");
    free(err);
    return env;
}

/* Asserts the status, the exact message, and that nothing was produced. */
static void expect_err(const char *json, bp_status want_st, const char *want_msg)
{
    bp_envelope *env = (bp_envelope *)1; /* must be reset to NULL */
    char *err = NULL;
    bp_status st = bp_envelope_from_json(json, strlen(json), &env, &err);
    CHECK_INT(st, want_st);
    CHECK_STR(err, want_msg);
    CHECK(env == NULL);
    free(err);
}

static void expect_batch_err(const char *json, bp_status want_st, const char *want_msg)
{
    bp_envelope **envs = (bp_envelope **)1;
    size_t n = 99;
    char *err = NULL;
    bp_status st = bp_envelope_batch_from_json(json, strlen(json), &envs, &n, &err);
    CHECK_INT(st, want_st);
    CHECK_STR(err, want_msg);
    CHECK(envs == NULL);
    CHECK_INT(n, 0);
    free(err);
}

static const cJSON *data_at(const bp_envelope *env, const char *path)
{
    return bp_envelope_get0_path(env, path);
}

/* A header's value as a NUL-terminated string (headers are not terminated). */
static const char *header(const bp_header *h, size_t n, const char *name, char *buf, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(h[i].name, name) == 0 && h[i].len < cap) {
            memcpy(buf, h[i].value, h[i].len);
            buf[h[i].len] = '\0';
            return buf;
        }
    }
    return NULL;
}

#define EV_HEAD "\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/src\",\"type\":\"t.x\""

/* An envelope with every kind of attribute, extension and nested data. */
static bp_envelope *make_rich(void)
{
    bp_envelope *env = bp_envelope_new();
    bp_envelope_set_attr(env, "id", "e1");
    bp_envelope_set_attr(env, "source", "/src");
    bp_envelope_set_attr(env, "type", "t.x");
    bp_envelope_set_attr(env, "subject", "Jörg Ümlaut");
    bp_envelope_set_attr(env, "time", "2024-05-01T10:00:00Z");
    bp_envelope_set_attr(env, "datacontenttype", "application/json");
    bp_envelope_set0_ext(env, "tenant", cJSON_CreateString("acme"));
    bp_envelope_set0_ext(env, "priority", cJSON_CreateNumber(5));
    bp_envelope_set0_ext(env, "ratio", cJSON_CreateNumber(0.1));
    bp_envelope_set0_ext(env, "urgent", cJSON_CreateTrue());
    bp_envelope_set0_data(env, cJSON_Parse("{\"name\":\"Jörg Ümlaut\",\"amount\":12.5,"
                                           "\"ts\":1700000000123,\"lines\":[{\"q\":1},{\"q\":-2}],"
                                           "\"ok\":false,\"none\":null}"));
    return env;
}

/* ---- structured mode ------------------------------------------------------ */

static void test_structured_round_trip(void)
{
    bp_envelope *env = make_rich();
    char *json = bp_envelope_to_json(env, BP_SER_DEFAULT);
    /* Attribute order is the CloudEvents order, then extensions as inserted. */
    CHECK_STR(json, "{" EV_HEAD ",\"subject\":\"Jörg Ümlaut\",\"time\":\"2024-05-01T10:00:00Z\","
                    "\"datacontenttype\":\"application/json\",\"tenant\":\"acme\","
                    "\"priority\":5,\"ratio\":0.1,\"urgent\":true,"
                    "\"data\":{\"name\":\"Jörg Ümlaut\",\"amount\":12.5,\"ts\":1700000000123,"
                    "\"lines\":[{\"q\":1},{\"q\":-2}],\"ok\":false,\"none\":null}}");

    bp_envelope *back = parse(json);
    if (back != NULL) {
        CHECK_STR(bp_envelope_get0_attr(back, "id"), "e1");
        CHECK_STR(bp_envelope_get0_attr(back, "specversion"), "1.0");
        CHECK_STR(bp_envelope_get0_attr(back, "subject"), "Jörg Ümlaut");
        CHECK_STR(bp_envelope_get0_attr(back, "time"), "2024-05-01T10:00:00Z");
        CHECK_STR(bp_envelope_get0_attr(back, "tenant"), "acme");
        const cJSON *prio = bp_envelope_get0_ext(back, "priority");
        CHECK(cJSON_IsNumber(prio) && prio->valuedouble == 5);
        const cJSON *ratio = bp_envelope_get0_ext(back, "ratio");
        CHECK(cJSON_IsNumber(ratio) && ratio->valuedouble == 0.1);
        CHECK(cJSON_IsTrue(bp_envelope_get0_ext(back, "urgent")));
        CHECK_INT(bp_envelope_ext_count(back), 4);
        CHECK_STR(bp_envelope_ext_name(back, 0), "tenant");
        CHECK_STR(bp_envelope_ext_name(back, 3), "urgent");
        CHECK(!bp_envelope_data_is_base64(back));
        const cJSON *amount = data_at(back, "data.amount");
        CHECK(cJSON_IsNumber(amount) && amount->valuedouble == 12.5);
        const cJSON *ts = data_at(back, "data.ts");
        CHECK(cJSON_IsNumber(ts) && ts->valuedouble == 1700000000123.0);
        const cJSON *q = data_at(back, "data.lines[1].q");
        CHECK(cJSON_IsNumber(q) && q->valuedouble == -2);
        CHECK(cJSON_IsFalse(data_at(back, "data.ok")));
        CHECK(cJSON_IsNull(data_at(back, "data.none")));
        const cJSON *name = data_at(back, "data.name");
        CHECK(cJSON_IsString(name) && strcmp(name->valuestring, "Jörg Ümlaut") == 0);
        char *again = bp_envelope_to_json(back, BP_SER_DEFAULT);
        CHECK_STR(again, json);
        free(again);
        bp_envelope_unref(back);
    }

    char *pretty = bp_envelope_to_json(env, BP_SER_PRETTY);
    CHECK(pretty != NULL && strstr(pretty, "\n\t\"id\":\t\"e1\",\n") != NULL);
    back = pretty ? parse(pretty) : NULL;
    char *flat = back ? bp_envelope_to_json(back, BP_SER_DEFAULT) : NULL;
    CHECK_STR(flat, json);
    free(flat);
    bp_envelope_unref(back);
    free(pretty);
    free(json);
    bp_envelope_unref(env);
}

static void test_structured_input_forms(void)
{
    /* Unknown members become extensions; null means absent (JSON format 1.0). */
    bp_envelope *env = parse("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\","
                             "\"type\":\"t\","
                             "\"subject\":null,\"count\":-3,\"flag\":false,\"gone\":null,"
                             "\"data\":\"plain text\"}");
    if (env != NULL) {
        CHECK(bp_envelope_get0_attr(env, "subject") == NULL);
        CHECK(bp_envelope_get0_ext(env, "gone") == NULL);
        const cJSON *count = bp_envelope_get0_ext(env, "count");
        CHECK(cJSON_IsNumber(count) && count->valuedouble == -3);
        CHECK(cJSON_IsFalse(bp_envelope_get0_ext(env, "flag")));
        const cJSON *d = bp_envelope_get0_data(env);
        CHECK(cJSON_IsString(d) && strcmp(d->valuestring, "plain text") == 0);
        char *json = bp_envelope_to_json(env, 0);
        CHECK_STR(json, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
                        "\"count\":-3,\"flag\":false,\"data\":\"plain text\"}");
        free(json);
        bp_envelope_unref(env);
    }

    /* No data at all, surrounding whitespace, a scalar top-level data. */
    env = parse(" \r\n\t{" EV_HEAD "}\n\n ");
    if (env != NULL) {
        CHECK(bp_envelope_get0_data(env) == NULL);
        char *json = bp_envelope_to_json(env, 0);
        CHECK_STR(json, "{" EV_HEAD "}");
        free(json);
        bp_envelope_unref(env);
    }
    env = parse("{" EV_HEAD ",\"data\":42}");
    if (env != NULL) {
        const cJSON *d = bp_envelope_get0_data(env);
        CHECK(cJSON_IsNumber(d) && d->valuedouble == 42);
        bp_envelope_unref(env);
    }
}

static void test_data_base64(void)
{
    bp_envelope *env = parse("{" EV_HEAD ",\"datacontenttype\":\"application/octet-stream\","
                             "\"data_base64\":\"AAEC/w==\"}");
    if (env == NULL)
        return;
    CHECK(bp_envelope_data_is_base64(env));
    char *json = bp_envelope_to_json(env, 0);
    CHECK_STR(json, "{" EV_HEAD ",\"datacontenttype\":\"application/octet-stream\","
                    "\"data_base64\":\"AAEC/w==\"}");
    free(json);

    /* Binary mode carries the decoded bytes. */
    bp_header *h = NULL;
    size_t n = 0, len = 0;
    unsigned char *value = NULL;
    CHECK_INT(bp_envelope_to_binary(env, &h, &n, &value, &len), BP_OK);
    CHECK_INT(len, 4);
    CHECK(value != NULL && memcmp(value, "\x00\x01\x02\xff", 4) == 0);
    bp_envelope *back = NULL;
    char *err = NULL;
    CHECK_INT(bp_envelope_from_binary(h, n, value, len, &back, &err), BP_OK);
    CHECK_STR(err, NULL);
    if (back != NULL) {
        CHECK(bp_envelope_data_is_base64(back));
        const cJSON *d = bp_envelope_get0_data(back);
        CHECK(cJSON_IsString(d) && strcmp(d->valuestring, "AAEC/w==") == 0);
    }
    bp_envelope_unref(back);
    free(err);
    free(value);
    bp_headers_free(h, n);

    /* Every padding length. */
    static const char *const ok[] = {"", "YQ==", "YWI=", "YWJj", "YWJjZA=="};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char text[200];
        snprintf(text, sizeof(text), "{" EV_HEAD ",\"data_base64\":\"%s\"}", ok[i]);
        bp_envelope *e = parse(text);
        char *out = e ? bp_envelope_to_json(e, 0) : NULL;
        CHECK_STR(out, text);
        free(out);
        bp_envelope_unref(e);
    }
    bp_envelope_unref(env);
}

static void test_full_attachments_lineage(void)
{
    bp_envelope *env = make_rich();
    static const unsigned char pdf[] = {'%', 'P', 0, 'D', 0xff, 0x80, 0};
    bp_envelope_add_attachment(env, "a.pdf", "application/pdf", pdf, sizeof(pdf));
    bp_envelope_add_attachment(env, "", "text/plain", "", 0);
    bp_lineage l1 = {"extract", "1.2.0", "gpt-x/2024", 0.875, "data.vendor,data.total",
                     1700000000123};
    bp_lineage l2 = {"set", "0.1.0", NULL, -1, NULL, 1700000000999};
    bp_envelope_add_lineage(env, &l1);
    bp_envelope_add_lineage(env, &l2);

    char *plain = bp_envelope_to_json(env, BP_SER_DEFAULT);
    CHECK(plain != NULL && strstr(plain, "bpattachments") == NULL &&
          strstr(plain, "bplineage") == NULL);
    free(plain);

    char *json = bp_envelope_to_json(env, BP_SER_FULL);
    CHECK(json != NULL && strstr(json, "\"bpattachments\":[{\"name\":\"a.pdf\",\"mediatype\":"
                                       "\"application/pdf\",\"data_base64\":\"JVAARP+AAA==\"},"
                                       "{\"name\":\"\",\"mediatype\":\"text/plain\","
                                       "\"data_base64\":\"\"}]") != NULL);
    CHECK(json != NULL &&
          strstr(json, "\"bplineage\":[{\"plugin\":\"extract\",\"version\":\"1.2.0\",\"model\":"
                       "\"gpt-x/2024\",\"confidence\":0.875,\"changed\":\"data.vendor,data.total\","
                       "\"at\":1700000000123},{\"plugin\":\"set\",\"version\":\"0.1.0\","
                       "\"at\":1700000000999}]}") != NULL);

    bp_envelope *back = json ? parse(json) : NULL;
    if (back != NULL) {
        CHECK_INT(bp_envelope_attachment_count(back), 2);
        const bp_attachment *a = bp_envelope_get0_attachment(back, 0);
        CHECK(a != NULL && a->size == sizeof(pdf) && memcmp(a->bytes, pdf, sizeof(pdf)) == 0);
        CHECK_STR(a ? a->name : NULL, "a.pdf");
        CHECK_STR(a ? a->media_type : NULL, "application/pdf");
        a = bp_envelope_get0_attachment(back, 1);
        CHECK(a != NULL && a->size == 0);
        CHECK_INT(bp_envelope_lineage_count(back), 2);
        const bp_lineage *l = bp_envelope_get0_lineage(back, 0);
        CHECK_STR(l ? l->plugin : NULL, "extract");
        CHECK_STR(l ? l->model : NULL, "gpt-x/2024");
        CHECK_STR(l ? l->changed : NULL, "data.vendor,data.total");
        CHECK(l != NULL && l->confidence == 0.875);
        CHECK_INT(l ? l->at_ms : 0, 1700000000123);
        l = bp_envelope_get0_lineage(back, 1);
        CHECK(l != NULL && l->model == NULL && l->changed == NULL && l->confidence < 0);
        CHECK_INT(l ? l->at_ms : 0, 1700000000999);
        char *again = bp_envelope_to_json(back, BP_SER_FULL);
        CHECK_STR(again, json);
        free(again);
        bp_envelope_unref(back);
    }
    free(json);
    bp_envelope_unref(env);
}

/* ---- batch ---------------------------------------------------------------- */

static void test_batch(void)
{
    bp_envelope *envs[3];
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "b%d", i);
        envs[i] = bp_envelope_new();
        bp_envelope_set_attr(envs[i], "id", id);
        bp_envelope_set_attr(envs[i], "source", "/batch");
        bp_envelope_set_attr(envs[i], "type", "t");
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "n", i * 1.5);
        bp_envelope_set0_data(envs[i], d);
    }
    char *json = bp_envelope_batch_to_json(envs, 3, 0);
    CHECK(json != NULL && json[0] == '[');
    bp_envelope **out = NULL;
    size_t n = 0;
    char *err = NULL;
    CHECK_INT(bp_envelope_batch_from_json(json, strlen(json), &out, &n, &err), BP_OK);
    CHECK_STR(err, NULL);
    CHECK_INT(n, 3);
    if (out != NULL && n == 3) {
        CHECK_STR(bp_envelope_get0_attr(out[2], "id"), "b2");
        const cJSON *v = data_at(out[1], "data.n");
        CHECK(cJSON_IsNumber(v) && v->valuedouble == 1.5);
        char *again = bp_envelope_batch_to_json(out, n, 0);
        CHECK_STR(again, json);
        free(again);
    }
    for (size_t i = 0; i < n; i++)
        bp_envelope_unref(out[i]);
    free(out);
    free(err);
    free(json);

    json = bp_envelope_batch_to_json(envs, 0, 0);
    CHECK_STR(json, "[]");
    free(json);
    out = NULL;
    CHECK_INT(bp_envelope_batch_from_json(" [ ] ", 5, &out, &n, NULL), BP_OK);
    CHECK_INT(n, 0);
    free(out);
    for (int i = 0; i < 3; i++)
        bp_envelope_unref(envs[i]);

    expect_batch_err("{" EV_HEAD "}", BP_ERR_INVALID, "a batch must be a JSON array");
    expect_batch_err("[{" EV_HEAD "},{" EV_HEAD "},"
                     "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\"}]",
                     BP_ERR_INVALID, "event 2: missing required attribute 'type'");
    expect_batch_err("[{" EV_HEAD "}, 7]", BP_ERR_INVALID,
                     "event 1: a CloudEvent must be a JSON object");
    expect_batch_err("[{" EV_HEAD ",\"Ext\":1}]", BP_ERR_INVALID,
                     "event 0: invalid extension attribute name 'Ext': use a-z and 0-9, at most "
                     "20 characters");
    expect_batch_err("[\n{" EV_HEAD "},\n  oops]", BP_ERR_PARSE,
                     "invalid JSON at line 3, column 3");
}

/* ---- binary mode ----------------------------------------------------------- */

static void test_binary_round_trip(void)
{
    bp_envelope *env = make_rich();
    bp_header *h = NULL;
    size_t n = 0, len = 0;
    unsigned char *value = NULL;
    char buf[256];
    CHECK_INT(bp_envelope_to_binary(env, &h, &n, &value, &len), BP_OK);
    CHECK_INT(n, 11);
    CHECK_STR(n ? h[0].name : NULL, "ce_specversion");
    CHECK_STR(header(h, n, "ce_id", buf, sizeof(buf)), "e1");
    CHECK_STR(header(h, n, "ce_subject", buf, sizeof(buf)), "Jörg Ümlaut");
    CHECK_STR(header(h, n, "content-type", buf, sizeof(buf)), "application/json");
    CHECK(header(h, n, "ce_datacontenttype", buf, sizeof(buf)) == NULL);
    CHECK_STR(header(h, n, "ce_tenant", buf, sizeof(buf)), "acme");
    CHECK_STR(header(h, n, "ce_priority", buf, sizeof(buf)), "5");
    CHECK_STR(header(h, n, "ce_ratio", buf, sizeof(buf)), "0.1");
    CHECK_STR(header(h, n, "ce_urgent", buf, sizeof(buf)), "true");
    CHECK(value != NULL && len == strlen((char *)value) &&
          strcmp((char *)value,
                 "{\"name\":\"Jörg Ümlaut\",\"amount\":12.5,\"ts\":1700000000123,"
                 "\"lines\":[{\"q\":1},{\"q\":-2}],\"ok\":false,\"none\":null}") == 0);

    bp_envelope *back = NULL;
    char *err = NULL;
    CHECK_INT(bp_envelope_from_binary(h, n, value, len, &back, &err), BP_OK);
    CHECK_STR(err, NULL);
    if (back != NULL) {
        CHECK_STR(bp_envelope_get0_attr(back, "datacontenttype"), "application/json");
        CHECK_STR(bp_envelope_get0_attr(back, "time"), "2024-05-01T10:00:00Z");
        CHECK_STR(bp_envelope_get0_attr(back, "subject"), "Jörg Ümlaut");
        /* Headers are untyped: numbers and booleans come back as strings. */
        CHECK_STR(bp_envelope_get0_attr(back, "priority"), "5");
        CHECK_STR(bp_envelope_get0_attr(back, "urgent"), "true");
        const cJSON *ts = data_at(back, "data.ts");
        CHECK(cJSON_IsNumber(ts) && ts->valuedouble == 1700000000123.0);
        const cJSON *q = data_at(back, "data.lines[0].q");
        CHECK(cJSON_IsNumber(q) && q->valuedouble == 1);
        const cJSON *name = data_at(back, "data.name");
        CHECK(cJSON_IsString(name) && strcmp(name->valuestring, "Jörg Ümlaut") == 0);
    }
    bp_envelope_unref(back);
    free(err);
    free(value);
    bp_headers_free(h, n);
    bp_envelope_unref(env);
}

static void test_binary_text_and_bytes(void)
{
    /* Text data is carried raw, and comes back as a string. */
    bp_envelope *env = parse("{" EV_HEAD ",\"datacontenttype\":\"text/plain; charset=utf-8\","
                             "\"data\":\"Grüße\\n\"}");
    bp_header *h = NULL;
    size_t n = 0, len = 0;
    unsigned char *value = NULL;
    if (env != NULL) {
        CHECK_INT(bp_envelope_to_binary(env, &h, &n, &value, &len), BP_OK);
        CHECK(len == strlen("Grüße\n") && memcmp(value, "Grüße\n", len) == 0);
        bp_envelope *back = NULL;
        CHECK_INT(bp_envelope_from_binary(h, n, value, len, &back, NULL), BP_OK);
        const cJSON *d = back ? bp_envelope_get0_data(back) : NULL;
        CHECK(cJSON_IsString(d) && strcmp(d->valuestring, "Grüße\n") == 0);
        CHECK(back != NULL && !bp_envelope_data_is_base64(back));
        bp_envelope_unref(back);
        free(value);
        bp_headers_free(h, n);
        bp_envelope_unref(env);
    }

    /* Header names match case-insensitively; unrelated headers are ignored;
     * text that is not UTF-8 and other media types are kept as base64. */
    char v_id[] = "k1", v_src[] = "/kafka", v_type[] = "t", v_sv[] = "1.0", v_ct[] = "text/plain",
         v_tp[] = "00-abc";
    bp_header hs[] = {
        {"CE_ID", (unsigned char *)v_id, 2},          {"ce_Source", (unsigned char *)v_src, 6},
        {"ce_type", (unsigned char *)v_type, 1},      {"ce_specversion", (unsigned char *)v_sv, 3},
        {"Content-Type", (unsigned char *)v_ct, 10}, {"traceparent", (unsigned char *)v_tp, 6},
    };
    static const unsigned char latin1[] = {'G', 'r', 0xfc, 0xdf, 'e', 0};
    bp_envelope *back = NULL;
    char *err = NULL;
    CHECK_INT(bp_envelope_from_binary(hs, 6, latin1, sizeof(latin1), &back, &err), BP_OK);
    CHECK_STR(err, NULL);
    if (back != NULL) {
        CHECK_STR(bp_envelope_get0_attr(back, "id"), "k1");
        CHECK_STR(bp_envelope_get0_attr(back, "source"), "/kafka");
        CHECK_STR(bp_envelope_get0_attr(back, "datacontenttype"), "text/plain");
        CHECK(bp_envelope_get0_attr(back, "traceparent") == NULL);
        CHECK(bp_envelope_data_is_base64(back));
        CHECK_INT(bp_envelope_to_binary(back, &h, &n, &value, &len), BP_OK);
        CHECK(len == sizeof(latin1) && memcmp(value, latin1, len) == 0);
        free(value);
        bp_headers_free(h, n);
    }
    bp_envelope_unref(back);
    free(err);

    /* No value: no data, and no data gives no value. */
    CHECK_INT(bp_envelope_from_binary(hs, 4, NULL, 0, &back, NULL), BP_OK);
    if (back != NULL) {
        CHECK(bp_envelope_get0_data(back) == NULL);
        CHECK_INT(bp_envelope_to_binary(back, &h, &n, &value, &len), BP_OK);
        CHECK(value == NULL && len == 0);
        CHECK_INT(n, 4);
        bp_headers_free(h, n);
        bp_envelope_unref(back);
    }

    /* Errors use the structured-mode messages. */
    err = NULL;
    back = (bp_envelope *)1;
    CHECK_INT(bp_envelope_from_binary(hs + 1, 3, "{}", 2, &back, &err), BP_ERR_INVALID);
    CHECK_STR(err, "missing required attribute 'id'");
    CHECK(back == NULL);
    free(err);
    char v_bad[] = "0.3";
    hs[3].value = (unsigned char *)v_bad;
    CHECK_INT(bp_envelope_from_binary(hs, 4, NULL, 0, &back, &err), BP_ERR_INVALID);
    CHECK_STR(err, "unsupported specversion '0.3' (expected '1.0')");
    free(err);
    hs[3].value = (unsigned char *)v_sv;
    CHECK_INT(bp_envelope_from_binary(hs, 4, "{\"a\":\n tru}", 11, &back, &err), BP_ERR_PARSE);
    CHECK_STR(err, "value is not valid JSON: invalid JSON at line 2, column 2");
    CHECK(back == NULL);
    free(err);
    bp_header dup[] = {hs[0], hs[1], hs[2], hs[3], {"ce_id", (unsigned char *)v_id, 2}};
    CHECK_INT(bp_envelope_from_binary(dup, 5, NULL, 0, &back, &err), BP_ERR_INVALID);
    CHECK_STR(err, "duplicate header 'ce_id'");
    free(err);
}

/* ---- validation messages ---------------------------------------------------- */

static void test_errors(void)
{
    expect_err("[1,2]", BP_ERR_INVALID, "a CloudEvent must be a JSON object");
    expect_err("\"x\"", BP_ERR_INVALID, "a CloudEvent must be a JSON object");
    expect_err("{}", BP_ERR_INVALID, "missing required attribute 'id'");
    expect_err("{\"id\":null,\"source\":\"s\",\"specversion\":\"1.0\",\"type\":\"t\"}",
               BP_ERR_INVALID, "missing required attribute 'id'");
    expect_err("{\"id\":\"1\",\"specversion\":\"1.0\",\"type\":\"t\"}", BP_ERR_INVALID,
               "missing required attribute 'source'");
    expect_err("{\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}", BP_ERR_INVALID,
               "missing required attribute 'specversion'");
    expect_err("{\"id\":\"1\",\"source\":\"s\",\"specversion\":\"1.0\"}", BP_ERR_INVALID,
               "missing required attribute 'type'");
    expect_err("{\"id\":\"1\",\"source\":\"s\",\"specversion\":\"0.3\",\"type\":\"t\"}",
               BP_ERR_INVALID, "unsupported specversion '0.3' (expected '1.0')");
    expect_err("{\"id\":1,\"source\":\"s\",\"specversion\":\"1.0\",\"type\":\"t\"}",
               BP_ERR_INVALID, "attribute 'id' must be a string");
    expect_err("{" EV_HEAD ",\"subject\":[\"a\"]}", BP_ERR_INVALID,
               "attribute 'subject' must be a string");
    expect_err("{\"id\":\"1\",\"source\":\"s\",\"specversion\":1.0,\"type\":\"t\"}",
               BP_ERR_INVALID, "attribute 'specversion' must be a string");
    expect_err("{" EV_HEAD ",\"time\":\"yesterday\"}", BP_ERR_INVALID,
               "attribute 'time' is not an RFC 3339 timestamp");
    expect_err("{\"id\":\"\",\"source\":\"s\",\"specversion\":\"1.0\",\"type\":\"t\"}",
               BP_ERR_INVALID, "attribute 'id' must not be empty");
    expect_err("{" EV_HEAD ",\"Tenant\":\"x\"}", BP_ERR_INVALID,
               "invalid extension attribute name 'Tenant': use a-z and 0-9, at most 20 "
               "characters");
    expect_err("{" EV_HEAD ",\"abcdefghijklmnopqrstu\":1}", BP_ERR_INVALID,
               "invalid extension attribute name 'abcdefghijklmnopqrstu': use a-z and 0-9, at "
               "most 20 characters");
    expect_err("{" EV_HEAD ",\"\":1}", BP_ERR_INVALID,
               "invalid extension attribute name '': use a-z and 0-9, at most 20 characters");
    expect_err("{" EV_HEAD ",\"meta\":{\"a\":1}}", BP_ERR_INVALID,
               "extension attribute 'meta' must be a string, number or boolean");
    expect_err("{" EV_HEAD ",\"tags\":[1]}", BP_ERR_INVALID,
               "extension attribute 'tags' must be a string, number or boolean");
    expect_err("{" EV_HEAD ",\"big\":1e999}", BP_ERR_INVALID,
               "extension attribute 'big' must be a finite number");
    expect_err("{" EV_HEAD ",\"data\":{},\"data_base64\":\"\"}", BP_ERR_INVALID,
               "both data and data_base64 are present");
    expect_err("{" EV_HEAD ",\"data_base64\":\"abc\"}", BP_ERR_INVALID, "invalid data_base64");
    expect_err("{" EV_HEAD ",\"data_base64\":\"ab=c\"}", BP_ERR_INVALID, "invalid data_base64");
    expect_err("{" EV_HEAD ",\"data_base64\":\"YR==\"}", BP_ERR_INVALID, "invalid data_base64");
    expect_err("{" EV_HEAD ",\"data_base64\":\"YW Jj\"}", BP_ERR_INVALID, "invalid data_base64");
    expect_err("{" EV_HEAD ",\"data_base64\":\"YQ==YQ==\"}", BP_ERR_INVALID,
               "invalid data_base64");
    expect_err("{" EV_HEAD ",\"data_base64\":5}", BP_ERR_INVALID, "data_base64 must be a string");
    expect_err("{" EV_HEAD ",\"bpattachments\":{}}", BP_ERR_INVALID,
               "bpattachments must be an array");
    expect_err("{" EV_HEAD ",\"bpattachments\":[1]}", BP_ERR_INVALID,
               "bpattachments[0] must be an object");
    expect_err("{" EV_HEAD ",\"bpattachments\":[{\"mediatype\":\"a/b\",\"data_base64\":\"\"}]}",
               BP_ERR_INVALID, "bpattachments[0]: 'name' must be a string");
    expect_err("{" EV_HEAD ",\"bpattachments\":[{\"name\":\"\",\"data_base64\":\"\"}]}",
               BP_ERR_INVALID, "bpattachments[0]: 'mediatype' must be a string");
    expect_err("{" EV_HEAD ",\"bpattachments\":[{\"name\":\"a\",\"mediatype\":\"a/b\","
               "\"data_base64\":\"\"},{\"name\":\"b\",\"mediatype\":\"a/b\","
               "\"data_base64\":\"@\"}]}",
               BP_ERR_INVALID, "bpattachments[1]: invalid data_base64");
    expect_err("{" EV_HEAD ",\"bplineage\":\"x\"}", BP_ERR_INVALID, "bplineage must be an array");
    expect_err("{" EV_HEAD ",\"bplineage\":[{\"version\":\"1\"}]}", BP_ERR_INVALID,
               "bplineage[0]: 'plugin' must be a string");
    expect_err("{" EV_HEAD ",\"bplineage\":[{\"plugin\":\"p\",\"model\":3}]}", BP_ERR_INVALID,
               "bplineage[0]: 'model' must be a string");
    expect_err("{" EV_HEAD ",\"bplineage\":[{\"plugin\":\"p\",\"at\":1.5}]}", BP_ERR_INVALID,
               "bplineage[0]: 'at' must be an integer (ms since the epoch)");
    expect_err("{" EV_HEAD ",\"bplineage\":[{\"plugin\":\"p\",\"at\":1e300}]}", BP_ERR_INVALID,
               "bplineage[0]: 'at' must be an integer (ms since the epoch)");
    expect_err("{" EV_HEAD ",\"bplineage\":[{\"plugin\":\"p\",\"confidence\":\"high\"}]}",
               BP_ERR_INVALID, "bplineage[0]: 'confidence' must be a number not above 1");

    /* A NULL errmsg is allowed: the status alone still tells. */
    bp_envelope *env = NULL;
    CHECK_INT(bp_envelope_from_json("{}", 2, &env, NULL), BP_ERR_INVALID);
    CHECK(env == NULL);
}

static void test_syntax_errors(void)
{
    expect_err("{\n  \"id\": \"a\",\n  \"source\": x\n}", BP_ERR_PARSE,
               "invalid JSON at line 3, column 13");
    expect_err("{\"id\":\"1\",}", BP_ERR_PARSE, "invalid JSON at line 1, column 11");
    expect_err("", BP_ERR_PARSE, "invalid JSON at line 1, column 1: empty input");
    /* cJSON alone would take NUL and other control bytes for whitespace. */
    bp_envelope *ctl = NULL;
    char *ctl_err = NULL;
    static const char lead[] = "\x01{" EV_HEAD "}";
    CHECK_INT(bp_envelope_from_json(lead, sizeof(lead) - 1, &ctl, &ctl_err), BP_ERR_PARSE);
    CHECK_STR(ctl_err, "invalid JSON at line 1, column 1: control character");
    free(ctl_err);
    static const char nul[] = "{" EV_HEAD ",\"data\":\"a\0b\"}";
    CHECK_INT(bp_envelope_from_json(nul, sizeof(nul) - 1, &ctl, &ctl_err), BP_ERR_PARSE);
    CHECK_STR(ctl_err, "invalid JSON at line 1, column 70: control character");
    CHECK(ctl == NULL);
    free(ctl_err);
    expect_err("{" EV_HEAD "} x", BP_ERR_PARSE,
               "invalid JSON at line 1, column 62: unexpected data after the JSON value");
    expect_err("{" EV_HEAD "}\n{}", BP_ERR_PARSE,
               "invalid JSON at line 2, column 1: unexpected data after the JSON value");

    /* len is honoured: the text need not end in NUL, bytes after len are not
     * JSON, and a cut-short buffer is an error, not a read past its end. */
    const char *ev = "{" EV_HEAD ",\"data\":[1,2,3]}";
    size_t evlen = strlen(ev);
    char *buf = malloc(evlen + 5);
    memcpy(buf, ev, evlen);
    memcpy(buf + evlen, "XXXXX", 5); /* no NUL anywhere */
    bp_envelope *env = NULL;
    char *err = NULL;
    CHECK_INT(bp_envelope_from_json(buf, evlen, &env, &err), BP_OK);
    CHECK_STR(err, NULL);
    const cJSON *d = env ? bp_envelope_get0_data(env) : NULL;
    CHECK(cJSON_GetArraySize(d) == 3);
    bp_envelope_unref(env);
    env = NULL;
    CHECK_INT(bp_envelope_from_json(buf, evlen + 5, &env, &err), BP_ERR_PARSE);
    CHECK_STR(err, "invalid JSON at line 1, column 76: unexpected data after the JSON value");
    free(err);
    char *exact = malloc(evlen - 1); /* ASan catches any read past the end */
    memcpy(exact, ev, evlen - 1);
    CHECK_INT(bp_envelope_from_json(exact, evlen - 1, &env, &err), BP_ERR_PARSE);
    CHECK(env == NULL && err != NULL && strncmp(err, "invalid JSON at line 1, column ", 31) == 0);
    free(err);
    free(exact);
    free(buf);
}

/* Depth (issue 17): data of 999 levels travels in an envelope, 1000 do not;
 * deferred text is judged by its brackets, with its place. */
static char *nested(int n)
{
    char *t = malloc((size_t)n * 6 + 2);
    size_t o = 0;
    for (int i = 0; i < n; i++)
        o += (size_t)sprintf(t + o, "{\"a\":");
    t[o++] = '1';
    for (int i = 0; i < n; i++)
        t[o++] = '}';
    t[o] = '\0';
    return t;
}

static void test_depth(void)
{
    char *ok999 = nested(999), *deep = nested(1000);
    bp_envelope *e = bp_envelope_new();
    char *err = NULL;
    CHECK_INT(bp_envelope_set_data_json(e, ok999, strlen(ok999), "in.jsonl:2"), BP_OK);
    CHECK_INT(bp_envelope_check_depth(e, &err), BP_OK);
    CHECK(err == NULL);
    CHECK_INT(bp_envelope_set_data_json(e, deep, strlen(deep), "in.jsonl:3"), BP_OK);
    CHECK_INT(bp_envelope_check_depth(e, &err), BP_ERR_DEPTH);
    CHECK_STR(err, "in.jsonl:3:4996: data nested deeper than 999 levels (an envelope holds at most 1000)");
    free(err);
    /* Brackets inside strings do not count. */
    static char str[2002];
    memset(str, '[', 2000);
    str[0] = '"';
    str[2000] = '"';
    str[2001] = '\0';
    CHECK_INT(bp_envelope_set_data_json(e, str, strlen(str), "s"), BP_OK);
    CHECK_INT(bp_envelope_check_depth(e, NULL), BP_OK);
    /* A parsed tree: 1000 levels are refused, without a place. */
    CHECK_INT(bp_envelope_set0_data(e, cJSON_Parse(deep)), BP_OK);
    CHECK_INT(bp_envelope_check_depth(e, &err), BP_ERR_DEPTH);
    CHECK_STR(err, "data nested deeper than 999 levels (an envelope holds at most 1000)");
    free(err);
    CHECK(bp_envelope_to_json(e, BP_SER_FULL) == NULL);
    CHECK_INT(bp_envelope_set0_data(e, cJSON_Parse(ok999)), BP_OK);
    char *j = bp_envelope_to_json(e, BP_SER_FULL);
    CHECK(j != NULL);
    cJSON *back = j ? cJSON_Parse(j) : NULL;
    CHECK(back != NULL);   /* what is written reads back */
    cJSON_Delete(back);
    free(j);
    bp_envelope_unref(e);
    free(ok999);
    free(deep);
}

int main(void)
{
    test_depth();
    test_structured_round_trip();
    test_structured_input_forms();
    test_data_base64();
    test_full_attachments_lineage();
    test_batch();
    test_binary_round_trip();
    test_binary_text_and_bytes();
    test_errors();
    test_syntax_errors();
    return tap_done();
}
