/* Tesseract OCR for the PDF worker (bp-pdf-text) only: scanned pages and
 * images become words with boxes. Not thread-safe (one Tesseract instance per
 * process, made on first use, languages from $BP_OCR_LANGS, default
 * eng+deu+fra+nld). Internal header of the connectors. */
#ifndef BP_PDF_OCR_H
#define BP_PDF_OCR_H

#include <stddef.h>

/* Renders a PopplerPage at 300 dpi and reads it. *words: malloc'ed JSON
 * [{"t": word, "b": [x0, y0, x1, y1]}] in PDF points from the top left (as
 * pdf_text.words); *text: malloc'ed, words by spaces, lines by newlines.
 * 0 ok; -1 when Tesseract or its language data is missing or the page is
 * too large (both NULL). */
int pdf_ocr_page(void *poppler_page, char **words, char **text);

/* The same for an image in memory (PNG, JPEG, TIFF: what leptonica reads);
 * boxes in pixels, *width and *height the image's size. */
int pdf_ocr_image(const void *bytes, size_t len, int *width, int *height, char **words,
                  char **text);

/* Frees Tesseract (its caches warn of leaks at exit otherwise). */
void pdf_ocr_end(void);

#endif
