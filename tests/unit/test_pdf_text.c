/* connectors/common/pdf_text.c: PDF text in the budgeted worker process
 * (bp-pdf-text, found through $BP_PDF_WORKER): text and word boxes, a
 * damaged file, a missing worker, and the three ways a PDF time bomb is
 * stopped (wall clock, RLIMIT_CPU, the caller's cancel), each within a
 * bound a person would notice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pdf_make.h"
#include "pdf_text.h"
#include "tap.h"

/* The time bomb: 200 pages sharing one stream of 100,000 tiny text runs. */
static void make_bomb(void)
{
    static const char run[] = "(a b ) Tj ";
    size_t n = 100000, len = 0;
    char *c = malloc(n * (sizeof(run) - 1) + 64);
    len += (size_t)sprintf(c, "BT /F1 0.01 Tf 10 10 Td ");
    for (size_t i = 0; i < n; i++, len += sizeof(run) - 1)
        memcpy(c + len, run, sizeof(run) - 1);
    strcpy(c + len, "ET");
    make_pdf(200, c);
    free(c);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long cancel_at;
static int cancel_after(void *ud)
{
    (void)ud;
    return now_ms() >= cancel_at;
}

static void test_text_and_words(void)
{
    make_pdf(2, "BT /F1 12 Tf 72 720 Td (Invoice 42) Tj ET");
    pdf_budget b = {.max_pages = 5, .wall_ms = 20000, .cpu_s = 10, .positions = 1};
    pdf_text t;
    CHECK_INT(pdf_text_read(pdf, pdf_len, &b, &t), 0);
    CHECK_INT(t.n_pages, 2);
    CHECK_INT(cJSON_GetArraySize(t.pages), 2);
    const char *page0 = cJSON_GetStringValue(cJSON_GetArrayItem(t.pages, 0));
    char *p0 = page0 ? strdup(page0) : NULL;
    CHECK(p0 && strstr(p0, "Invoice 42") != NULL);
    CHECK_STR(t.truncated, NULL);
    CHECK_STR(t.error, NULL);
    cJSON *w = cJSON_GetArrayItem(t.words, 0);
    CHECK_INT(cJSON_GetArraySize(w), 2);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(w, 0), "t")), "Invoice");
    cJSON *box = cJSON_GetObjectItem(cJSON_GetArrayItem(w, 0), "b");
    double x1 = cJSON_GetArrayItem(box, 0)->valuedouble, y1 = cJSON_GetArrayItem(box, 1)->valuedouble;
    double x2 = cJSON_GetArrayItem(box, 2)->valuedouble, y2 = cJSON_GetArrayItem(box, 3)->valuedouble;
    /* 72 pt from the left; the baseline 720 pt up is 72 pt from the top. */
    CHECK(x1 > 71 && x1 < 73 && x2 > x1 + 20 && x2 < x1 + 60);
    CHECK(y1 > 55 && y1 < 75 && y2 > y1 && y2 < 80);
    pdf_text_clear(&t);

    pdf_budget local = {.max_pages = 1, .in_process = 1};
    CHECK_INT(pdf_text_read(pdf, pdf_len, &local, &t), 0);
    CHECK_INT(cJSON_GetArraySize(t.pages), 1);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(t.pages, 0)), p0 ? p0 : "");
    CHECK(t.words == NULL);
    pdf_text_clear(&t);
    free(p0);
}

static void test_failures(void)
{
    pdf_budget b = {.max_pages = 5, .wall_ms = 20000};
    pdf_text t;
    CHECK_INT(pdf_text_read("not a pdf at all", 16, &b, &t), 0);
    CHECK_STR(t.error, "PDF document is damaged");
    CHECK(t.pages == NULL);
    pdf_text_clear(&t);
    make_pdf(1, "BT ET");
    b.worker = "/nonexistent/bp-pdf-text";
    CHECK_INT(pdf_text_read(pdf, pdf_len, &b, &t), 0);
    CHECK_STR(t.error, "cannot run the PDF worker /nonexistent/bp-pdf-text: No such file or directory");
    pdf_text_clear(&t);
}

static void test_bomb(void)
{
    make_bomb();
    pdf_text t;
    pdf_budget wall = {.max_pages = 200, .wall_ms = 300};
    long long t0 = now_ms();
    CHECK_INT(pdf_text_read(pdf, pdf_len, &wall, &t), 0);
    long long ms = now_ms() - t0;
    CHECK_STR(t.truncated, "time limit (300 ms) reached after 0 of 200 pages");
    CHECK_INT(t.n_pages, 200);
    printf("# wall clock limit: back after %lld ms\n", ms);
    CHECK(ms < 1500);
    pdf_text_clear(&t);

    pdf_budget cpu = {.max_pages = 200, .wall_ms = 60000, .cpu_s = 1};
    t0 = now_ms();
    CHECK_INT(pdf_text_read(pdf, pdf_len, &cpu, &t), 0);
    ms = now_ms() - t0;
    CHECK_STR(t.truncated, "CPU limit (1 s) reached after 0 of 200 pages");
    printf("# RLIMIT_CPU 1 s: back after %lld ms\n", ms);
    CHECK(ms < 20000);
    pdf_text_clear(&t);

    cancel_at = now_ms() + 200;
    pdf_budget stop = {.max_pages = 200, .wall_ms = 60000, .cancelled = cancel_after};
    t0 = now_ms();
    CHECK_INT(pdf_text_read(pdf, pdf_len, &stop, &t), 0);
    ms = now_ms() - t0;
    CHECK_INT(t.cancelled, 1);
    CHECK_STR(t.truncated, NULL);
    printf("# cancelled at 200 ms: back after %lld ms\n", ms);
    CHECK(ms < 1000);
    pdf_text_clear(&t);
}

/* issue 19: page sizes with the words, and one worker kept for many
 * documents, each under its own budget. */
static void test_session(void)
{
    make_pdf(1, "BT /F1 12 Tf 72 720 Td (Total 119,00 EUR) Tj ET");
    char *good = malloc(pdf_len);
    size_t good_len = pdf_len;
    memcpy(good, pdf, pdf_len);
    pdf_budget b = {.max_pages = 5, .wall_ms = 20000, .cpu_s = 1, .positions = 1};
    pdf_text t;
    CHECK_INT(pdf_text_read(good, good_len, &b, &t), 0);
    cJSON *size = cJSON_GetArrayItem(t.sizes, 0);
    CHECK_INT(cJSON_GetArraySize(t.sizes), 1);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(size, "w")) == 612);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(size, "h")) == 792);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(size, "ocr")));
    pdf_text_clear(&t);

    pdf_session *s = pdf_session_new(NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(pdf_session_read(s, good, good_len, &b, &t), 0);
        CHECK_STR(t.truncated, NULL);
        cJSON *w = cJSON_GetArrayItem(t.words, 0);
        CHECK_INT(cJSON_GetArraySize(w), 3);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(w, 2), "t")), "EUR");
        pdf_text_clear(&t);
    }
    CHECK_INT(pdf_session_read(s, "not a pdf at all", 16, &b, &t), 0);
    CHECK_STR(t.error, "PDF document is damaged");
    pdf_text_clear(&t);
    /* A bomb spends its own second of CPU, not the session's: the worker is
     * killed, and the next document gets a new one. */
    make_bomb();
    pdf_budget cpu = {.max_pages = 200, .wall_ms = 60000, .cpu_s = 1, .positions = 1};
    CHECK_INT(pdf_session_read(s, pdf, pdf_len, &cpu, &t), 0);
    CHECK_STR(t.truncated, "CPU limit (1 s) reached after 0 of 200 pages");
    pdf_text_clear(&t);
    CHECK_INT(pdf_session_read(s, good, good_len, &b, &t), 0);
    CHECK_STR(t.truncated, NULL);
    CHECK_INT(cJSON_GetArraySize(t.pages), 1);
    pdf_text_clear(&t);
    pdf_budget wall = {.max_pages = 200, .wall_ms = 300, .positions = 1};
    CHECK_INT(pdf_session_read(s, pdf, pdf_len, &wall, &t), 0);
    CHECK_STR(t.truncated, "time limit (300 ms) reached after 0 of 200 pages");
    pdf_text_clear(&t);
    CHECK_INT(pdf_session_read(s, good, good_len, &b, &t), 0);
    CHECK_INT(cJSON_GetArraySize(t.pages), 1);
    pdf_text_clear(&t);
    pdf_session_free(s);
    free(good);
}

int main(void)
{
    test_text_and_words();
    test_failures();
    test_bomb();
    test_session();
    free(pdf);
    return tap_done();
}
