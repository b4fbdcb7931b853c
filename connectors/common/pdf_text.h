/* PDF -> text under a budget: the one module that reads PDFs for the bus.
 *
 * poppler cannot be cancelled and checks nothing inside a page: one small
 * PDF (a Flate content stream of tiny text runs, reused by every page) costs
 * seconds per page, so a few hundred pages hold a thread for many minutes.
 * pdf_text_read() therefore runs poppler in a worker process (bp-pdf-text,
 * installed beside the plugins) under RLIMIT_CPU and a wall-clock deadline,
 * reads the pages as the worker writes them, and kills the worker when the
 * budget is spent or the caller cancels (shutdown): the caller gets the text
 * so far and the reason, and its thread is back within ~50 ms of a cancel.
 *
 * Used by the mail connectors (mime_envelope.c); written for `extract read`
 * and the workbench's page rendering too: bytes + budget in, pages out. The
 * worker speaks a small line protocol (pdf_worker.c); words with their
 * boxes come as one more record per page when asked, and a later mode (a
 * page as PNG) would add another record letter.
 *
 * Internal header of the connectors; not part of the plugin ABI. */
#ifndef BP_PDF_TEXT_H
#define BP_PDF_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

typedef struct pdf_budget {
    int max_pages;               /* pages read at most (<= 0: none) */
    int64_t wall_ms;             /* wall clock for this document; <= 0: no limit */
    int cpu_s;                   /* the worker's RLIMIT_CPU in seconds; <= 0: none */
    int in_process;              /* 1: poppler in this process, no budget but max_pages
                                    (the fuzz target; never for untrusted input in the bus) */
    int (*cancelled)(void *ud);  /* polled every 50 ms while waiting; nonzero kills the
                                    worker (may be NULL) */
    void *ud;
    int positions;               /* 1: also the words of each page with their boxes */
    const char *worker;          /* the worker's path; NULL: pdf_text_worker_path() */
    /* ---- issue 19 (invoices-read) ---- */
    int image;                   /* 1: the bytes are an image (PNG, JPEG, TIFF), read by OCR
                                    in the worker as one page (implies positions) */
} pdf_budget;

typedef struct pdf_text {
    cJSON *pages;                /* array of UTF-8 strings: the pages read, in order */
    int n_pages;                 /* the document's page count; -1 when not known */
    char *error;                 /* malloc'ed: the PDF cannot be opened (damaged,
                                    encrypted) or no worker could run; pages is NULL */
    char *truncated;             /* malloc'ed: why fewer than min(max_pages, n_pages)
                                    pages were read (time or CPU limit, worker crashed) */
    int cancelled;               /* the caller's cancelled() said stop */
    cJSON *words;                /* with b->positions: one array per page read, of
                                    {"t": word, "b": [x1, y1, x2, y2]} in PDF points from
                                    the page's top left; else NULL */
    /* ---- issue 19 (invoices-read) ---- */
    cJSON *sizes;                /* with b->positions: one {"w", "h", "ocr"} per page read:
                                    its size in points (an image: pixels); ocr true when
                                    the page had no text layer and Tesseract read it */
} pdf_text;

/* Reads the text of each page of len bytes of a PDF under budget b into
 * *out (zeroed first; clear it with pdf_text_clear). Returns 0, with the
 * outcome in *out (pages, error, truncated, cancelled), or -1 when out of
 * memory. The bytes are borrowed. Thread-safe: each call has its own worker;
 * the calling thread waits (polling cancelled) for at most b->wall_ms. */
int pdf_text_read(const void *bytes, size_t len, const pdf_budget *b, pdf_text *out);

void pdf_text_clear(pdf_text *t);

/* The worker's path: $BP_PDF_WORKER, else bp-pdf-text in the directory of
 * the module holding this code (the plugin), else in BP_PDF_WORKER_DIR (set
 * at build time: the plugin install directory). Static storage. */
const char *pdf_text_worker_path(void);

/* In-process page loop (the worker's and in_process mode's): calls on_count
 * once with the page count, then on_page for each page read, up to
 * max_pages. Returns 0, or -1 with *err (malloc'ed) when poppler cannot open
 * the PDF. A callback returning nonzero stops the loop. */
int pdf_text_each_page(const void *bytes, size_t len, int max_pages,
                       int (*on_count)(void *ud, int n_pages),
                       int (*on_page)(void *ud, int index, const char *text, size_t len),
                       void *ud, char **err);

/* The same with positions: on_words (may be NULL) gets each page's words
 * and boxes as compact JSON text (see pdf_text.words) before on_page. */
int pdf_text_each_page_ex(const void *bytes, size_t len, int max_pages,
                          int (*on_count)(void *ud, int n_pages),
                          int (*on_page)(void *ud, int index, const char *text, size_t len),
                          int (*on_words)(void *ud, int index, const char *json, size_t len),
                          void *ud, char **err);

/* Callbacks of the page loop (issue 19). on_size (may be NULL) gets each
 * page's size in points and whether it was read by OCR, before on_words; ocr
 * (may be NULL: no OCR, the plugins' case) reads a page without a text layer
 * (a PopplerPage *) into malloc'ed words JSON and text, 0 ok. */
typedef struct pdf_page_cbs {
    int (*on_count)(void *ud, int n_pages);
    int (*on_page)(void *ud, int index, const char *text, size_t len);
    int (*on_words)(void *ud, int index, const char *json, size_t len);
    int (*on_size)(void *ud, int index, double w, double h, int ocr);
    int (*ocr)(void *page, char **words, char **text);
} pdf_page_cbs;

/* A worker kept alive across documents (issue 19): `extract read` over many
 * files pays the worker's start (exec, poppler's and Tesseract's libraries)
 * once. Each document keeps its own budget: the wall clock as in
 * pdf_text_read, RLIMIT_CPU raised by cpu_s before each; a worker that ran
 * over, crashed or was cancelled is killed and the next document starts a
 * new one. Not thread-safe: one session per thread. */
typedef struct pdf_session pdf_session;
pdf_session *pdf_session_new(const char *worker);   /* NULL worker: pdf_text_worker_path() */
int pdf_session_read(pdf_session *s, const void *bytes, size_t len, const pdf_budget *b,
                     pdf_text *out);               /* as pdf_text_read */
void pdf_session_free(pdf_session *s);             /* ends the worker */

int pdf_text_each_page_cbs(const void *bytes, size_t len, int max_pages, const pdf_page_cbs *cb,
                           void *ud, char **err);

/* What pdf_text_read makes of len bytes of records (borrowed) from a worker
 * that then exited 0: the fuzz target's check that whatever the worker's
 * extraction writes, the bus reads back as pages (pdf_worker.h). Returns and
 * fills *out as pdf_text_read does; records that do not parse, or end
 * inside one, are out->truncated "the PDF worker wrote an unreadable reply". */
int pdf_text_from_reply(const void *reply, size_t len, const pdf_budget *b, pdf_text *out);

#endif
