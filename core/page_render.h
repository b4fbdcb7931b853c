/* PDF pages as PNG for the review workbench (issue 15; DESIGN.md §9
 * GET /api/v1/review/SEQ/pages/N.png). The core never runs poppler: it hands
 * the attachment to the PDF worker (bp-pdf-text render, connectors/common)
 * in its own process under a CPU, wall-clock and memory budget, and keeps
 * the PNG in a cache beside the state file (<state file>.pages/, 0700; files
 * 0600) keyed by the attachment's SHA-256, the page and the size, so a
 * reviewer paging back and forth costs one render per page; pages nobody
 * read for BP_PAGE_CACHE_DAYS are removed. */
#ifndef BP_PAGE_RENDER_H
#define BP_PAGE_RENDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct bp_render_budget {
    int max_px;          /* the longer side in pixels (16..8192); the worker caps at 200 dpi */
    int cpu_s;           /* RLIMIT_CPU of the worker */
    int64_t wall_ms;     /* killed after this long */
    int memory_mb;       /* RLIMIT_AS of the worker (not under ASan) */
} bp_render_budget;

/* Cached pages not read for this many days are removed (at most hourly, after a render). */
#define BP_PAGE_CACHE_DAYS 7

#define BP_RENDER_DEFAULTS ((bp_render_budget){.max_px = 1600, .cpu_s = 10, .wall_ms = 10000, \
                                               .memory_mb = 1024})

/* Page `page` (1-based) of the PDF in bytes/len as PNG: from the cache
 * directory cache_dir (NULL: no cache) when there, else rendered by the
 * worker and stored. Returns 0 with *png (malloc'ed) and *png_len; 1 with
 * *err (malloc'ed) when the document or page cannot be rendered (not a PDF,
 * no such page, over the budget: the text says which); -1 out of memory.
 * *n_pages: the page count when known, else -1. Thread-safe: each call has
 * its own worker; concurrent renders of one page both render, the cache
 * file is replaced atomically. */
int bp_page_render(const void *bytes, size_t len, int page, const bp_render_budget *b,
                   const char *cache_dir, unsigned char **png, size_t *png_len, int *n_pages,
                   char **err);

/* Removes the PNGs of cache_dir not read for BP_PAGE_CACHE_DAYS (by their
 * modification time, which a cache hit renews). bp_page_render calls it at
 * most once an hour per process, after a render. Any thread. */
void bp_page_cache_prune(const char *cache_dir);

/* The worker's path: $BP_PDF_WORKER, else the build tree's when this
 * library runs from its build tree, else the installed one beside the
 * plugins. Static storage. */
const char *bp_page_worker_path(void);

#endif
