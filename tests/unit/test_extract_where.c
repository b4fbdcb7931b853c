/* extract_where (issue 15): where a field's value was read — a page and box
 * for PDF words, a span into the text for mail or plain text. The real-data
 * part reads the invoices of ../shared/data/invoices-real (when present) with
 * poppler, predicts with the shipped invoices model and checks that every
 * located field's box covers words that spell the value. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../../plugins/extract/extract_where.h"
#include "../../plugins/extract/extract_model.h"
#include "../../plugins/extract/extract_cand.h"
#include "pdf_text.h"

static void text_doc(void)
{
    /* Two source texts; lines trimmed, empty lines skipped, as the transform reads them. */
    const char *t0 = "ACME GmbH\n\n  Rechnung Nr. R-17  \nGesamt: 1.190,00 \xe2\x82\xac\n";
    ex_doc d;
    ex_doc_init(&d);
    ex_origin org[8];
    size_t n = 0;
    const char *p = t0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p), lead = 0;
        while (lead < len && p[lead] == ' ')
            lead++;
        size_t before = d.n;
        ex_doc_add(&d, p, len, NULL);
        if (d.n > before)
            org[n++] = (ex_origin){.src = 0, .off = (size_t)(p - t0) + lead};
        p += len + (nl != NULL);
    }
    ex_doc_finish(&d);
    CHECK_INT((long long)n, 3);
    const char *texts[] = {t0}, *paths[] = {"data.doc"};
    cJSON *w = ex_where(&d, org, texts, paths, "R-17");
    char *s = w ? cJSON_PrintUnformatted(w) : NULL;
    /* "R-17" starts at byte 26 of t0: "ACME GmbH\n\n  Rechnung Nr. " */
    CHECK_STR(s, "{\"path\":\"data.doc\",\"span\":[26,30]}");
    free(s);
    cJSON_Delete(w);
    /* after the euro sign (3 bytes, 1 code point) spans count code points */
    w = ex_where(&d, org, texts, paths, "1.190,00 \xe2\x82\xac");
    s = w ? cJSON_PrintUnformatted(w) : NULL;
    CHECK_STR(s, "{\"path\":\"data.doc\",\"span\":[41,51]}");
    free(s);
    cJSON_Delete(w);
    /* a value over two lines (an address: lines joined by one space) */
    w = ex_where(&d, org, texts, paths, "ACME GmbH Rechnung");
    s = w ? cJSON_PrintUnformatted(w) : NULL;
    CHECK_STR(s, "{\"path\":\"data.doc\",\"span\":[0,21]}");
    free(s);
    cJSON_Delete(w);
    CHECK(ex_where(&d, org, texts, paths, "not there") == NULL);
    ex_doc_free(&d);
}

static void paged_doc(void)
{
    ex_doc d;
    ex_doc_init(&d);
    d.n_pages = 2;
    d.page_w[0] = d.page_w[1] = 600;
    d.page_h[0] = d.page_h[1] = 800;
    cJSON *p0 = cJSON_Parse("[{\"t\":\"Invoice\",\"b\":[60,80,120,92]},{\"t\":\"INV-9\",\"b\":[300,80,360,92]}]");
    cJSON *p1 = cJSON_Parse("[{\"t\":\"Total\",\"b\":[60,400,110,412]},{\"t\":\"42.00\",\"b\":[480,400,540,412]}]");
    CHECK(ex_doc_add_words(&d, p0, 0) == 0);
    CHECK(ex_doc_add_words(&d, p1, 1) == 0);
    ex_doc_finish(&d);
    cJSON *w = ex_where(&d, NULL, NULL, NULL, "42.00");
    char *s = w ? cJSON_PrintUnformatted(w) : NULL;
    /* page 2 (1-based), box relative to that page: 480/600, 400/800, ... */
    CHECK_STR(s, "{\"page\":2,\"box\":[0.8,0.5,0.9,0.515]}");
    free(s);
    cJSON_Delete(w);
    w = ex_where(&d, NULL, NULL, NULL, "INV-9");
    s = w ? cJSON_PrintUnformatted(w) : NULL;
    CHECK_STR(s, "{\"page\":1,\"box\":[0.5,0.1,0.6,0.115]}");
    free(s);
    cJSON_Delete(w);
    /* a value inside a line: with the page's words, the box of its words */
    cJSON *lay = cJSON_Parse("[{\"w\":600,\"h\":800,\"words\":[{\"t\":\"Invoice\",\"b\":[60,80,120,92]},"
                             "{\"t\":\"INV-9\",\"b\":[300,80,360,92]}]},"
                             "{\"w\":600,\"h\":800,\"words\":[{\"t\":\"Grand\",\"b\":[60,420,100,432]},"
                             "{\"t\":\"total\",\"b\":[104,420,130,432]},{\"t\":\"9800.00\",\"b\":[134,420,180,432]},"
                             "{\"t\":\"EUR\",\"b\":[184,420,204,432]}]}]");
    cJSON *p2 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(lay, 1), "words");
    CHECK(ex_doc_add_words(&d, p2, 1) == 0);
    ex_doc_finish(&d);
    w = ex_where_ex(&d, NULL, NULL, NULL, "9800.00", lay);
    s = w ? cJSON_PrintUnformatted(w) : NULL;
    CHECK_STR(s, "{\"page\":2,\"box\":[0.2233,0.525,0.3,0.54]}");
    free(s);
    cJSON_Delete(w);
    /* without the words: a share of the line's width by bytes (12 of 23) */
    w = ex_where(&d, NULL, NULL, NULL, "9800.00");
    s = w ? cJSON_PrintUnformatted(w) : NULL;
    CHECK_STR(s, "{\"page\":2,\"box\":[0.2252,0.525,0.2983,0.54]}");
    free(s);
    cJSON_Delete(w);
    cJSON_Delete(lay);
    cJSON_Delete(p0);
    cJSON_Delete(p1);
    ex_doc_free(&d);
}

/* The words of page `page` inside box (page-relative, with a little slack),
 * joined by spaces. */
static void words_in(const cJSON *words, double pw, double ph, const double *box, char *out,
                     size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (const cJSON *w = words->child; w; w = w->next) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(w, "b");
        double cy = (cJSON_GetArrayItem(b, 1)->valuedouble + cJSON_GetArrayItem(b, 3)->valuedouble) / 2 / ph;
        double x0 = cJSON_GetArrayItem(b, 0)->valuedouble / pw, x1 = cJSON_GetArrayItem(b, 2)->valuedouble / pw;
        /* a word belongs when its centre row is inside and it overlaps in x */
        if (cy >= box[1] - 0.002 && cy <= box[3] + 0.002 && x1 >= box[0] - 0.002 && x0 <= box[2] + 0.002)
            len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", len ? " " : "",
                                    cJSON_GetObjectItemCaseSensitive(w, "t")->valuestring);
        if (len >= n)
            len = n - 1;
    }
}

static void real_invoices(const char *srcdir)
{
    char dir[1024], model[1024];
    snprintf(dir, sizeof dir, "%s/../../shared/data/invoices-real/pdf", srcdir);
    snprintf(model, sizeof model, "%s/../plugins/extract/models/invoices.model", srcdir);
    DIR *dh = opendir(dir);
    if (dh == NULL) {
        printf("# %s absent: real-data part skipped\n", dir);
        return;
    }
    ex_model m;
    char err[256];
    if (!CHECK(ex_model_load(&m, model, err, sizeof err) == 0)) {
        closedir(dh);
        return;
    }
    ex_cands scratch = {0};
    int docs = 0, picked = 0, located = 0, covered = 0, exact = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        if (strstr(de->d_name, ".pdf") == NULL)
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        static unsigned char buf[8 << 20];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        pdf_budget b = {.max_pages = 8, .in_process = 1, .positions = 1};
        pdf_text t;
        if (pdf_text_read(buf, len, &b, &t) != 0 || t.error) {
            pdf_text_clear(&t);
            continue;
        }
        docs++;
        ex_doc d;
        ex_doc_init(&d);
        int np = cJSON_GetArraySize(t.sizes);
        d.n_pages = np < EX_MAX_PAGES ? np : EX_MAX_PAGES;
        for (int i = 0; i < d.n_pages; i++) {
            const cJSON *s = cJSON_GetArrayItem(t.sizes, i);
            d.page_w[i] = (float)cJSON_GetObjectItemCaseSensitive(s, "w")->valuedouble;
            d.page_h[i] = (float)cJSON_GetObjectItemCaseSensitive(s, "h")->valuedouble;
        }
        for (int i = 0; i < d.n_pages; i++)
            ex_doc_add_words(&d, cJSON_GetArrayItem(t.words, i), i);
        ex_doc_finish(&d);
        cJSON *lay = cJSON_CreateArray();
        for (int i = 0; i < d.n_pages; i++) {
            cJSON *pg = cJSON_CreateObject();
            cJSON_AddNumberToObject(pg, "w", d.page_w[i]);
            cJSON_AddNumberToObject(pg, "h", d.page_h[i]);
            cJSON_AddItemToObject(pg, "words", cJSON_Duplicate(cJSON_GetArrayItem(t.words, i), 1));
            cJSON_AddItemToArray(lay, pg);
        }
        for (int fld = 0; fld < EX_NFIELDS; fld++) {
            char *raw = NULL;
            float conf = 0;
            if (!m.has[fld] || ex_predict(&m, &d, fld, &scratch, &raw, &conf) != 0 || raw == NULL)
                continue;
            picked++;
            cJSON *w = ex_where_ex(&d, NULL, NULL, NULL, raw, lay);
            if (w) {
                located++;
                int page = (int)cJSON_GetObjectItemCaseSensitive(w, "page")->valuedouble - 1;
                double box[4];
                for (int k = 0; k < 4; k++)
                    box[k] = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "box"), k)->valuedouble;
                char got[4096];
                words_in(cJSON_GetArrayItem(t.words, page), d.page_w[page], d.page_h[page], box,
                         got, sizeof got);
                /* the value's first word is among the words inside its box */
                char first[256];
                snprintf(first, sizeof first, "%s", raw);
                char *sp = strchr(first, ' ');
                if (sp)
                    *sp = '\0';
                if (strstr(got, first))
                    covered++;
                int wg = 1, wr = 1;
                for (const char *c = got; *c; c++)
                    wg += *c == ' ';
                for (const char *c = raw; *c; c++)
                    wr += *c == ' ' && c[1] != ' ';
                if (strstr(got, raw) && wg <= wr)
                    exact++;
                else
                    printf("# %s %s: '%s' not in box words '%s'\n", de->d_name, ex_field_names[fld],
                           raw, got);
                cJSON_Delete(w);
            } else {
                printf("# %s %s: '%s' not located\n", de->d_name, ex_field_names[fld], raw);
            }
            free(raw);
        }
        cJSON_Delete(lay);
        ex_doc_free(&d);
        pdf_text_clear(&t);
    }
    closedir(dh);
    printf("# real invoices: %d documents, %d fields picked, %d located, %d boxes cover the value, "
           "%d hold its words and no others\n", docs, picked, located, covered, exact);
    CHECK(docs == 15);
    /* a few picks are not printed as such (a currency from the context) */
    CHECK(located * 10 >= picked * 9);
    CHECK(covered == located);
    /* a box holds the value's words and no others ("€99.00" is one word;
     * an address over lines of two columns takes the neighbour's words) */
    CHECK(exact * 10 >= located * 8);
    ex_cands_free(&scratch);
}

int main(void)
{
    text_doc();
    paged_doc();
    const char *src = getenv("BP_TEST_SRCDIR");
    real_invoices(src ? src : ".");
    return tap_done();
}
