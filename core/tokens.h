/* Roles and bearer tokens of the control API (DESIGN.md §9): what `backplane
 * token` and /api/v1/tokens do, in one place for the CLI (no owner running)
 * and the owner. Every change is audited; a token is never logged, audited
 * or stored, only its SHA-256. Thread: any. */
#ifndef BP_CORE_TOKENS_H
#define BP_CORE_TOKENS_H

#include <backplane/status.h>
#include "state.h"

struct cJSON;

/* Each role has the rights of the ones before it. */
enum bp_role { BP_ROLE_NONE, BP_ROLE_VIEWER, BP_ROLE_REVIEWER, BP_ROLE_OPERATOR, BP_ROLE_ADMIN };

/* "viewer" ... "admin" ("none" for BP_ROLE_NONE); static. */
const char *bp_access_role_name(int role);
/* The role named s, or BP_ROLE_NONE. */
int bp_access_role_parse(const char *s);

/* A token's text: "bpt_" then 43 base64url characters (256 random bits). */
#define BP_TOKEN_TEXT_LEN 47

/* Makes token name (1-64 of [A-Za-z0-9._-]) with role, made by actor
 * ("os:alice", "api:ops"): 256 bits from RAND_bytes, only the hash stored,
 * one audit entry "token:create" {name, role}. *token (malloc'ed) is shown to
 * the caller once and never again. BP_OK; BP_ERR_INVALID (bad name or role),
 * BP_ERR_FULL (the name exists), BP_ERR_IO: *err malloc'ed. */
bp_status bp_token_create(bp_state *st, const char *name, const char *role, const char *actor,
                          char **token, char **err);
/* Revokes token name (effective for the very next request: every request
 * reads the table), audited "token:revoke". BP_OK, BP_ERR_NOT_FOUND, BP_ERR_IO
 * with *err malloc'ed. */
bp_status bp_token_revoke(bp_state *st, const char *name, const char *actor, char **err);
/* {"tokens": [{"name","role","created_ms","created_by","last_used_ms"}]}
 * (last_used_ms null: never used); NULL on error. Caller frees. */
struct cJSON *bp_token_list_json(bp_state *st);
/* Grows with every token created or revoked by this process: a cache of
 * verified tokens (admin_listen.c) drops what it holds when it changes, so a
 * revocation takes effect for the very next request. */
unsigned bp_token_generation(void);
/* The SHA-256 of a token's text (what is stored and compared). */
void bp_token_hash(const char *text, unsigned char out[32]);

/* The role of the presented token text (anything: from a header), and its
 * name into *name (malloc'ed); BP_ROLE_NONE when no token matches (*name
 * NULL); -1 when the store failed. */
int bp_token_verify(bp_state *st, const char *text, char **name);

#endif
