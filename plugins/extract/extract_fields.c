/* extract_fields: picks -> normalised values, and `extract read`. See
 * extract_fields.h. */
#include "extract_fields.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/plugin.h>

#include "../common/normalize.h"
#ifdef EX_HAVE_READ
#include "extract_read.h"
#include "pdf_text.h"
#endif

const char *ex_out_name(const ex_model *m, int field)
{
    if (field == EX_COMPANY && m && m->has[EX_INVOICE_NUMBER])
        return "vendor";
    return ex_field_names[field];
}

int ex_out_index(const char *name)
{
    if (name && strcmp(name, "vendor") == 0)
        return EX_COMPANY;
    return ex_field_index(name);
}

/* The document's text, lines by newlines, at most cap bytes. */
static char *ex_doc_text(const ex_doc *d, size_t cap)
{
    char *s = malloc(cap + 1);
    size_t n = 0;
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < d->n && n < cap; i++) {
        size_t l = strlen(d->lines[i].text);
        if (l > cap - n)
            l = cap - n;
        memcpy(s + n, d->lines[i].text, l);
        n += l;
        if (n < cap)
            s[n++] = '\n';
    }
    s[n] = '\0';
    return s;
}

/* An identifier as the ERP stores it: without the label's punctuation
 * printed before it ("#", ":", "No.") and surrounding spaces. */
static cJSON *ex_ident(const char *raw)
{
    const char *p = raw;
    for (;;) {
        while (*p == ' ' || *p == '#' || *p == ':' || *p == '\t')
            p++;
        if ((p[0] == 'N' || p[0] == 'n') && (p[1] == 'o' || p[1] == 'O') && p[2] == '.') {
            p += 3;
            continue;
        }
        break;
    }
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == ',' || p[n - 1] == ';'))
        n--;
    if (n == 0)
        return NULL;
    char *s = strndup(p, n);
    cJSON *v = s ? cJSON_CreateString(s) : NULL;
    free(s);
    return v;
}

cJSON *ex_normalise(int field, const char *raw, int day_first, const char *context)
{
    if (raw == NULL)
        return NULL;
    switch (field) {
    case EX_DATE: {
        int32_t days;
        char iso[11];
        return norm_date_any(raw, day_first, &days) ? cJSON_CreateString(norm_date_iso(days, iso))
                                                    : NULL;
    }
    case EX_TOTAL: {
        double v;
        return norm_amount_value(raw, &v) ? cJSON_CreateNumber(v) : NULL;
    }
    case EX_CURRENCY: {
        const char *c = norm_currency(raw, context);
        return c ? cJSON_CreateString(c) : NULL;
    }
    case EX_INVOICE_NUMBER:
    case EX_PO_NUMBER:
        return ex_ident(raw);
    default:
        return cJSON_CreateString(raw);
    }
}

void ex_fields_clear(ex_fields *f)
{
    for (int i = 0; i < EX_NFIELDS; i++) {
        free(f->raw[i]);
        cJSON_Delete(f->value[i]);
    }
    memset(f, 0, sizeof *f);
}

int ex_read_fields(const ex_model *m, const ex_doc *d, const int *want, ex_cands *scratch,
                   ex_fields *out)
{
    int n = 0;
    return ex_read_fields_mem(m, NULL, d, want, scratch, out, &n);
}

int ex_read_fields_mem(const ex_model *m, const ex_memory *mem, const ex_doc *d, const int *want,
                       ex_cands *scratch, ex_fields *out, int *from_mem)
{
    memset(out, 0, sizeof *out);
    *from_mem = 0;
    for (int f = 0; f < EX_NFIELDS; f++) {
        if (!m->has[f] || (want && !want[f]))
            continue;
        if (ex_predict(m, d, f, scratch, &out->raw[f], &out->conf[f]) != 0) {
            ex_fields_clear(out);
            return -1;
        }
        /* The vendor's memory, tried first, with its own confidence. */
        char *mv = NULL;
        float mc = 0;
        if (mem && ex_mem_predict(mem, d, f, scratch, &mv, &mc) != 0) {
            ex_fields_clear(out);
            return -1;
        }
        if (mv && ex_mem_prefer(f, mc, out->raw[f] != NULL, out->conf[f])) {
            free(out->raw[f]);
            out->raw[f] = mv;
            out->conf[f] = mc;
            (*from_mem)++;
        } else {
            free(mv);
        }
    }
    char *context = ex_doc_text(d, 65536);
    if (context == NULL) {
        ex_fields_clear(out);
        return -1;
    }
    /* Currency first: the date's order may follow it (en + USD: month first). */
    const char *cur = NULL;
    if (m->has[EX_CURRENCY] && (want == NULL || want[EX_CURRENCY])) {
        const char *c = out->raw[EX_CURRENCY] ? norm_currency(out->raw[EX_CURRENCY], context) : NULL;
        if (c == NULL && out->raw[EX_TOTAL])
            c = norm_currency(out->raw[EX_TOTAL], context);
        if (c == NULL)
            c = norm_currency(NULL, context);
        if (c) {
            out->value[EX_CURRENCY] = cJSON_CreateString(c);
            if (out->raw[EX_CURRENCY] == NULL) {
                /* Read from the context, not picked: as sure as the total. */
                out->conf[EX_CURRENCY] = out->raw[EX_TOTAL] ? out->conf[EX_TOTAL] : 0.5f;
            }
        }
        cur = c;
    }
    int day_first = ex_doc_day_first(d, cur);
    for (int f = 0; f < EX_NFIELDS; f++)
        if (f != EX_CURRENCY && out->raw[f])
            out->value[f] = ex_normalise(f, out->raw[f], day_first, context);
    free(context);
    return 0;
}

/* ---- backplane extract read --------------------------------------------- */
#ifdef EX_HAVE_READ

static const char ex_read_usage[] =
    "backplane extract read [--model MODEL] [--doc] [--max-pages N] FILE...\n"
    "  one JSON line per file (PDF, scan, image, .eml, text): {\"file\", \"fields\", "
    "\"confidence\", \"raw\"}\n"
    "  --model  a shipped model's name or a model file (default: invoices)\n"
    "  --doc    print the document as read (lines with boxes, pages) instead of fields";

static const char *const ex_read_order[] = {"vendor", "company", "invoice_number", "date",
                                            "total", "currency", "po_number", "address", NULL};

int ex_cmd_read(const struct bp_host_api *api, int argc, char **argv)
{
    const char *model = "invoices";
    int doc_only = 0, nfiles = 0;
    ex_read_opts o = EX_READ_DEFAULTS;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    if (files == NULL)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: %s\n", ex_read_usage);
            free(files);
            return 0;
        } else if (strcmp(a, "--model") == 0 || strcmp(a, "--max-pages") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "extract read: %s needs a value\nusage: %s\n", a, ex_read_usage);
                free(files);
                return 2;
            }
            if (strcmp(a, "--model") == 0) {
                model = argv[++i];
            } else {
                char *end;
                long v = strtol(argv[++i], &end, 10);
                if (*end || v < 1 || v > 100000) {
                    fprintf(stderr, "extract read: --max-pages: '%s' is not a number from 1 to 100000\n",
                            argv[i]);
                    free(files);
                    return 2;
                }
                o.max_pages = (int)v;
            }
        } else if (strcmp(a, "--doc") == 0) {
            doc_only = 1;
        } else if (strcmp(a, "--") == 0) {
            while (++i < argc)
                files[nfiles++] = argv[i];
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "extract read: unknown option %s\nusage: %s\n", a, ex_read_usage);
            free(files);
            return 2;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (nfiles == 0) {
        fprintf(stderr, "extract read: no file given\nusage: %s\n", ex_read_usage);
        free(files);
        return 2;
    }
    ex_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        free(files);
        return 1;
    }
    if (!doc_only) {
        char *mpath = NULL, *merr = NULL, err[1024];
        bp_status fst = api->model_find(NULL, model, &mpath, &merr);
        if (fst != BP_OK && strchr(model, '/') == NULL) {
            fprintf(stderr, "extract read: model: %s\n", merr ? merr : "not found");
            api->free(merr);
            free(m);
            free(files);
            return 1;
        }
        api->free(merr);
        int bad = ex_model_load(m, mpath ? mpath : model, err, sizeof err) != 0;
        api->free(mpath);
        if (bad) {
            fprintf(stderr, "extract read: %s\n", err);
            free(m);
            free(files);
            return 1;
        }
    }
    ex_cands scratch = {0};
    int failed = 0;
    /* One worker for all the files: its start costs more than a page. */
    o.session = pdf_session_new(NULL);
    for (int i = 0; i < nfiles; i++) {
        ex_doc d;
        ex_doc_init(&d);
        char err[1024], warn[512];
        if (ex_read_file(&d, files[i], &o, err, sizeof err, warn, sizeof warn) != 0) {
            fprintf(stderr, "extract read: %s: %s\n", files[i], err);
            failed = 1;
            ex_doc_free(&d);
            continue;
        }
        if (warn[0])
            fprintf(stderr, "extract read: %s: %s\n", files[i], warn);
        cJSON *line = NULL;
        if (doc_only) {
            line = ex_doc_to_json(&d);
            if (line) {
                cJSON *f = cJSON_CreateString(files[i]);
                cJSON_AddItemToObject(line, "file", f);
            }
        } else {
            ex_fields fl;
            if (ex_read_fields(m, &d, NULL, &scratch, &fl) == 0) {
                line = cJSON_CreateObject();
                cJSON_AddStringToObject(line, "file", files[i]);
                cJSON *fields = cJSON_AddObjectToObject(line, "fields");
                cJSON *conf = cJSON_AddObjectToObject(line, "confidence");
                cJSON *raw = cJSON_AddObjectToObject(line, "raw");
                for (int k = 0; ex_read_order[k]; k++) {
                    int f = ex_out_index(ex_read_order[k]);
                    if (f < 0 || !m->has[f] || strcmp(ex_out_name(m, f), ex_read_order[k]) != 0)
                        continue;
                    const char *name = ex_read_order[k];
                    cJSON_AddItemToObject(fields, name,
                                          fl.value[f] ? fl.value[f] : cJSON_CreateNull());
                    fl.value[f] = NULL;
                    if (fl.raw[f] || fl.conf[f] > 0)
                        cJSON_AddNumberToObject(conf, name,
                                                (double)(long)(fl.conf[f] * 10000 + 0.5) / 10000);
                    else
                        cJSON_AddNullToObject(conf, name);
                    if (fl.raw[f])
                        cJSON_AddStringToObject(raw, name, fl.raw[f]);
                    else
                        cJSON_AddNullToObject(raw, name);
                }
                if (d.source[0])
                    cJSON_AddStringToObject(line, "source", d.source);
                ex_fields_clear(&fl);
            }
        }
        char *s = line ? cJSON_PrintUnformatted(line) : NULL;
        if (s == NULL) {
            fprintf(stderr, "extract read: %s: out of memory\n", files[i]);
            failed = 1;
        } else {
            fputs(s, stdout);
            fputc('\n', stdout);
        }
        free(s);
        cJSON_Delete(line);
        ex_doc_free(&d);
    }
    fflush(stdout);
    pdf_session_free(o.session);
    ex_cands_free(&scratch);
    free(m);
    free(files);
    return failed;
}
#endif
