/* libFuzzer target for PDF text (issue 16 #9): any byte string goes through
 * the PDF worker's own extraction (pdf_worker_doc, the code bp-pdf-text runs
 * on its stdin, in mode "words": poppler, the words and their boxes, page
 * sizes, the scan test) into a memory stream, and the records it writes are
 * read back by the bus's own reader (pdf_text_from_reply, as pdf_text_read
 * reads a worker). Whatever the input, the reply must be well formed: a
 * reason or pages, never "an unreadable reply"; one words array and one size
 * per page read; valid UTF-8 in every page; never a crash or a leak.
 *
 * Budget: inputs over 64 KiB are not read (make fuzz passes -max_len=65536),
 * at most 4 pages, and libFuzzer's -timeout for one input (10 s in make
 * fuzz): in the bus the worker's RLIMIT_CPU and wall clock bound the rest.
 * OCR is a stand-in that "reads" every page without a text layer as the word
 * "scan": Tesseract would spend its seconds per input on rendering, which is
 * not this target's parser; the scan test and the OCR branch of the page
 * loop stay in.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   build-fuzz/tests/fuzz/fuzz_pdf_text -max_len=65536 tests/fuzz/corpus/pdf_text
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "pdf_text.h"
#include "pdf_worker.h"

#define FUZZ_PDF_MAX_LEN (64 << 10)
#define FUZZ_PDF_PAGES 4

static int fuzz_ocr(void *page, char **words, char **text)
{
    (void)page;
    *words = strdup("[{\"t\":\"scan\",\"b\":[0.00,0.00,1.00,1.00]}]");
    *text = strdup("scan");
    if (*words == NULL || *text == NULL) {
        free(*words);
        free(*text);
        *words = *text = NULL;
        return -1;
    }
    return 0;
}

static void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_pdf_text: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_PDF_MAX_LEN)
        return 0;
    char *reply = NULL;
    size_t reply_len = 0;
    FILE *out = open_memstream(&reply, &reply_len);
    if (out == NULL)
        return 0;
    pdf_worker_doc(out, (const char *)data, size, 1, 0, FUZZ_PDF_PAGES, fuzz_ocr);
    if (fclose(out) != 0) {
        free(reply);
        return 0;
    }
    pdf_budget b = {.max_pages = FUZZ_PDF_PAGES, .positions = 1};
    pdf_text t;
    if (pdf_text_from_reply(reply, reply_len, &b, &t) != 0)
        fuzz_fail("the reply could not be read", NULL);
    free(reply);
    if (t.error) {
        if (t.pages || t.words || t.sizes || !*t.error)
            fuzz_fail("an error with pages, or an empty one", t.error);
        pdf_text_clear(&t);
        return 0;
    }
    if (t.truncated)
        fuzz_fail("the worker's reply was cut", t.truncated);
    int got = cJSON_GetArraySize(t.pages);
    int want = t.n_pages < FUZZ_PDF_PAGES ? t.n_pages : FUZZ_PDF_PAGES;
    if (t.n_pages < 0 || got != want)
        fuzz_fail("fewer pages than the document has", NULL);
    if (cJSON_GetArraySize(t.words) != got || cJSON_GetArraySize(t.sizes) != got)
        fuzz_fail("words or sizes not one per page", NULL);
    for (int i = 0; i < got; i++) {
        const cJSON *p = cJSON_GetArrayItem(t.pages, i);
        if (!cJSON_IsString(p) || !g_utf8_validate(p->valuestring, -1, NULL))
            fuzz_fail("a page's text is not UTF-8", NULL);
        const cJSON *w = cJSON_GetArrayItem(t.words, i), *word;
        if (!cJSON_IsArray(w))
            fuzz_fail("a page's words are not an array", NULL);
        cJSON_ArrayForEach(word, w) {
            const cJSON *tx = cJSON_GetObjectItemCaseSensitive(word, "t");
            const cJSON *bx = cJSON_GetObjectItemCaseSensitive(word, "b");
            if (!cJSON_IsString(tx) || !*tx->valuestring || cJSON_GetArraySize(bx) != 4)
                fuzz_fail("a word without text or four box numbers", NULL);
        }
        const cJSON *s = cJSON_GetArrayItem(t.sizes, i);
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "w")) ||
            !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "h")) ||
            !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(s, "ocr")))
            fuzz_fail("a page size is not {w, h, ocr}", NULL);
    }
    pdf_text_clear(&t);
    return 0;
}
