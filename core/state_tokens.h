/* Bearer tokens of the admin listener (DESIGN.md §9, docs/api.md "Tokens"):
 * only a SHA-256 of each token is stored, with its name, role, creation time
 * and last use. Thread: any (the store's lock). */
#ifndef BP_CORE_STATE_TOKENS_H
#define BP_CORE_STATE_TOKENS_H

#include <stdint.h>
#include "state.h"

#define BP_TOKEN_HASH_LEN 32

/* One token as listed (strings borrowed for the call). last_used_ms 0: never. */
typedef struct bp_token_row {
    const char *name, *role, *created_by;
    int64_t created_ms, last_used_ms;
} bp_token_row;

/* Adds the tokens table (idempotent). BP_OK or BP_ERR_IO. */
bp_status bp_state_tokens_migrate(bp_state *st);

/* Stores a new token: name, role, the token's hash, who made it.
 * BP_ERR_FULL when a token of that name exists, BP_ERR_IO. */
bp_status bp_state_token_add(bp_state *st, const char *name, const char *role,
                             const unsigned char hash[BP_TOKEN_HASH_LEN], const char *actor);

/* Removes token name: BP_OK, BP_ERR_NOT_FOUND, BP_ERR_IO. */
bp_status bp_state_token_remove(bp_state *st, const char *name);

/* Every token, by name. BP_OK or BP_ERR_IO. */
bp_status bp_state_tokens_foreach(bp_state *st, int (*fn)(const bp_token_row *t, void *ud),
                                  void *ud);

/* The token whose stored hash equals hash: compared with CRYPTO_memcmp against
 * EVERY stored hash (no early exit, no lookup by value), so the time taken
 * does not depend on how much of a hash matched. 1 found (*name and *role
 * malloc'ed; its last use is stored when older than a minute, so a busy
 * client does not write on each request), 0 none, -1 error. */
int bp_state_token_match(bp_state *st, const unsigned char hash[BP_TOKEN_HASH_LEN],
                         int64_t now_ms, char **name, char **role);

#endif
