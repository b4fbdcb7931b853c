/* Tokens (core/tokens.c, core/state_tokens.c) on a real state store (a
 * SQLite file, or PostgreSQL as tokens-pg, tests/unit/with_pg.sh): a token
 * is 256 bits shown once, only its SHA-256 stored; it verifies to its role
 * among several; a revoked one verifies to nothing at once; every change is
 * an audit-log entry without the token. And the duration buckets the cycle
 * figures keep (core/histogram.h): bounds and quantiles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "histogram.h"
#include "state.h"
#include "tokens.h"
#include "tap.h"
#include "state_target.h"

static int one_text(int ncol, const char *const *cols, void *ud)
{
    char *out = ud;
    snprintf(out, 256, "%s", ncol > 0 && cols[0] ? cols[0] : "");
    return 0;
}

int main(void)
{
    char dir[] = "/tmp/bp-tokens-XXXXXX", path[256], q[512], got[256];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/state.db", dir);
    bp_state *st = NULL;
    char *err = NULL, *t1 = NULL, *t2 = NULL, *name = NULL;
    CHECK_INT(bp_state_open(test_state_target(path), "t", &st, &err), BP_OK);
    const int pg = test_state_pg();
    CHECK_INT(bp_token_create(st, "grafana", "viewer", "os:alice", &t1, &err), BP_OK);
    CHECK_INT(bp_token_create(st, "ops", "operator", "os:alice", &t2, &err), BP_OK);
    CHECK(t1 && strlen(t1) == BP_TOKEN_TEXT_LEN && strncmp(t1, "bpt_", 4) == 0);
    CHECK(t1 && t2 && strcmp(t1, t2) != 0);
    CHECK_INT(bp_token_verify(st, t1, &name), BP_ROLE_VIEWER);
    CHECK_STR(name, "grafana");
    free(name);
    CHECK_INT(bp_token_verify(st, t2, &name), BP_ROLE_OPERATOR);
    CHECK_STR(name, "ops");
    free(name);
    /* One character off, empty, NULL: nothing. */
    char bad[64];
    snprintf(bad, sizeof(bad), "%s", t1);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    CHECK_INT(bp_token_verify(st, bad, &name), BP_ROLE_NONE);
    CHECK(name == NULL);
    CHECK_INT(bp_token_verify(st, "", &name), BP_ROLE_NONE);
    CHECK_INT(bp_token_verify(st, NULL, &name), BP_ROLE_NONE);
    /* Stored: the hash, never the text. */
    if (pg)
        snprintf(q, sizeof(q), "SELECT count(*) FROM tokens WHERE position(convert_to('%s',"
                               "'UTF8') in hash) > 0 OR instr(name, '%s') > 0", t1, t1);
    else
        snprintf(q, sizeof(q), "SELECT count(*) FROM tokens WHERE instr(hash, '%s') > 0 OR "
                               "instr(name, '%s') > 0", t1, t1);
    bp_state_select(st, q, one_text, got);
    CHECK_STR(got, "0");
    unsigned char h[32];
    bp_token_hash(t1, h);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02X", h[i]);
    bp_state_select(st,
                    pg ? "SELECT upper(encode(hash, 'hex')) FROM tokens WHERE name='grafana'"
                       : "SELECT hex(hash) FROM tokens WHERE name='grafana'",
                    one_text, got);
    CHECK_STR(got, hex);
    /* Refusals, word for word. */
    char *tok = NULL;
    CHECK_INT(bp_token_create(st, "grafana", "viewer", "os:alice", &tok, &err), BP_ERR_FULL);
    CHECK_STR(err, "a token named 'grafana' exists: revoke it first");
    free(err);
    CHECK_INT(bp_token_create(st, "a b", "viewer", "os:alice", &tok, &err), BP_ERR_INVALID);
    CHECK_STR(err, "token name 'a b': 1 to 64 of A-Z a-z 0-9 . _ -");
    free(err);
    CHECK_INT(bp_token_create(st, "x", "root", "os:alice", &tok, &err), BP_ERR_INVALID);
    CHECK_STR(err, "role 'root': viewer, reviewer, operator or admin");
    free(err);
    /* Revoked: refused at once; the generation moves (caches drop it). */
    unsigned gen = bp_token_generation();
    CHECK_INT(bp_token_revoke(st, "grafana", "api:ops", &err), BP_OK);
    CHECK(bp_token_generation() != gen);
    CHECK_INT(bp_token_verify(st, t1, &name), BP_ROLE_NONE);
    CHECK_INT(bp_token_verify(st, t2, &name), BP_ROLE_OPERATOR);
    free(name);
    CHECK_INT(bp_token_revoke(st, "grafana", "api:ops", &err), BP_ERR_NOT_FOUND);
    CHECK_STR(err, "no token named 'grafana'");
    free(err);
    /* Audited: two creates, one revoke, with who; the token in none. */
    bp_state_select(st,
                    pg ? "SELECT string_agg(actor || ' ' || kind, ',' ORDER BY seq) FROM audit_log"
                         " WHERE kind LIKE 'token:%'"
                       : "SELECT group_concat(actor || ' ' || kind, ',') FROM audit_log "
                         "WHERE kind LIKE 'token:%'",
                    one_text, got);
    CHECK_STR(got, "os:alice token:create,os:alice token:create,api:ops token:revoke");
    snprintf(q, sizeof(q), "SELECT count(*) FROM audit_log WHERE instr(payload, '%s') > 0", t1);
    bp_state_select(st, q, one_text, got);
    CHECK_STR(got, "0");
    free(t1);
    free(t2);
    bp_state_close(st);

    /* Buckets: four per doubling of microseconds. */
    CHECK_INT(bp_hist_bucket(0), 0);
    CHECK_INT(bp_hist_bucket(1), 0);
    CHECK_INT(bp_hist_bucket(2), 4);
    CHECK_INT(bp_hist_bucket(16), 16);     /* exactly a bound: in that bucket */
    CHECK_INT(bp_hist_bucket(17), 17);
    CHECK_INT(bp_hist_bucket(1000000), 80);   /* 1 s: 2^19.93 µs */
    CHECK_INT(bp_hist_bucket(INT64_MAX / 2), BP_HIST_BUCKETS - 1);
    int64_t counts[BP_HIST_BUCKETS] = {0};
    for (int i = 1; i <= 100; i++)   /* 10 ms .. 1000 ms */
        counts[bp_hist_bucket((int64_t)i * 10000)]++;
    double med = bp_hist_quantile_us(counts, 0.5), p90 = bp_hist_quantile_us(counts, 0.9);
    CHECK(med > 500000 * 0.84 && med < 500000 * 1.19);   /* within a bucket's width */
    CHECK(p90 > 900000 * 0.84 && p90 < 900000 * 1.19);
    int64_t none[BP_HIST_BUCKETS] = {0};
    CHECK(bp_hist_quantile_us(none, 0.5) < 0);
    snprintf(q, sizeof(q), "rm -rf '%s'", dir);
    if (system(q) != 0)
        return 1;
    return tap_done();
}
