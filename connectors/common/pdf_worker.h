/* One document through the PDF worker's extraction (bp-pdf-text, pdf_worker.c):
 * the bytes in, the worker's records out (the line protocol that file's
 * header describes). The worker calls it with stdout; the fuzz target
 * (tests/fuzz/fuzz_pdf_text.c) compiles pdf_worker.c with
 * -DBP_PDF_WORKER_NO_MAIN and calls it with a memory stream, so that what is
 * fuzzed is what the worker runs. Internal header of the connectors. */
#ifndef BP_PDF_WORKER_H
#define BP_PDF_WORKER_H

#include <stddef.h>
#include <stdio.h>

/* Writes the records for len bytes (borrowed) to out: N, then per page read
 * (at most max_pages) S and W when words, and P; or E with the reason the
 * document cannot be read. image: the bytes are an image for OCR (the worker
 * built with Tesseract only). ocr (may be NULL) reads a page without a text
 * layer in mode words (pdf_page_cbs.ocr; the worker passes pdf_ocr_page).
 * Errors of out are seen by the worker's flush of stdout, not returned.
 * Not thread-safe when ocr is (Tesseract: one per process). */
void pdf_worker_doc(FILE *out, const char *buf, size_t len, int words, int image, int max_pages,
                    int (*ocr)(void *page, char **words, char **text));

#endif
