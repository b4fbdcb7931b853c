/* The review workbench's view of the queue and of one parked record (issue
 * 15; docs/api.md, GET /api/v1/review and /api/v1/review/SEQ): what a clerk
 * needs beside the envelope — the fields with confidence, raw text and where
 * they were read, the flags with their details, the lineage, the attachments
 * and their page images, and the route's review options (SLA, confidence
 * threshold, reject reasons). Read-only over the parked payload: no SQL
 * here, no decision. Called by the control API's connection threads. */
#ifndef BP_REVIEW_VIEW_H
#define BP_REVIEW_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "state.h"

struct bp_runtime;

/* Adds the queue fields to row (a review list entry built from it): age_ms,
 * sla_ms, late (age over the SLA), confidence_threshold, lowest_confidence
 * (of the fields a transform gave a confidence, null when none),
 * low_fields (how many are under the threshold), flag_list (array of names).
 * rt may be NULL (no route options: the defaults). */
void bp_review_row_extend(struct bp_runtime *rt, cJSON *row, const bp_review_item *it);

/* Adds the item fields to obj (a review entry with the queue fields): fields,
 * flag_details, lineage, attachments, texts, reject_reasons; and replaces
 * the payload's attachment bytes in "envelope" by their size (the page images
 * are fetched one by one). 0, or -1 out of memory. */
int bp_review_view_extend(struct bp_runtime *rt, cJSON *obj, const bp_review_item *it);

/* Page `page` (1-based) of attachment `att` (-1: the first PDF) of parked
 * entry it as PNG whose longer side is px pixels (clamped to 400..2400 in
 * steps of 100), rendered by the budgeted PDF worker and cached beside the
 * state file (page_render.h). Returns the HTTP status: 200 with *png
 * (malloc'ed), else 404/422/500 with *err (malloc'ed). */
unsigned bp_review_page_png(struct bp_runtime *rt, const bp_review_item *it, int att, int page,
                            int px, unsigned char **png, size_t *png_len, char **err);

#endif
