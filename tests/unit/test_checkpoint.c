/* Checkpoints beyond get/set (ABI 1.3) and scopes that follow renames,
 * against a real state file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"
#include "state_checkpoint.h"
#include "tap.h"
#include "state_target.h"

static char *keys_joined(bp_state *st, const char *scope, const char *prefix)
{
    char **keys = NULL;
    size_t n = 0;
    static char buf[256];
    buf[0] = '\0';
    if (bp_state_checkpoint_list(st, scope, prefix, &keys, &n) != BP_OK)
        return "error";
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "", keys[i]);
    if (keys && keys[n] != NULL)
        snprintf(buf, sizeof buf, "not NULL-terminated");
    free(keys);
    return buf;
}

int main(void)
{
    char dir[] = "/tmp/bp-test-ckpt-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char path[300];
    snprintf(path, sizeof path, "%s/state.db", dir);
    const char *tgt = test_state_target(path);   /* SQLite file or PostgreSQL */
    bp_state *st = NULL;
    char *err = NULL;
    CHECK_INT(bp_state_open(tgt, "t", &st, &err), BP_OK);

    /* set_many: all or nothing. */
    const char *k[] = {"a:1", "a_2", "ab", "b%"}, *v[] = {"1", "2", "3", "4"};
    CHECK_INT(bp_state_checkpoint_set_many(st, "r/in", k, v, 4), BP_OK);
    CHECK_STR(keys_joined(st, "r/in", NULL), "a:1,a_2,ab,b%");
    CHECK_STR(keys_joined(st, "r/in", ""), "a:1,a_2,ab,b%");
    /* A prefix is literal: '_' and '%' are not LIKE patterns. */
    CHECK_STR(keys_joined(st, "r/in", "a_"), "a_2");
    CHECK_STR(keys_joined(st, "r/in", "%"), "");
    CHECK_STR(keys_joined(st, "other", NULL), "");
    const char *k2[] = {"a:1", NULL}, *v2[] = {"changed", "x"};
    CHECK_INT(bp_state_checkpoint_set_many(st, "r/in", k2, v2, 2), BP_ERR_INVALID);
    char *val = NULL;
    CHECK_INT(bp_state_checkpoint_get(st, "r/in", "a:1", &val), BP_OK);
    CHECK_STR(val, "1");
    free(val);
    const char *k3[] = {"a:1", "c"}, *v3[] = {NULL, "5"};
    CHECK_INT(bp_state_checkpoint_set_many(st, "r/in", k3, v3, 2), BP_OK);
    CHECK_STR(keys_joined(st, "r/in", NULL), "a_2,ab,b%,c");
    size_t n = 0;
    CHECK_INT(bp_state_checkpoint_delete_prefix(st, "r/in", "a", &n), BP_OK);
    CHECK_INT(n, 2);
    CHECK_STR(keys_joined(st, "r/in", NULL), "b%,c");

    /* Scopes: the first run records identities; a renamed use with the same
     * identity takes the old scope's checkpoints. */
    bp_scope_use run1[] = {
        {.scope = "r/in", .identity = "I-src", .plugin = "file", .kind = "source", .what = "src"},
        {.scope = "r/dedupe#1", .identity = "I-dd", .plugin = "dedupe", .kind = "transform",
         .what = "dd"},
    };
    CHECK_INT(bp_state_checkpoint_set(st, "r/dedupe#1", "v:acme", "[1]"), BP_OK);
    CHECK_INT(bp_state_scopes_settle(st, run1, 2, &err), BP_OK);
    bp_scope_use run2[] = {
        {.scope = "r2/in", .identity = "I-src", .plugin = "file", .kind = "source", .what = "src"},
        {.scope = "r2/set#1", .identity = "I-set", .plugin = "set", .kind = "transform",
         .what = "set"},
        {.scope = "r2/dedupe#2", .identity = "I-dd", .plugin = "dedupe", .kind = "transform",
         .what = "dd"},
    };
    CHECK_INT(bp_state_scopes_settle(st, run2, 3, &err), BP_OK);
    CHECK_STR(keys_joined(st, "r2/in", NULL), "b%,c");
    CHECK_STR(keys_joined(st, "r/in", NULL), "");
    CHECK_STR(keys_joined(st, "r2/dedupe#2", NULL), "v:acme");

    /* Two empty uses with the donor's identity: ambiguous, nothing moves. */
    bp_scope_use run3[] = {
        {.scope = "x/in", .identity = "I-src", .plugin = "file", .kind = "source", .what = "a"},
        {.scope = "y/in", .identity = "I-src", .plugin = "file", .kind = "source", .what = "b"},
    };
    CHECK_INT(bp_state_scopes_settle(st, run3, 2, &err), BP_OK);
    CHECK_STR(keys_joined(st, "x/in", NULL), "");
    CHECK_STR(keys_joined(st, "y/in", NULL), "");
    CHECK_STR(keys_joined(st, "r2/in", NULL), "b%,c");

    /* Another identity (options changed) takes nothing. */
    bp_scope_use run4[] = {
        {.scope = "z/in", .identity = "I-other", .plugin = "file", .kind = "source", .what = "z"},
    };
    CHECK_INT(bp_state_scopes_settle(st, run4, 1, &err), BP_OK);
    CHECK_STR(keys_joined(st, "z/in", NULL), "");
    CHECK_STR(keys_joined(st, "r2/in", NULL), "b%,c");

    bp_state_close(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
