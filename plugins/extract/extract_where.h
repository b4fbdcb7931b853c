/* extract_where: where on the page, or where in the text, a field's value was
 * read (issue 15), so a reviewer sees the value beside its source. The model
 * picks text; this finds the line(s) holding that text again, the first time
 * it occurs, as candidates are lines or runs of consecutive lines joined by
 * one space (extract_cand.c). */
#ifndef BP_EXTRACT_WHERE_H
#define BP_EXTRACT_WHERE_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "extract_doc.h"

/* Where each line of a document came from in the record: source text `src`
 * (an index into the transform's `text` paths, -1 none) and the byte offset
 * of its (trimmed) first character there. */
typedef struct {
    int src;
    size_t off;
} ex_origin;

/* The lines first..last holding raw: raw is inside line first (first ==
 * last), or starts with line first's text and goes on with the next lines'
 * texts, each after one space. *off: raw's byte offset in line first's text;
 * *end: the byte offset of its end in line last's text. 0 found, -1 not. */
int ex_where_lines(const ex_doc *d, const char *raw, size_t *first, size_t *last, size_t *off,
                   size_t *end);

/* The `where` object of raw (NULL when it is not found, or out of memory):
 *  - a document with pages (PDF layout, scans): {"page": N (1-based),
 *    "box": [x0, y0, x1, y1]} relative to the page, 0..1 from its top left
 *    (multiply by the page's width and height in any unit);
 *  - text lines with an origin (org, may be NULL; text: the source strings
 *    by src): {"span": [start, end]} in Unicode code points of that text, end
 *    exclusive, and "path": paths[src];
 *  - lines with boxes of their own: {"line": i, "box": [...]} in the
 *    document's normalised units. */
cJSON *ex_where(const ex_doc *d, const ex_origin *org, const char *const *texts,
                const char *const *paths, const char *raw);

/* ex_where with the pages' words (layout: [{w, h, words: [{t, b}]}], the
 * input of ex_doc_add_words; may be NULL): a value inside a line gets the
 * box of the words it covers rather than a share of the line's width. */
cJSON *ex_where_ex(const ex_doc *d, const ex_origin *org, const char *const *texts,
                   const char *const *paths, const char *raw, const cJSON *layout);

#endif
