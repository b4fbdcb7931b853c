/* One PDF page as PNG (issue 15: the review workbench shows the document as
 * the bus saw it). poppler draws the page with cairo; run only inside the
 * budgeted worker (bp-pdf-text render), never in the bus: poppler cannot be
 * stopped. Internal header of the connectors; not part of the plugin ABI. */
#ifndef BP_PDF_RENDER_H
#define BP_PDF_RENDER_H

#include <stddef.h>

/* Renders page `page` (0-based) of len bytes of a PDF so that its longer side
 * is at most max_px pixels (and at most 200 dpi: no upscaling of small
 * pages beyond what a screen needs), on white. *png (malloc'ed) and *png_len
 * hold the PNG; *n_pages the document's page count. Returns 0, or -1 with *err
 * (malloc'ed): not a PDF, no such page, out of memory. */
int pdf_render_png(const void *bytes, size_t len, int page, int max_px, unsigned char **png,
                   size_t *png_len, int *n_pages, char **err);

#endif
