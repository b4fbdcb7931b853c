/* A fast compact JSON printer for cJSON trees. cJSON's own printer formats
 * every non-integral number with sprintf("%1.15g") and checks it back with
 * sscanf: most of a file relay's CPU. This one prints integers and short
 * decimals (money: 1234.56) directly and falls back to the round-trip-checked
 * %.15g / %.17g only for the rest. Output is valid JSON whose numbers parse
 * back to the same doubles. */
#ifndef BP_CORE_JSON_PRINT_H
#define BP_CORE_JSON_PRINT_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include <backplane/status.h>

/* The deepest JSON this printer writes, counted in containers (objects and
 * arrays, the outermost is 1): cJSON's parser (CJSON_NESTING_LIMIT) reads no
 * deeper, so whatever is printed can be read back. An envelope takes one
 * level itself: its data may be BP_JSON_MAX_DEPTH - 1 deep. */
#define BP_JSON_MAX_DEPTH 1000

/* Appends item's compact JSON text to the buffer *buf (length *len, capacity
 * *cap, grown with realloc; kept NUL-terminated). BP_ERR_NOMEM on allocation
 * failure (the buffer stays valid), BP_ERR_DEPTH when item nests deeper than
 * BP_JSON_MAX_DEPTH (nothing appended), BP_ERR_INVALID for NULL item or an
 * invalid node. */
bp_status bp_json_append(const cJSON *item, char **buf, size_t *len, size_t *cap);

#endif
