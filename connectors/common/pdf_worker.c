/* bp-pdf-text: the PDF worker process of pdf_text.c. Reads a PDF on stdin,
 * writes its text on stdout as records, and flushes after each:
 *   N<page count>\n           once the document is open
 *   P<len>\n<len bytes>       the UTF-8 text of the next page
 *   E<len>\n<len bytes>       the PDF cannot be opened (why)
 *   W<len>\n<len bytes>       mode "words": the next page's words and boxes as
 *                             JSON, before its P record
 *   S<len>\n<len bytes>       mode "words" and "image": the next page's size,
 *                             {"w": points, "h": points, "ocr": bool}, before W
 * Mode "image": stdin is a PNG, JPEG or TIFF, read by Tesseract as one page
 * (S, W, P; sizes in pixels). In mode "words" a page without a text layer is
 * rendered (cairo) and read by Tesseract (issue 19), when built with it.
 * Mode "serve" (issue 19) keeps the process for many documents: stdin holds
 * requests "MODE MAX_PAGES CPU_SECONDS LEN\n<LEN bytes>", each answered by the
 * records of that mode and "Z0\n"; RLIMIT_CPU is raised by CPU_SECONDS over
 * what the process has used before each document, so each has its budget.
 * Mode "render" (issue 15): `bp-pdf-text render PAGE CPU_SECONDS MAX_PX
 * MEMORY_MB`: page PAGE (1-based) of the PDF on stdin as PNG, its longer side
 * at most MAX_PX pixels, under RLIMIT_CPU and an address-space limit:
 *   N<page count>\n  G<len>\n<len bytes of PNG>   or   E<len>\n<why>
 * Usage: bp-pdf-text text|words|image|serve MAX_PAGES CPU_SECONDS. Run by pdf_text_read(), not
 * by people; it exists so that poppler, which cannot be interrupted, runs
 * where RLIMIT_CPU and a kill can stop it. Another mode (a page as PNG)
 * would be another first argument and record letter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pdf_text.h"
#include "pdf_worker.h"
#ifdef BP_HAVE_RENDER
#include "pdf_render.h"
#endif
#ifdef BP_HAVE_OCR
#include "pdf_ocr.h"
#define WORKER_OCR pdf_ocr_page
#else
#define WORKER_OCR NULL
#endif

/* The record writers: ud is the FILE the records go to (stdout in the
 * worker, a memory stream in the fuzz target). */
static int worker_count(void *ud, int n)
{
    fprintf(ud, "N%d\n", n);
    return fflush(ud) != 0;
}

static int worker_words(void *ud, int index, const char *json, size_t len)
{
    (void)index;
    fprintf(ud, "W%zu\n", len);
    fwrite(json, 1, len, ud);
    return 0;   /* flushed with the page that follows */
}

static int worker_size(void *ud, int index, double w, double h, int ocr)
{
    (void)index;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "{\"w\":%.2f,\"h\":%.2f,\"ocr\":%s}", w, h,
                     ocr ? "true" : "false");
    fprintf(ud, "S%d\n%s", n, buf);
    return 0;
}

static int worker_page(void *ud, int index, const char *text, size_t len)
{
    (void)index;
    fprintf(ud, "P%zu\n", len);
    fwrite(text, 1, len, ud);
    return fflush(ud) != 0;
}

void pdf_worker_doc(FILE *out, const char *buf, size_t len, int words, int image, int max_pages,
                    int (*ocr)(void *page, char **words, char **text))
{
    char *err = NULL;
    if (image) {
#ifdef BP_HAVE_OCR
        int w = 0, h = 0;
        char *wj = NULL, *text = NULL;
        if (pdf_ocr_image(buf, len, &w, &h, &wj, &text) == 0) {
            worker_count(out, 1);
            worker_size(out, 0, w, h, 1);
            worker_words(out, 0, wj, strlen(wj));
            worker_page(out, 0, text, strlen(text));
        } else {
            err = strdup("not an image Tesseract can read (PNG, JPEG, TIFF), or no OCR language data");
        }
        free(wj);
        free(text);
#else
        err = strdup("this build has no OCR (Tesseract)");
#endif
    } else {
        const pdf_page_cbs cb = {.on_count = worker_count, .on_page = worker_page,
                                 .on_words = words ? worker_words : NULL,
                                 .on_size = words ? worker_size : NULL,
                                 .ocr = words ? ocr : NULL};
        if (pdf_text_each_page_cbs(buf, len, max_pages, &cb, out, &err) < 0 && err == NULL)
            err = strdup("not a PDF");
    }
    if (err) {
        fprintf(out, "E%zu\n%s", strlen(err), err);
        fflush(out);
    }
    free(err);
}

#ifndef BP_PDF_WORKER_NO_MAIN
/* ---- the process (the fuzz target compiles this file without it) ---- */

static int worker_cpu_budget(long cpu)
{
    struct rlimit cur;
    if (getrlimit(RLIMIT_CPU, &cur) != 0)
        return -1;
    struct rlimit rl = {.rlim_cur = cur.rlim_max, .rlim_max = cur.rlim_max};
    if (cpu > 0) {
        /* SIGXCPU (it kills) once this document has used cpu seconds more
         * than the process had before it. */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        rlim_t want = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1 + cpu);
        rl.rlim_cur = cur.rlim_max == RLIM_INFINITY || want < cur.rlim_max ? want : cur.rlim_max;
    }
    return setrlimit(RLIMIT_CPU, &rl);
}

/* Reads exactly len bytes from stdin; 0 ok, -1 EOF or error. */
static int worker_read_all(char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = read(0, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int worker_serve(void)
{
    char head[128];
    for (;;) {
        size_t hl = 0;
        for (;;) {
            if (hl + 1 >= sizeof head)
                return 7;
            ssize_t n = read(0, head + hl, 1);
            if (n <= 0)
                return hl == 0 ? 0 : 5;   /* EOF between documents: done */
            if (head[hl] == '\n')
                break;
            hl++;
        }
        head[hl] = '\0';
        char mode[16];
        int max_pages;
        long cpu;
        size_t len;
        if (sscanf(head, "%15s %d %ld %zu", mode, &max_pages, &cpu, &len) != 4 ||
            len > ((size_t)1 << 30))
            return 7;
        char *buf = malloc(len ? len : 1);
        if (buf == NULL)
            return 4;
        if (worker_read_all(buf, len) != 0) {
            free(buf);
            return 5;
        }
        if (worker_cpu_budget(cpu) != 0) {
            free(buf);
            return 3;
        }
        pdf_worker_doc(stdout, buf, len, strcmp(mode, "words") == 0, strcmp(mode, "image") == 0,
                       max_pages, WORKER_OCR);
        free(buf);
        printf("Z0\n");
        if (fflush(stdout) != 0)
            return 5;
    }
}

/* Reads all of stdin; NULL when out of memory or a read fails. */
static char *worker_slurp(size_t *out_len)
{
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            return NULL;
        if (len == cap) {
            cap *= 2;
            char *b = realloc(buf, cap);
            if (b == NULL) {
                free(buf);
                return NULL;
            }
            buf = b;
        }
        ssize_t n = read(0, buf + len, cap - len);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *out_len = len;
    return buf;
}

/* bp-pdf-text render PAGE CPU_SECONDS MAX_PX MEMORY_MB (issue 15). */
static int worker_render(char **argv)
{
    int page = atoi(argv[2]), max_px = atoi(argv[4]);
    long cpu = atol(argv[3]), mem_mb = atol(argv[5]);
    if (page < 1 || max_px < 16 || max_px > 8192)
        return 2;
    if (cpu > 0) {
        struct rlimit rl = {.rlim_cur = (rlim_t)cpu, .rlim_max = (rlim_t)cpu + 1};
        if (setrlimit(RLIMIT_CPU, &rl) != 0)
            return 3;
    }
#if !defined(__SANITIZE_ADDRESS__)
    /* The memory budget: a page that asks poppler or cairo for more fails
     * there (ASan reserves terabytes of address space, so not under it). */
    if (mem_mb > 0) {
        struct rlimit rl = {.rlim_cur = (rlim_t)mem_mb << 20, .rlim_max = (rlim_t)mem_mb << 20};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            return 3;
    }
#else
    (void)mem_mb;
#endif
    size_t len = 0;
    char *buf = worker_slurp(&len);
    if (buf == NULL)
        return 4;
#ifdef BP_HAVE_RENDER
    unsigned char *png = NULL;
    size_t png_len = 0;
    int n_pages = 0;
    char *err = NULL;
    int rc = pdf_render_png(buf, len, page - 1, max_px, &png, &png_len, &n_pages, &err);
    if (n_pages > 0)
        printf("N%d\n", n_pages);
    if (rc == 0) {
        printf("G%zu\n", png_len);
        fwrite(png, 1, png_len, stdout);
    } else {
        printf("E%zu\n%s", strlen(err ? err : "out of memory"), err ? err : "out of memory");
    }
    free(png);
    free(err);
#else
    static const char no[] = "this build has no page rendering (cairo)";
    printf("E%zu\n%s", strlen(no), no);
#endif
    free(buf);
    return fflush(stdout) != 0 ? 5 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "render") == 0) {
        pid_t parent = getppid();
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            return 6;
        return worker_render(argv);
    }
    int words = argc == 4 && strcmp(argv[1], "words") == 0;
    int image = argc == 4 && strcmp(argv[1], "image") == 0;
    int serve = argc == 4 && strcmp(argv[1], "serve") == 0;
    if (argc != 4 || (strcmp(argv[1], "text") != 0 && !words && !image && !serve)) {
        fprintf(stderr, "usage: bp-pdf-text text|words|image|serve MAX_PAGES CPU_SECONDS (run by the bus)\n");
        return 2;
    }
    /* Dies with the bus's thread that waits for it, even when the bus is
     * killed (SIGKILL gives the bus no chance to kill this process). */
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        return 6;
    if (serve) {
        int rc = worker_serve();
#ifdef BP_HAVE_OCR
        pdf_ocr_end();
#endif
        return rc;
    }
    int max_pages = atoi(argv[2]);
    long cpu = atol(argv[3]);
    if (cpu > 0) {
        /* Soft limit: SIGXCPU; one second later the hard limit's SIGKILL. */
        struct rlimit rl = {.rlim_cur = (rlim_t)cpu, .rlim_max = (rlim_t)cpu + 1};
        if (setrlimit(RLIMIT_CPU, &rl) != 0)
            return 3;
    }
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            return 4;
        if (len == cap) {
            cap *= 2;
            char *b = realloc(buf, cap);
            if (b == NULL)
                return 4;
            buf = b;
        }
        ssize_t n = read(0, buf + len, cap - len);
        if (n < 0)
            return 5;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    pdf_worker_doc(stdout, buf, len, words, image, max_pages, WORKER_OCR);
    free(buf);
#ifdef BP_HAVE_OCR
    pdf_ocr_end();
#endif
    return 0;
}
#endif
