/* Option schemas: types, units, ranges, defaults, unknown keys, required. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"
#include "tap.h"

static const char *const fmts[] = {"jsonl", "cloudevents", NULL};
static const struct bp_option schema[] = {
    {.name = "path", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED},
    {.name = "batch", .type = BP_OPT_INT, .default_value = "100", .min = "1", .max = "10000"},
    {.name = "timeout", .type = BP_OPT_DURATION, .default_value = "5s", .min = "100ms"},
    {.name = "limit", .type = BP_OPT_SIZE, .default_value = "1MiB"},
    {.name = "format", .type = BP_OPT_ENUM, .default_value = "jsonl", .choices = fmts},
    {.name = "verbose", .type = BP_OPT_BOOL, .default_value = "false"},
    {.name = "topics", .type = BP_OPT_LIST, .default_value = "a,b"},
    {.name = "password", .type = BP_OPT_SECRET},
    {.name = "ratio", .type = BP_OPT_FLOAT, .max = "1"},
    {.name = "when", .type = BP_OPT_PREDICATE},
    {.name = "props", .type = BP_OPT_MAP},
    {0},
};

/* ABI 1.3: roles, renamed options, map schemas, binding, paths. */
struct tls_opts {
    int mode;
    int verify;
    const char *ca_file;
};
struct opts13 {
    const char *table;
    long long batch;
    int64_t interval;
    int follow;
    double ratio;
    int format;
    const cJSON *request;
    struct tls_opts tls;
    const char *key_file;
};
static const char *const tls_modes[] = {"none", "starttls", "tls", NULL};
static const struct bp_option tls_fields[] = {
    {.name = "mode", .type = BP_OPT_ENUM, .default_value = "tls", .choices = tls_modes,
     BP_OPT_FIELD(struct opts13, tls.mode)},
    {.name = "verify", .type = BP_OPT_BOOL, .default_value = "true",
     BP_OPT_FIELD(struct opts13, tls.verify)},
    {.name = "ca_file", .type = BP_OPT_PATH, BP_OPT_FIELD(struct opts13, tls.ca_file)},
    {0},
};
static const struct bp_option request_values[] = {{.name = "*", .type = BP_OPT_STRING}, {0}};
static const struct bp_option schema13[] = {
    {.name = "table", .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE | BP_KIND_SINK,
     .required_for = BP_KIND_SINK, BP_OPT_FIELD(struct opts13, table)},
    {.name = "batch", .type = BP_OPT_INT, .default_value = "100", BP_OPT_FIELD(struct opts13, batch)},
    {.name = "poll_interval", .type = BP_OPT_DURATION, .default_value = "5s",
     .roles = BP_KIND_SOURCE, BP_OPT_FIELD(struct opts13, interval)},
    {.name = "follow", .type = BP_OPT_BOOL, .default_value = "true", .roles = BP_KIND_SOURCE,
     BP_OPT_FIELD(struct opts13, follow)},
    {.name = "ratio", .type = BP_OPT_FLOAT, .default_value = "0.25",
     BP_OPT_FIELD(struct opts13, ratio)},
    {.name = "format", .type = BP_OPT_ENUM, .choices = fmts, BP_OPT_FIELD(struct opts13, format)},
    {.name = "request", .type = BP_OPT_MAP, .fields = request_values,
     BP_OPT_FIELD(struct opts13, request)},
    {.name = "tls", .type = BP_OPT_MAP, .fields = tls_fields},
    {.name = "key_file", .type = BP_OPT_PATH, BP_OPT_FIELD(struct opts13, key_file)},
    {.name = "interval", .renamed = "'poll_interval'"},
    {.name = "verify_tls", .renamed = "'tls: { verify: ... }'"},
    {0},
};

/* maps: the connector's map, then (if given) the use's map. */
static cJSON *apply13(const char *conn, const char *use, uint32_t role, bp_diags *d, int *failed)
{
    bp_ydoc *a = NULL, *b = NULL;
    bp_ydoc_load_string("s.yaml", NULL, conn, strlen(conn), &a, d);
    if (use)
        bp_ydoc_load_string("s.yaml", NULL, use, strlen(use), &b, d);
    const bp_ynode *maps[2] = {a ? a->root : NULL, b ? b->root : NULL};
    bp_options_req rq = {.schema = schema13, .where = "connector 'c'", .maps = maps,
                         .n_maps = 2, .use_from = 1, .file = "s.yaml", .at_line = 7,
                         .at_col = 3, .role = role, .base_dir = "/etc/site"};
    cJSON *cfg = bp_options_apply_ex(&rq, d, failed);
    bp_ydoc_free(a);
    bp_ydoc_free(b);
    return cfg;
}

static void test_abi13(void)
{
    bp_diags d = {0};
    int failed = -1;
    /* A sink needs table; a source does not. */
    cJSON *c = apply13("batch: 5\n", NULL, BP_KIND_SINK, &d, &failed);
    CHECK_INT(failed, 1);
    CHECK_INT(d.n, 1);
    CHECK_STR(d.msgs[0], "s.yaml:7:3: missing option 'table' for connector 'c': a sink needs it");
    CHECK_INT(bp_cfg_int(c, "batch", -1), 5);   /* the partial config keeps what was valid */
    cJSON_Delete(c);
    bp_diags_free(&d);
    c = apply13("batch: 5\n", NULL, BP_KIND_SOURCE, &d, &failed);
    CHECK_INT(failed, 0);
    cJSON_Delete(c);

    /* An option for another role: an error at a use, left alone in the
     * connector's map (another use may need it). */
    c = apply13("follow: false\ntable: t\n", "follow: true\n", BP_KIND_SINK, &d, &failed);
    CHECK_INT(d.n, 1);
    CHECK_STR(d.msgs[0], "s.yaml:1:1: option 'follow' of connector 'c' is for a source, not a sink");
    cJSON_Delete(c);
    bp_diags_free(&d);

    /* A renamed option names its new spelling; renamed ones are not listed
     * as valid. */
    c = apply13("interval: 5s\nverify_tls: false\nbogus: 1\n", NULL, BP_KIND_SOURCE, &d, &failed);
    CHECK_INT(d.n, 3);
    CHECK_STR(d.msgs[0], "s.yaml:1:1: option 'interval' was renamed: use 'poll_interval'");
    CHECK_STR(d.msgs[1], "s.yaml:2:1: option 'verify_tls' was renamed: use 'tls: { verify: ... }'");
    CHECK_STR(d.msgs[2], "s.yaml:3:1: unknown option 'bogus' for connector 'c' (valid: table, "
                         "batch, poll_interval, follow, ratio, format, request, tls, key_file)");
    cJSON_Delete(c);
    bp_diags_free(&d);

    /* Map schemas: a map of scalars; a record with named keys, merged over
     * the connector's and the use's maps, with defaults. */
    c = apply13("request: { Id: data.id, Qty: 5, Bad: { x: 1 } }\ntls: { mode: tlz, vrify: 1 }\n",
                NULL, BP_KIND_SOURCE, &d, &failed);
    CHECK_INT(d.n, 3);
    CHECK_STR(d.msgs[0], "s.yaml:1:38: option 'request.Bad' of connector 'c' must be a string, got a map");
    CHECK_STR(d.msgs[1], "s.yaml:2:14: option 'tls.mode' of connector 'c' must be one of: none, starttls, tls; got 'tlz'");
    CHECK_STR(d.msgs[2], "s.yaml:2:19: unknown option 'tls.vrify' for connector 'c' (valid: mode, verify, ca_file)");
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(bp_cfg_get0(c, "request"), "Qty")));  /* type kept */
    cJSON_Delete(c);
    bp_diags_free(&d);

    c = apply13("table: t\ntls: { verify: false }\nkey_file: keys/k.pem\nformat: cloudevents\n",
                "tls: { ca_file: /abs/ca.pem }\nbatch: 7\nrequest: { Id: data.id }\n",
                BP_KIND_SINK, &d, &failed);
    CHECK_INT(failed, 0);
    CHECK_INT(d.n, 0);
    const cJSON *tls = bp_cfg_get0(c, "tls");
    CHECK_STR(bp_cfg_str(tls, "mode"), "tls");                 /* default inside the map */
    CHECK_INT(bp_cfg_bool(tls, "verify", 1), 0);               /* from the connector's map */
    CHECK_STR(bp_cfg_str(tls, "ca_file"), "/abs/ca.pem");      /* from the use's map, kept */
    CHECK_STR(bp_cfg_str(c, "key_file"), "/etc/site/keys/k.pem");   /* resolved */

    /* Binding: every default once, in the schema. */
    struct opts13 *o = bp_options_bind(schema13, c, sizeof(struct opts13));
    CHECK(o != NULL);
    if (o) {
        CHECK_STR(o->table, "t");
        CHECK_INT(o->batch, 7);
        CHECK_INT(o->interval, 5000);
        CHECK_INT(o->follow, 1);
        CHECK(o->ratio == 0.25);
        CHECK_INT(o->format, 1);
        CHECK_INT(o->tls.mode, 2);
        CHECK_INT(o->tls.verify, 0);
        CHECK_STR(o->tls.ca_file, "/abs/ca.pem");
        CHECK_STR(o->key_file, "/etc/site/keys/k.pem");
        CHECK(o->request == bp_cfg_get0(c, "request"));
    }
    free(o);
    cJSON_Delete(c);
    /* An enum that is absent binds as -1; a bound member past the struct's
     * size is left alone. */
    c = apply13("table: t\n", NULL, BP_KIND_SINK, &d, &failed);
    o = bp_options_bind(schema13, c, sizeof(struct opts13));
    CHECK_INT(o ? o->format : 0, -1);
    free(o);
    o = bp_options_bind(schema13, c, offsetof(struct opts13, batch));
    CHECK_STR(o ? o->table : NULL, "t");
    free(o);
    cJSON_Delete(c);

    /* A scalar where a map with named keys belongs names the keys. */
    c = apply13("tls: none\n", NULL, BP_KIND_SOURCE, &d, &failed);
    CHECK_INT(d.n, 1);
    CHECK_STR(d.msgs[0], "s.yaml:1:6: option 'tls' of connector 'c' must be a map { mode, verify, "
                         "ca_file }, got 'none'");
    cJSON_Delete(c);
    bp_diags_free(&d);

    /* A plugin built before 1.3 has shorter entries: read with its stride. */
    unsigned char old[3 * BP_OPTION_SIZE_1_2];
    memset(old, 0, sizeof(old));
    struct bp_option e = {.name = "a", .type = BP_OPT_INT, .default_value = "1"};
    memcpy(old, &e, BP_OPTION_SIZE_1_2);
    e.name = "b";
    e.default_value = "2";
    memcpy(old + BP_OPTION_SIZE_1_2, &e, BP_OPTION_SIZE_1_2);
    struct bp_option *norm = bp_options_normalize((const struct bp_option *)(void *)old, 0);
    CHECK(norm != NULL);
    if (norm) {
        CHECK_STR(norm[1].name, "b");
        CHECK_STR(norm[1].default_value, "2");
        CHECK(norm[1].fields == NULL && norm[1].renamed == NULL && norm[1].roles == 0);
        CHECK(norm[2].name == NULL);
    }
    bp_options_normalized_free(norm, 0);
}

static cJSON *apply(const char *yaml, bp_diags *d)
{
    bp_ydoc *doc = NULL;
    bp_ydoc_load_string("o.yaml", NULL, yaml, strlen(yaml), &doc, d);
    if (doc == NULL)
        return NULL;
    const bp_ynode *maps[1] = {doc->root};
    cJSON *cfg = bp_options_apply(schema, "plugin 'x'", maps, 1, NULL, "o.yaml", 9, 9, d);
    bp_ydoc_free(doc);
    return cfg;
}

int main(void)
{
    CHECK_INT(bp_parse_duration_ms("250ms"), 250);
    CHECK_INT(bp_parse_duration_ms("5s"), 5000);
    CHECK_INT(bp_parse_duration_ms("1.5m"), 90000);
    CHECK_INT(bp_parse_duration_ms("1d"), 86400000);
    CHECK_INT(bp_parse_duration_ms("0"), 0);
    CHECK_INT(bp_parse_duration_ms("5"), -1);       /* a unit is required */
    CHECK_INT(bp_parse_duration_ms("-1s"), -1);
    CHECK_INT(bp_parse_duration_ms("1e3s"), -1);
    CHECK_INT(bp_parse_duration_ms("5 s"), -1);
    CHECK_INT(bp_parse_size("512"), 512);
    CHECK_INT(bp_parse_size("64KiB"), 65536);
    CHECK_INT(bp_parse_size("10MB"), 10000000);
    CHECK_INT(bp_parse_size("1GiB"), 1073741824);
    CHECK_INT(bp_parse_size("1XB"), -1);

    bp_diags d = {0};
    cJSON *c = apply("path: /x\ntimeout: 2m\nlimit: 64KiB\nverbose: yes\ntopics: [t1, t2, t3]\n"
                     "props: { a: 1, b: 'x' }\nwhen: \"data.x > 1\"\nratio: 0.5\n", &d);
    CHECK(c != NULL);
    CHECK_INT(d.n, 0);
    CHECK_STR(bp_cfg_str(c, "path"), "/x");
    CHECK_INT(bp_cfg_int(c, "batch", -1), 100);          /* default applied */
    CHECK_INT(bp_cfg_int(c, "timeout", -1), 120000);
    CHECK_INT(bp_cfg_int(c, "limit", -1), 65536);
    CHECK_INT(bp_cfg_bool(c, "verbose", 0), 1);
    CHECK_STR(bp_cfg_str(c, "format"), "jsonl");
    CHECK_INT(cJSON_GetArraySize(bp_cfg_get0(c, "topics")), 3);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(bp_cfg_get0(c, "props"), "a")));
    CHECK(bp_cfg_float(c, "ratio", 0) == 0.5);
    CHECK(bp_cfg_get0(c, "password") == NULL);            /* no default: absent */
    cJSON_Delete(c);

    c = apply("path: /x\ntopics: one\n", &d);
    CHECK_INT(cJSON_GetArraySize(bp_cfg_get0(c, "topics")), 1);   /* scalar → one item */
    cJSON_Delete(c);
    c = apply("path: /x\n", &d);
    CHECK_INT(cJSON_GetArraySize(bp_cfg_get0(c, "topics")), 2);   /* list default "a,b" */
    cJSON_Delete(c);

    /* Every error at once, each with its position. */
    c = apply("pth: /x\nbatch: 0\ntimeout: 5\nformat: xml\nverbose: maybe\nbatch2: 1\n"
              "ratio: 2\nlimit: lots\nwhen: \"data.x >\"\nprops: [1]\n", &d);
    CHECK(c == NULL);
    CHECK_STR(d.msgs[0], "o.yaml:1:1: unknown option 'pth' for plugin 'x' (valid: path, batch, "
                         "timeout, limit, format, verbose, topics, password, ratio, when, props)");
    CHECK_STR(d.msgs[1], "o.yaml:2:8: option 'batch' of plugin 'x' must be between 1 and 10000, got 0");
    CHECK_STR(d.msgs[2], "o.yaml:3:10: option 'timeout' of plugin 'x' must be a duration like 500ms, 5s, 2m, 1h, got '5'");
    CHECK_STR(d.msgs[3], "o.yaml:4:9: option 'format' of plugin 'x' must be one of: jsonl, cloudevents; got 'xml'");
    CHECK_STR(d.msgs[4], "o.yaml:5:10: option 'verbose' of plugin 'x' must be true or false, got 'maybe'");
    CHECK(strncmp(d.msgs[5], "o.yaml:6:1: unknown option 'batch2'", 35) == 0);
    CHECK_STR(d.msgs[6], "o.yaml:7:8: option 'ratio' of plugin 'x' must be at most 1, got 2");
    CHECK_STR(d.msgs[7], "o.yaml:8:8: option 'limit' of plugin 'x' must be a size like 512, 64KiB, 10MB, got 'lots'");
    CHECK(strncmp(d.msgs[8], "o.yaml:9:16: option 'when' of plugin 'x': ", 42) == 0);
    CHECK_STR(d.msgs[9], "o.yaml:10:8: option 'props' of plugin 'x' must be a map, got a list");
    CHECK_STR(d.msgs[10], "o.yaml:9:9: missing required option 'path' for plugin 'x'");
    CHECK_INT(d.n, 11);
    bp_diags_free(&d);

    /* A quoted number is not silently taken as an int. */
    c = apply("path: /x\nbatch: '10'\n", &d);
    CHECK(c == NULL);
    CHECK_STR(d.msgs[0], "o.yaml:2:8: option 'batch' of plugin 'x' must be an integer, got '10'");
    bp_diags_free(&d);

    /* A type error on a secret never echoes the value. */
    c = apply("path: /x\npassword: [hunter22]\n", &d);
    CHECK(c == NULL);
    CHECK_STR(d.msgs[0], "o.yaml:2:11: option 'password' of plugin 'x' must be a string, got a list");
    bp_diags_free(&d);
    test_abi13();
    return tap_done();
}
