/* backplane SDK: predicates, the small `when:` language evaluated on envelopes.
 *
 *   confidence < 0.85 or flags has 'po_mismatch'
 *   data.currency in ['EUR', 'USD'] and not (data.total > 10000)
 *   exists data.po_number and data.vendor matches '^ACME( |$)'
 *
 * Grammar (lowest precedence first):
 *   expr    := or
 *   or      := and ( "or" and )*
 *   and     := not ( "and" not )*
 *   not     := "not" not | "exists" path | cmp
 *   cmp     := operand [ op operand | "exists" ]
 *   op      := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "has" | "matches"
 *   operand := path | string | number | "true" | "false" | "null"
 *            | "[" [ literal ( "," literal )* ] "]" | "(" expr ")"
 * Strings use '...' or "..." with backslash escapes. Paths are those of
 * bp_envelope_get0_path (data.a.b, data.items[0].x, subject, an extension).
 *
 * Semantics (documented in docs/predicates.md):
 *  - A missing path makes every comparison false (and "!=" true); "exists" tests presence.
 *  - Numbers compare numerically; a string that is entirely a number compares
 *    numerically with a number (extensions such as confidence are strings).
 *  - Strings compare bytewise; any other pair of types is a mismatch: false
 *    for ordering and "==", true for "!=".
 *  - "in": left equals any element of the right list (or is a key of an object).
 *  - "has": left is an array containing right, an object with key right, or a
 *    string whose comma/space-separated tokens include right (the "flags" extension).
 *  - "matches": POSIX extended regex, compiled once at parse time.
 */
#ifndef BACKPLANE_PREDICATE_H
#define BACKPLANE_PREDICATE_H

#include <backplane/envelope.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bp_predicate bp_predicate;

/* Compiles text. On success returns BP_OK and *out (free with bp_predicate_free).
 * On a syntax error returns BP_ERR_PARSE, sets *errcol to the 1-based column
 * (byte offset + 1) of the offending token and *errmsg (if not NULL) to a
 * malloc'ed message without position. BP_ERR_NOMEM when out of memory. */
bp_status bp_predicate_compile(const char *text, bp_predicate **out,
                               int *errcol, char **errmsg);

/* 1 when the predicate holds for env, 0 otherwise. Never fails: type mismatches
 * and missing fields are false (see above). */
int bp_predicate_eval(const bp_predicate *pred, const bp_envelope *env);

/* Borrowed source text of the predicate. */
const char *bp_predicate_text(const bp_predicate *pred);

void bp_predicate_free(bp_predicate *pred);

#ifdef __cplusplus
}
#endif
#endif
