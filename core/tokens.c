/* See tokens.h. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "audit_log.h"
#include "clock.h"
#include "sha256.h"
#include "state_tokens.h"
#include "tokens.h"

static const char *const role_names[] = {"none", "viewer", "reviewer", "operator", "admin"};

const char *bp_access_role_name(int role)
{
    return role >= BP_ROLE_NONE && role <= BP_ROLE_ADMIN ? role_names[role] : "none";
}

int bp_access_role_parse(const char *s)
{
    for (int k = BP_ROLE_VIEWER; s && k <= BP_ROLE_ADMIN; k++)
        if (strcmp(s, role_names[k]) == 0)
            return k;
    return BP_ROLE_NONE;
}

static atomic_uint token_gen;

unsigned bp_token_generation(void)
{
    return atomic_load(&token_gen);
}

void bp_token_hash(const char *text, unsigned char out[32])
{
    bp_sha256 h;
    bp_sha256_init(&h);
    bp_sha256_update(&h, text, strlen(text));
    bp_sha256_final(&h, out);
}

static int token_name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = n[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static void token_audit(bp_state *st, const char *actor, const char *kind, const char *name,
                        const char *role)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", name);
    if (role)
        cJSON_AddStringToObject(p, "role", role);
    char *payload = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    bp_audit_entry e = {.actor = actor, .kind = kind, .payload = payload};
    (void)bp_audit_append(st, &e);
    free(payload);
}

static void set_err(char **err, const char *fmt, const char *a)
{
    if (asprintf(err, fmt, a) < 0)
        *err = NULL;
}

bp_status bp_token_create(bp_state *st, const char *name, const char *role, const char *actor,
                          char **token, char **err)
{
    *token = NULL;
    *err = NULL;
    if (!token_name_ok(name)) {
        set_err(err, "token name '%s': 1 to 64 of A-Z a-z 0-9 . _ -", name ? name : "");
        return BP_ERR_INVALID;
    }
    if (bp_access_role_parse(role) == BP_ROLE_NONE) {
        set_err(err, "role '%s': viewer, reviewer, operator or admin", role ? role : "");
        return BP_ERR_INVALID;
    }
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        set_err(err, "%s", "no random bytes (RAND_bytes failed)");
        return BP_ERR_IO;
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *t = malloc(BP_TOKEN_TEXT_LEN + 1);
    if (t == NULL)
        return BP_ERR_NOMEM;
    memcpy(t, "bpt_", 4);
    size_t o = 4;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            t[o++] = b64[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        t[o++] = b64[(acc << (6 - bits)) & 63];
    t[o] = '\0';
    unsigned char h[BP_TOKEN_HASH_LEN];
    bp_token_hash(t, h);
    bp_status s = bp_state_token_add(st, name, role, h, actor);
    if (s != BP_OK) {
        free(t);
        set_err(err, s == BP_ERR_FULL ? "a token named '%s' exists: revoke it first"
                                      : "cannot store token '%s'", name);
        return s;
    }
    atomic_fetch_add(&token_gen, 1);
    token_audit(st, actor, "token:create", name, role);
    *token = t;
    return BP_OK;
}

bp_status bp_token_revoke(bp_state *st, const char *name, const char *actor, char **err)
{
    *err = NULL;
    bp_status s = bp_state_token_remove(st, name);
    if (s == BP_OK) {
        atomic_fetch_add(&token_gen, 1);
        token_audit(st, actor, "token:revoke", name, NULL);
    }
    else
        set_err(err, s == BP_ERR_NOT_FOUND ? "no token named '%s'" : "cannot revoke token '%s'",
                name);
    return s;
}

static int token_row(const bp_token_row *t, void *ud)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", t->name);
    cJSON_AddStringToObject(e, "role", t->role);
    cJSON_AddNumberToObject(e, "created_ms", (double)t->created_ms);
    cJSON_AddStringToObject(e, "created_by", t->created_by);
    if (t->last_used_ms > 0)
        cJSON_AddNumberToObject(e, "last_used_ms", (double)t->last_used_ms);
    else
        cJSON_AddNullToObject(e, "last_used_ms");
    cJSON_AddItemToArray(ud, e);
    return 0;
}

cJSON *bp_token_list_json(bp_state *st)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "tokens");
    if (bp_state_tokens_foreach(st, token_row, arr) != BP_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int bp_token_verify(bp_state *st, const char *text, char **name)
{
    *name = NULL;
    if (text == NULL || text[0] == '\0')
        return BP_ROLE_NONE;
    unsigned char h[BP_TOKEN_HASH_LEN];
    bp_token_hash(text, h);
    char *role = NULL;
    int r = bp_state_token_match(st, h, bp_now_ms(), name, &role);
    int out = r == 1 ? bp_access_role_parse(role) : r == 0 ? BP_ROLE_NONE : -1;
    free(role);
    return out;
}
