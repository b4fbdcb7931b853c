/* Readable text out of the formats mail carries: HTML bodies (libxml2's
 * HTML parser). Internal header. */
#ifndef BP_TEXT_EXTRACT_H
#define BP_TEXT_EXTRACT_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* UTF-8 HTML -> plain text: script/style dropped, block elements and <br>
 * end lines, runs of white space folded, entities decoded. Never fetches
 * anything (no network, no external entities). Returns malloc'ed UTF-8
 * text, or NULL when out of memory. */
char *html_to_text(const char *html, size_t len);

/* PDF text: connectors/common/pdf_text.h (a budgeted worker process). */

#endif
