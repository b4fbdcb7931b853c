/* `backplane eval extract --format invoices --data DIR [--model M]` (issue
 * 19): documents as an integrator has them (DIR/pdf/NAME.pdf, also .eml,
 * images, .txt) against normalised labels (DIR/key/NAME.json), read by
 * extract_read exactly as `extract read` reads them, compared as an ERP
 * would: ISO dates equal, totals equal to the cent, ISO 4217 codes, invoice
 * numbers without spaces and "#" (case folded), vendors equal after case,
 * punctuation and legal-form words are removed or one a word-prefix of the
 * other. Scored per field over the fields each key holds, and overall; the
 * last line is accuracy=0.XXXX. */
#include "extract_eval_invoices.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <backplane/plugin.h>

#include "../common/normalize.h"
#include "extract_fields.h"
#include "extract_read.h"
#include "pdf_text.h"

/* The fields scored, in output order, by their names in keys and output. */
static const char *const ei_fields[] = {"vendor", "invoice_number", "date", "total", "currency",
                                        "po_number", NULL};

/* Legal-form words, removed wherever they stand (after norm_vendor has
 * folded case, dropped dots and turned "&" into "and"). */
static const char *const ei_legal[] = {
    "gmbh", "mbh", "ag", "kg", "kgaa", "ohg", "ug", "ev", "se", "co", "ltd", "limited", "inc",
    "incorporated", "corp", "corporation", "llc", "llp", "lp", "plc", "pty", "pvt", "pte", "sa",
    "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab", "as", "aps", "kk", "sdn", "bhd",
    "berhad", "sp", "zoo", NULL,
};

/* Vendor words without legal forms, space-separated (malloc'ed). */
static char *ei_vendor_words(const char *name)
{
    char *v = norm_vendor(name, NULL);
    if (v == NULL)
        return NULL;
    char *out = malloc(strlen(v) + 1), *save = NULL;
    size_t n = 0;
    if (out == NULL) {
        free(v);
        return NULL;
    }
    for (char *w = strtok_r(v, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        int legal = 0;
        for (int i = 0; ei_legal[i]; i++)
            legal |= strcmp(w, ei_legal[i]) == 0;
        if (legal)
            continue;
        size_t l = strlen(w);
        if (n)
            out[n++] = ' ';
        memcpy(out + n, w, l);
        n += l;
    }
    out[n] = '\0';
    /* "Medienpilot GmbH & Co. KG" leaves a dangling "and". */
    while (n >= 4 && strcmp(out + n - 4, " and") == 0)
        out[n -= 4] = '\0';
    free(v);
    return out;
}

/* a is b, or its words are the first words of b. */
static int ei_word_prefix(const char *a, const char *b)
{
    size_t la = strlen(a);
    return la > 0 && strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == ' ');
}

int ex_vendor_equal(const char *got, const char *want)
{
    char *g = ei_vendor_words(got), *w = ei_vendor_words(want);
    int eq = g && w && (ei_word_prefix(g, w) || ei_word_prefix(w, g));
    free(g);
    free(w);
    return eq;
}

/* Invoice number without spaces and "#", case folded. */
static void ei_ident(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        if (!isspace((unsigned char)*s) && *s != '#')
            out[n++] = (char)toupper((unsigned char)*s);
    out[n] = '\0';
}

int ex_field_equal(const char *field, const cJSON *got, const cJSON *want)
{
    char buf[NORM_TEXT_CAP], buf2[NORM_TEXT_CAP];
    const char *g = norm_text(got, buf), *w = norm_text(want, buf2);
    if (g == NULL || w == NULL)
        return 0;
    if (strcmp(field, "total") == 0) {
        int64_t a, b;
        if (!norm_amount(got, &a) || !norm_amount(want, &b))
            return 0;
        /* To the cent: both rounded to whole cents. */
        int64_t c = NORM_AMOUNT_SCALE / 100;
        int64_t ra = (a >= 0 ? a + c / 2 : a - c / 2) / c, rb = (b >= 0 ? b + c / 2 : b - c / 2) / c;
        return ra == rb;
    }
    if (strcmp(field, "date") == 0) {
        int32_t a, b;
        return norm_date_any(g, -1, &a) && norm_date_any(w, -1, &b) && a == b;
    }
    if (strcmp(field, "currency") == 0) {
        const char *a = norm_currency(g, NULL), *b = norm_currency(w, NULL);
        return a && b && strcmp(a, b) == 0;
    }
    if (strcmp(field, "vendor") == 0 || strcmp(field, "company") == 0)
        return ex_vendor_equal(g, w);
    char x[256], y[256];
    ei_ident(g, x, sizeof x);
    ei_ident(w, y, sizeof y);
    return x[0] && strcmp(x, y) == 0;
}

static int ei_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static cJSON *ei_load_json(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = (cap + 4096) * 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    fclose(f);
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "%s: not a JSON object", path);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static double ei_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ex_eval_invoices(const struct bp_host_api *api, const char *data, const char *model,
                     const char *errors_path, int quiet, int text_only)
{
    char pdfdir[4096];
    snprintf(pdfdir, sizeof pdfdir, "%s/pdf", data);
    DIR *dd = opendir(pdfdir);
    if (dd == NULL) {
        fprintf(stderr, "eval extract: %s: %s (--format invoices reads DIR/pdf/NAME.pdf and "
                        "DIR/key/NAME.json)\n", pdfdir, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (nn == NULL)
                break;
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (names[n])
            n++;
    }
    closedir(dd);
    if (n)
        qsort(names, n, sizeof *names, ei_cmp);
    ex_model *m = calloc(1, sizeof *m);
    char err[10240];
    int rc = 0;
    if (m == NULL) {
        rc = 1;
        goto out;
    }
    {
        char *mpath = NULL, *merr = NULL;
        const char *name = model ? model : "invoices";
        bp_status fst = api->model_find(NULL, name, &mpath, &merr);
        if (fst != BP_OK && strchr(name, '/') == NULL) {
            fprintf(stderr, "eval extract: model: %s\n", merr ? merr : "not found");
            api->free(merr);
            rc = 1;
            goto out;
        }
        api->free(merr);
        int bad = ex_model_load(m, mpath ? mpath : name, err, sizeof err) != 0;
        api->free(mpath);
        if (bad) {
            fprintf(stderr, "eval extract: %s\n", err);
            rc = 1;
            goto out;
        }
    }
    FILE *errors = NULL;
    if (errors_path && (errors = fopen(errors_path, "w")) == NULL) {
        fprintf(stderr, "eval extract: %s: %s\n", errors_path, strerror(errno));
        rc = 1;
        goto out;
    }
    long right[8] = {0}, total[8] = {0}, docs = 0;
    double secs = 0;
    ex_cands scratch = {0};
    ex_read_opts o = EX_READ_DEFAULTS;
    o.text_only = text_only;
    o.session = pdf_session_new(NULL);
    for (size_t i = 0; i < n; i++) {
        char stem[1024], keyp[4096], docp[4096];
        snprintf(stem, sizeof stem, "%s", names[i]);
        char *dot = strrchr(stem, '.');
        if (dot)
            *dot = '\0';
        if (snprintf(keyp, sizeof keyp, "%s/key/%s.json", data, stem) >= (int)sizeof keyp ||
            snprintf(docp, sizeof docp, "%s/%s", pdfdir, names[i]) >= (int)sizeof docp) {
            fprintf(stderr, "eval extract: skipped %s/%s: path too long\n", pdfdir, names[i]);
            continue;
        }
        cJSON *key = ei_load_json(keyp, err, sizeof err);
        if (key == NULL) {
            if (!quiet)
                fprintf(stderr, "eval extract: skipped %s: %s\n", docp, err);
            continue;
        }
        docs++;
        ex_doc d;
        ex_doc_init(&d);
        char warn[512];
        ex_fields fl;
        memset(&fl, 0, sizeof fl);
        double t0 = ei_now();
        int read_ok = ex_read_file(&d, docp, &o, err, sizeof err, warn, sizeof warn) == 0;
        if (!read_ok)
            fprintf(stderr, "eval extract: %s: %s\n", docp, err);
        else if (ex_read_fields(m, &d, NULL, &scratch, &fl) != 0)
            read_ok = 0;
        secs += ei_now() - t0;
        for (int k = 0; ei_fields[k]; k++) {
            const cJSON *want = cJSON_GetObjectItemCaseSensitive(key, ei_fields[k]);
            if (want == NULL || cJSON_IsNull(want))
                continue;
            int f = ex_out_index(ei_fields[k]);
            const cJSON *got = read_ok && f >= 0 ? fl.value[f] : NULL;
            int ok = got && ex_field_equal(ei_fields[k], got, want);
            total[k]++;
            right[k] += ok;
            if (!ok && errors) {
                cJSON *line = cJSON_CreateObject();
                cJSON_AddStringToObject(line, "file", docp);
                cJSON_AddStringToObject(line, "field", ei_fields[k]);
                cJSON_AddItemToObject(line, "want", cJSON_Duplicate(want, 1));
                cJSON_AddItemToObject(line, "got", got ? cJSON_Duplicate(got, 1) : cJSON_CreateNull());
                if (read_ok && f >= 0 && fl.raw[f])
                    cJSON_AddStringToObject(line, "raw", fl.raw[f]);
                char *s = cJSON_PrintUnformatted(line);
                if (s)
                    fprintf(errors, "%s\n", s);
                free(s);
                cJSON_Delete(line);
            }
        }
        ex_fields_clear(&fl);
        ex_doc_free(&d);
        cJSON_Delete(key);
    }
    ex_cands_free(&scratch);
    pdf_session_free(o.session);
    if (errors)
        fclose(errors);
    long all_r = 0, all_t = 0;
    printf("%-16s %9s %8s\n", "field", "right", "accuracy");
    for (int k = 0; ei_fields[k]; k++) {
        if (total[k] == 0)
            continue;
        printf("%-16s %4ld/%-4ld %8.4f\n", ei_fields[k], right[k], total[k],
               (double)right[k] / (double)total[k]);
        all_r += right[k];
        all_t += total[k];
    }
    printf("%-16s %4ld/%-4ld %8.4f\n", "overall", all_r, all_t,
           all_t ? (double)all_r / (double)all_t : 0.0);
    printf("evaluated %ld documents with %s, %s (%.1f documents/s, reading included)\n", docs,
           m->name, text_only ? "PDF text without positions" : "words with boxes",
           secs > 0 ? (double)docs / secs : 0.0);
    printf("accuracy=%.4f\n", all_t ? (double)all_r / (double)all_t : 0.0);
    if (docs == 0) {
        fprintf(stderr, "eval extract: no document in %s has a key in %s/key\n", pdfdir, data);
        rc = 1;
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(m);
    return rc;
}
