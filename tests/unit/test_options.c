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
    return tap_done();
}
