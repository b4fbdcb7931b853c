/* extract_read: files into ex_doc. See extract_read.h. */
#include "extract_read.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "pdf_text.h"
#include "mime_envelope.h"

/* Larger files are refused: an invoice is kilobytes to a few megabytes. */
#define EX_MAX_FILE (256u << 20)

static int ex_add_text(ex_doc *d, const char *p);

static void ex_budget(pdf_budget *b, const ex_read_opts *o)
{
    memset(b, 0, sizeof *b);
    b->max_pages = o->max_pages;
    b->wall_ms = o->timeout_ms;
    b->cpu_s = o->timeout_ms > 0 ? (int)((o->timeout_ms + 999) / 1000) : 0;
    b->positions = 1;
}

/* A PDF (image: 0) or an image (1) through the worker. */
static int ex_read_pdf(ex_doc *d, const unsigned char *bytes, size_t len, int image,
                       const ex_read_opts *o, char *err, size_t errlen, char *warn,
                       size_t warnlen)
{
    pdf_budget b;
    ex_budget(&b, o);
    b.image = image;
    b.positions = !o->text_only || image;
    pdf_text t;
    if ((o->session ? pdf_session_read(o->session, bytes, len, &b, &t)
                    : pdf_text_read(bytes, len, &b, &t)) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!b.positions && t.error == NULL) {
        int rc = 0;
        for (const cJSON *pg = t.pages ? t.pages->child : NULL; pg && rc == 0; pg = pg->next)
            rc = ex_add_text(d, cJSON_GetStringValue(pg));
        pdf_text_clear(&t);
        snprintf(d->source, sizeof d->source, "pdf");
        if (rc != 0)
            snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (t.error) {
        snprintf(err, errlen, "cannot read the %s: %s", image ? "image" : "PDF", t.error);
        pdf_text_clear(&t);
        return -1;
    }
    if (t.truncated && warn)
        snprintf(warn, warnlen, "%s", t.truncated);
    int ocr = 0, np = cJSON_GetArraySize(t.sizes);
    d->n_pages = np < EX_MAX_PAGES ? np : EX_MAX_PAGES;
    for (int i = 0; i < d->n_pages; i++) {
        const cJSON *s = cJSON_GetArrayItem(t.sizes, i);
        d->page_w[i] = (float)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "w"));
        d->page_h[i] = (float)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "h"));
        ocr |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "ocr"));
    }
    int rc = 0, page = 0;
    for (const cJSON *pw = t.words ? t.words->child : NULL; pw && rc == 0; pw = pw->next, page++)
        rc = ex_doc_add_words(d, pw, page);
    pdf_text_clear(&t);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(d->source, sizeof d->source, "%s", ocr ? "ocr" : "pdf");
    return 0;
}

static int ex_add_text(ex_doc *d, const char *p)
{
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (ex_doc_add(d, p, len, NULL) != 0)
            return -1;
        p += len + (nl != NULL);
    }
    return 0;
}

static int ex_is_pdf(const unsigned char *b, size_t len)
{
    /* The header may follow up to 1 KiB of junk (as readers accept). */
    for (size_t i = 0; i + 5 <= len && i < 1024; i++)
        if (memcmp(b + i, "%PDF-", 5) == 0)
            return 1;
    return 0;
}

static int ex_is_image(const unsigned char *b, size_t len)
{
    return (len > 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) ||
           (len > 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) ||
           (len > 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0));
}

static int ex_has_ext(const char *name, const char *ext)
{
    size_t n = name ? strlen(name) : 0, e = strlen(ext);
    return n > e && strcasecmp(name + n - e, ext) == 0;
}

/* Mail as the mail sources read it: its PDFs (the first one with lines),
 * else its images, else its body. */
static int ex_read_mail(ex_doc *d, const unsigned char *bytes, size_t len, const ex_read_opts *o,
                        char *err, size_t errlen, char *warn, size_t warnlen)
{
    mime_library_init();
    /* PDF text is read here with positions, not by mime_parse (max_pdf_pages 0). */
    mime_limits lim = {.max_message = EX_MAX_FILE, .max_attachment = EX_MAX_FILE,
                       .max_pdf_pages = 0, .pdf_isolated = 1, .max_pdfs = 0,
                       .max_parts = 1000};
    mime_message m;
    char *reason = NULL;
    bp_status st = mime_parse(bytes, len, &lim, &m, &reason);
    if (st != BP_OK) {
        snprintf(err, errlen, "not a mail message: %s", reason ? reason : "cannot parse");
        free(reason);
        return -1;
    }
    int rc = 1;   /* 1: nothing read yet */
    for (int pass = 0; pass < 2 && rc == 1; pass++)
        for (size_t i = 0; i < m.n_att && rc == 1; i++) {
            const mime_attachment *a = &m.att[i];
            int pdf = ex_is_pdf(a->bytes, a->size), img = ex_is_image(a->bytes, a->size);
            if (pass == 0 ? !pdf : !img)
                continue;
            ex_doc tmp;
            ex_doc_init(&tmp);
            char e2[512] = "";
            if (ex_read_pdf(&tmp, a->bytes, a->size, !pdf, o, e2, sizeof e2, warn, warnlen) == 0 &&
                tmp.n > 0) {
                ex_doc_free(d);
                *d = tmp;
                rc = 0;
            } else {
                if (e2[0] && warn && !warn[0])
                    snprintf(warn, warnlen, "attachment '%s': %s", a->name, e2);
                ex_doc_free(&tmp);
            }
        }
    if (rc == 1) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(m.data, "text");
        rc = ex_add_text(d, cJSON_GetStringValue(text)) == 0 ? 0 : -1;
        if (rc != 0)
            snprintf(err, errlen, "out of memory");
        snprintf(d->source, sizeof d->source, "eml");
    }
    mime_message_clear(&m);
    return rc;
}

int ex_read_bytes(ex_doc *d, const unsigned char *bytes, size_t len, const char *name,
                  const ex_read_opts *o, char *err, size_t errlen, char *warn, size_t warnlen)
{
    int rc;
    if (warn && warnlen)
        warn[0] = '\0';
    if (ex_is_pdf(bytes, len))
        rc = ex_read_pdf(d, bytes, len, 0, o, err, errlen, warn, warnlen);
    else if (ex_is_image(bytes, len))
        rc = ex_read_pdf(d, bytes, len, 1, o, err, errlen, warn, warnlen);
    else if (ex_has_ext(name, ".eml"))
        rc = ex_read_mail(d, bytes, len, o, err, errlen, warn, warnlen);
    else {
        if (memchr(bytes, '\0', len)) {
            snprintf(err, errlen, "not a PDF, image, mail (.eml) or text file");
            return -1;
        }
        char *s = malloc(len + 1);
        if (s == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(s, bytes, len);
        s[len] = '\0';
        rc = ex_add_text(d, s);
        free(s);
        if (rc != 0)
            snprintf(err, errlen, "out of memory");
        snprintf(d->source, sizeof d->source, "text");
    }
    if (rc == 0)
        ex_doc_finish(d);
    return rc;
}

int ex_read_file(ex_doc *d, const char *path, const ex_read_opts *o, char *err, size_t errlen,
                 char *warn, size_t warnlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        fclose(f);
        return -1;
    }
    if ((uint64_t)st.st_size > EX_MAX_FILE) {
        snprintf(err, errlen, "larger than %u MiB", EX_MAX_FILE >> 20);
        fclose(f);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    unsigned char *b = malloc(len ? len : 1);
    if (b == NULL || fread(b, 1, len, f) != len) {
        snprintf(err, errlen, "%s", b ? "cannot read the file" : "out of memory");
        free(b);
        fclose(f);
        return -1;
    }
    fclose(f);
    int rc = ex_read_bytes(d, b, len, path, o, err, errlen, warn, warnlen);
    free(b);
    return rc;
}

cJSON *ex_doc_to_json(const ex_doc *d)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "source", d->source);
    cJSON_AddStringToObject(o, "lang", d->lang);
    cJSON *pages = cJSON_AddArrayToObject(o, "pages");
    for (int i = 0; i < d->n_pages; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "w", d->page_w[i]);
        cJSON_AddNumberToObject(p, "h", d->page_h[i]);
        cJSON_AddItemToArray(pages, p);
    }
    cJSON *lines = cJSON_AddArrayToObject(o, "lines");
    for (size_t i = 0; i < d->n; i++) {
        const ex_line *l = &d->lines[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "text", l->text);
        if (d->has_boxes && d->n_pages > 0 && l->page < d->n_pages) {
            double w = d->page_w[l->page], h = d->page_h[l->page];
            double b[4] = {round(l->px0 * w * 100) / 100, round(l->py0 * h * 100) / 100,
                           round(l->px1 * w * 100) / 100, round(l->py1 * h * 100) / 100};
            cJSON_AddItemToObject(j, "box", cJSON_CreateDoubleArray(b, 4));
            cJSON_AddNumberToObject(j, "page", l->page);
        }
        cJSON_AddItemToArray(lines, j);
    }
    return o;
}
