/* backplane SDK (ABI 1.3): the conventions transforms use to tell the core and
 * reviewers what they found on a record. The core reads these names (the
 * review gate, `review list`, `backplane report`); before 1.3 they were defined
 * only by the shipped plugins. Raise a flag with the host's flag_add, which
 * applies the whole convention; read the others with envelope_get0_ext.
 *
 *   flags       extension, string: the flag names raised on the record,
 *               comma-separated, each once ("possible_duplicate,po_mismatch").
 *               What `flags has 'x'` tests in a review gate or a policy rule,
 *               and what CloudEvents consumers see.
 *   data.flags  array of {"flag", "reason", "by"} objects, one per finding, so
 *               the reasons travel with the data into sinks and the review
 *               queue; `review list` shows "flag: reason; ..." from them.
 *   confidence  extension, number in [0, 1]: the record's overall confidence
 *               (`confidence < 0.85` in a gate). When absent, the core takes the
 *               lowest confidence of the lineage entries (bp_lineage.confidence).
 *   priority    extension, integer (or its decimal string): the review queue
 *               lists higher priorities first; default 0.
 *
 * Flag names are [a-z0-9_], 1 to BP_FLAG_NAME_MAX bytes: short enough to be a
 * metric label (`backplane report` counts flag.NAME per route) and never cut. */
#ifndef BACKPLANE_FLAGS_H
#define BACKPLANE_FLAGS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Extension names (CloudEvents extension attributes). */
#define BP_EXT_FLAGS "flags"
#define BP_EXT_CONFIDENCE "confidence"
#define BP_EXT_PRIORITY "priority"

/* The per-finding list and the names of its members. */
#define BP_FLAGS_DATA_PATH "data.flags"
#define BP_FLAGS_DATA_MEMBER "flags"     /* data.flags as a member of data */
#define BP_FLAG_KEY_FLAG "flag"
#define BP_FLAG_KEY_REASON "reason"
#define BP_FLAG_KEY_BY "by"

/* Longest flag name flag_add accepts, in bytes (the report and metrics count
 * every flag up to this length, so no name is cut). */
#define BP_FLAG_NAME_MAX 128
#define BP_FLAG_NAME_MAX_TEXT "128"

/* Flags the shipped transforms raise (a plugin may raise any valid name). */
#define BP_FLAG_POSSIBLE_DUPLICATE "possible_duplicate"   /* dedupe */
#define BP_FLAG_PO_MISMATCH "po_mismatch"                 /* match: totals differ */
#define BP_FLAG_PO_LINE_MISMATCH "po_line_mismatch"       /* match: a line differs */
#define BP_FLAG_PO_CLOSED "po_closed"                     /* match: PO not open */
#define BP_FLAG_VENDOR_MISMATCH "vendor_mismatch"         /* match */

/* Extracted fields (issue 15): a transform that reads fields into an object
 * X of data (extract's `into`, e.g. data.invoice) writes beside each value
 * X.FIELD its confidence X.confidence.FIELD (number in [0, 1]), the text as
 * printed X.raw.FIELD, and where it was read X.where.FIELD: {"page": N
 * (1-based), "box": [x0, y0, x1, y1]} relative to the page (0..1 from its top
 * left), or {"path": P, "span": [start, end]} in Unicode code points of the
 * text at path P (end exclusive). The review workbench finds such groups by
 * the X.confidence object and shows each field with its confidence and box
 * or span. */
#define BP_FIELDS_CONFIDENCE "confidence"
#define BP_FIELDS_RAW "raw"
#define BP_FIELDS_WHERE "where"

/* Priorities a plugin may set on the "priority" extension. */
#define BP_PRIORITY_NORMAL 0
#define BP_PRIORITY_HIGH 10
#define BP_PRIORITY_URGENT 20

#ifdef __cplusplus
}
#endif
#endif
