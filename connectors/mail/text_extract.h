/* Readable text out of the formats mail carries: HTML bodies (libxml2's
 * HTML parser) and PDF attachments (poppler-glib). Internal header. */
#ifndef BP_TEXT_EXTRACT_H
#define BP_TEXT_EXTRACT_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* UTF-8 HTML -> plain text: script/style dropped, block elements and <br>
 * end lines, runs of white space folded, entities decoded. Never fetches
 * anything (no network, no external entities). Returns malloc'ed UTF-8
 * text, or NULL when out of memory. */
char *html_to_text(const char *html, size_t len);

/* Text of each page of a PDF, up to max_pages pages: a new cJSON array of
 * strings, or NULL with *err (malloc'ed) when poppler cannot open it
 * (damaged, encrypted). *n_pages gets the document's page count. */
cJSON *pdf_page_texts(const unsigned char *bytes, size_t len, int max_pages, int *n_pages,
                      char **err);

#endif
