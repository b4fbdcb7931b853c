/* core/page_render.c (issue 15): a PDF page as PNG through the budgeted
 * worker (bp-pdf-text render, $BP_PDF_WORKER), cached 0600 by content, page
 * and size; a damaged file, a page out of range, and a PDF time bomb stopped
 * by the CPU limit and by the wall clock, each within a bound a person
 * would notice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "page_render.h"
#include "pdf_make.h"
#include "tap.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void test_render_and_cache(const char *dir)
{
    make_pdf(2, "BT /F1 24 Tf 72 700 Td (Invoice 42 total 9800.00) Tj ET");
    bp_render_budget b = BP_RENDER_DEFAULTS;
    b.max_px = 800;
    unsigned char *png = NULL;
    size_t len = 0;
    int np = 0;
    char *err = NULL;
    CHECK_INT(bp_page_render(pdf, pdf_len, 2, &b, dir, &png, &len, &np, &err), 0);
    CHECK(err == NULL);
    CHECK_INT(np, 2);
    CHECK(len > 100 && png && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    /* 612 x 792 points, the longer side at 800 px: 618 x 800 (IHDR, big-endian) */
    unsigned w = png ? (unsigned)png[16] << 24 | png[17] << 16 | png[18] << 8 | png[19] : 0;
    unsigned h = png ? (unsigned)png[20] << 24 | png[21] << 16 | png[22] << 8 | png[23] : 0;
    CHECK_INT(w, 618);
    CHECK_INT(h, 800);
    /* cached: one file, 0600, in a 0700 directory */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int files = 0;
    if (p) {
        if (fscanf(p, "%d", &files) != 1)
            files = -1;
        pclose(p);
    }
    CHECK_INT(files, 1);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    snprintf(cmd, sizeof cmd, "stat -c %%a %s/*-p2-800px.png", dir);
    p = popen(cmd, "r");
    int mode = 0;
    if (p) {
        if (fscanf(p, "%o", &mode) != 1)
            mode = -1;
        pclose(p);
    }
    CHECK_INT(mode, 0600);
    /* a second render reads the cache: no worker runs (np stays unknown) */
    unsigned char *png2 = NULL;
    size_t len2 = 0;
    CHECK_INT(bp_page_render(pdf, pdf_len, 2, &b, dir, &png2, &len2, &np, &err), 0);
    CHECK_INT(np, -1);
    CHECK(len2 == len && png2 && memcmp(png, png2, len) == 0);
    free(png);
    free(png2);
    /* another size is another file */
    b.max_px = 400;
    CHECK_INT(bp_page_render(pdf, pdf_len, 2, &b, dir, &png, &len, &np, &err), 0);
    free(png);
    /* a page nobody read for over BP_PAGE_CACHE_DAYS goes at a prune */
    snprintf(cmd, sizeof cmd, "touch -d '-8 days' %s/*-p2-800px.png", dir);
    CHECK(system(cmd) == 0);
    bp_page_cache_prune(dir);
    snprintf(cmd, sizeof cmd, "ls %s", dir);
    p = popen(cmd, "r");
    char names[512] = "";
    size_t nl = p ? fread(names, 1, sizeof names - 1, p) : 0;
    names[nl] = '\0';
    if (p)
        pclose(p);
    CHECK(strstr(names, "-p2-400px.png") != NULL);
    CHECK(strstr(names, "-p2-800px.png") == NULL);
    /* no such page */
    CHECK_INT(bp_page_render(pdf, pdf_len, 3, &b, dir, &png, &len, &np, &err), 1);
    CHECK_STR(err, "no page 3: the document has 2");
    free(err);
    err = NULL;
    /* not a PDF */
    CHECK_INT(bp_page_render("hello", 5, 1, &b, NULL, &png, &len, &np, &err), 1);
    CHECK(err != NULL && err[0] != '\0');
    printf("# not a PDF: %s\n", err ? err : "");
    free(err);
}


/* A rendering bomb: a page drawing form X8, each form Xk drawing X(k-1)
 * twelve times: 12^8 (4 x 10^8) rectangle fills from 2 KiB of PDF. Text
 * extraction never looks inside; rendering does. */
static void make_render_bomb(void)
{
    pdf_len = 0;
    size_t off[32];
    int n = 0;
    char buf[1024], body[512];
    puts_("%PDF-1.4\n");
    off[n++] = pdf_len;
    puts_("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    off[n++] = pdf_len;
    puts_("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
    off[n++] = pdf_len;
    puts_("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
          "<< /XObject << /X 12 0 R >> >> /Contents 4 0 R >>\nendobj\n");
    off[n++] = pdf_len;
    puts_("4 0 obj\n<< /Length 6 >>\nstream\n/X Do\nendstream\nendobj\n");
    /* X0 (object 13): one rectangle; Xk (object 4 + k, k = 1..8) draws X(k-1) 12 times */
    for (int k = 1; k <= 8; k++) {
        size_t bl = 0;
        for (int i = 0; i < 12; i++)
            bl += (size_t)snprintf(body + bl, sizeof body - bl, "q 0.9 0 0 0.9 %d %d cm /Y Do Q\n", i, i);
        off[n++] = pdf_len;
        snprintf(buf, sizeof buf,
                 "%d 0 obj\n<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources "
                 "<< /XObject << /Y %d 0 R >> >> /Length %zu >>\nstream\n%s\nendstream\nendobj\n",
                 4 + k, k == 1 ? 13 : 4 + k - 1, bl, body);
        puts_(buf);
    }
    off[n++] = pdf_len;
    puts_("13 0 obj\n<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Length 16 >>\nstream\n"
          "0 0 300 300 re f\nendstream\nendobj\n");
    size_t xref = pdf_len;
    snprintf(buf, sizeof buf, "xref\n0 %d\n0000000000 65535 f \n", n + 1);
    puts_(buf);
    for (int i = 0; i < n; i++) {
        snprintf(buf, sizeof buf, "%010zu 00000 n \n", off[i]);
        puts_(buf);
    }
    snprintf(buf, sizeof buf, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", n + 1, xref);
    puts_(buf);
}

static void test_bomb(void)
{
    make_render_bomb();
    bp_render_budget b = BP_RENDER_DEFAULTS;
    b.cpu_s = 1;
    b.wall_ms = 20000;
    unsigned char *png = NULL;
    size_t len = 0;
    int np = 0;
    char *err = NULL;
    long long t0 = now_ms();
    int rc = bp_page_render(pdf, pdf_len, 1, &b, NULL, &png, &len, &np, &err);
    long long took = now_ms() - t0;
    CHECK_INT(rc, 1);
    CHECK_STR(err, "page 1: the CPU limit (1 s) was reached");
    printf("# bomb under a 1 s CPU limit: %lld ms\n", took);
    /* The CPU limit, not the 20 s wall clock, ended it (the wall time a
     * second of CPU takes depends on the machine's load: 1.5 s alone, 5 s
     * under ASan beside two other tests on two cores). */
    CHECK(took < 12000);
    free(err);
    err = NULL;
    b.cpu_s = 0;
    b.wall_ms = 500;
    t0 = now_ms();
    rc = bp_page_render(pdf, pdf_len, 1, &b, NULL, &png, &len, &np, &err);
    took = now_ms() - t0;
    CHECK_INT(rc, 1);
    CHECK_STR(err, "page 1: the time limit (500 ms) was reached");
    printf("# bomb under a 500 ms wall clock: %lld ms\n", took);
    CHECK(took < 1500);
    free(err);
}

int main(void)
{
    char dir[] = "/tmp/bp-page-render-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char cache[64];
    snprintf(cache, sizeof cache, "%s/pages", dir);
    test_render_and_cache(cache);
    test_bomb();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    free(pdf);
    return tap_done();
}
