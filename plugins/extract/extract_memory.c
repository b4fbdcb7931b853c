/* extract_memory: per-vendor memory of where fields sit and how they are
 * labelled (see extract_memory.h). */
#include "extract_memory.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mem_id_words[] = {"GST", "VAT", "UST", "TVA", "BTW", "IVA", "NIP",
                                           "IBAN", "REG", "TAX ID", "ABN", "SST", "CO NO",
                                           "COMPANY NO", "KVK", "SIRET", NULL};

static int mem_add_key(char **keys, int *n, const char *k)
{
    if (*n >= EX_MEM_KEYS || strlen(k) < 5)
        return 0;
    for (int i = 0; i < *n; i++)
        if (strcmp(keys[i], k) == 0)
            return 0;
    keys[*n] = strdup(k);
    if (keys[*n] == NULL)
        return -1;
    (*n)++;
    return 0;
}

int ex_mem_fingerprint(const ex_doc *d, char **keys, int *nkeys)
{
    *nkeys = 0;
    char buf[256];
    /* the name: the first line with letters (not a greeting or a title),
     * letters only */
    static const char *const skip[] = {"DEAR", "HELLO", "HI", "INVOICE", "RECEIPT", "RECHNUNG",
                                       "FACTURE", "FACTUUR", "FACTURA", "FATTURA", "FAKTURA",
                                       "PAGE", "TAX INVOICE", NULL};
    for (size_t li = 0; li < d->n && li < 4; li++) {
        int sk = 0;
        for (const char *const *w = skip; *w && !sk; w++)
            sk = strncmp(d->lines[li].up, *w, strlen(*w)) == 0;
        if (sk)
            continue;
        size_t n = 0;
        for (const char *p = d->lines[li].up; *p && n < 40; p++)
            if (isalpha((unsigned char)*p))
                buf[n++] = *p;
        buf[n] = '\0';
        if (n >= 5) {
            char k[260];
            snprintf(k, sizeof k, "n:%s", buf);
            if (mem_add_key(keys, nkeys, k) != 0)
                return -1;
            break;
        }
    }
    /* ids: runs of 6+ digits (with letters) on lines naming a tax or
     * registration id or an IBAN, and registration numbers "(123456-X)" */
    for (size_t li = 0; li < d->n; li++) {
        const char *up = d->lines[li].up;
        int idline = 0;
        for (const char *const *w = mem_id_words; *w && !idline; w++)
            idline = ex_find_word(up, *w) != NULL;
        idline |= strchr(up, '(') && strchr(up, ')') && strchr(up, '-');
        if (!idline)
            continue;
        for (const char *p = up; *p;) {
            size_t n = 0;
            int dig = 0;
            while (*p && (isalnum((unsigned char)*p) || *p == '-' || *p == ' ') && n < sizeof buf - 1) {
                if (isalnum((unsigned char)*p)) {
                    buf[n++] = *p;
                    dig += isdigit((unsigned char)*p) != 0;
                }
                if (*p == ' ' && !isdigit((unsigned char)p[1]))
                    break;
                p++;
            }
            buf[n] = '\0';
            if (dig >= 6) {
                char k[260];
                snprintf(k, sizeof k, "i:%s", buf);
                if (mem_add_key(keys, nkeys, k) != 0)
                    return -1;
            }
            if (*p)
                p++;
        }
    }
    return 0;
}

int ex_mem_matches(const ex_memory *m, const ex_doc *d)
{
    char *keys[EX_MEM_KEYS];
    int n = 0, id_hit = 0, name_hit = 0, doc_ids = 0, mem_ids = 0;
    if (ex_mem_fingerprint(d, keys, &n) != 0)
        n = 0;
    for (int j = 0; j < m->nkey; j++)
        mem_ids += m->key[j][0] == 'i';
    for (int i = 0; i < n; i++) {
        doc_ids += keys[i][0] == 'i';
        for (int j = 0; j < m->nkey; j++)
            if (strcmp(keys[i], m->key[j]) == 0) {
                id_hit |= keys[i][0] == 'i';
                name_hit |= keys[i][0] == 'n';
            }
        free(keys[i]);
    }
    /* Ids (tax, VAT, registration, IBAN) decide when both documents print
     * some: two vendors' mails may open with the same greeting. */
    return doc_ids && mem_ids ? id_hit : name_hit;
}

static int mem_cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Fields a vendor prints the same on every document. */
static int mem_constant(int f)
{
    return f == EX_COMPANY || f == EX_ADDRESS || f == EX_CURRENCY;
}

int ex_mem_learn(ex_memory *m, const ex_doc *d, char *const label[EX_NFIELDS], ex_cands *c)
{
    for (int i = 0; i < m->nkey; i++)
        free(m->key[i]);
    if (ex_mem_fingerprint(d, m->key, &m->nkey) != 0)
        return -1;
    for (int f = 0; f < EX_NFIELDS; f++) {
        ex_mem_field *mf = &m->f[f];
        if (label[f] == NULL)
            continue;
        free(mf->text);
        memset(mf, 0, sizeof *mf);
        mf->text = strdup(label[f]);
        if (mf->text == NULL)
            return -1;
        mf->has = 1;
        mf->x = mf->y = -1;
        if (ex_candidates(d, f, c) != 0)
            return -1;
        for (size_t i = 0; i < c->n; i++) {
            if (strcmp(c->c[i].text, label[f]) != 0)
                continue;
            const ex_line *l = &d->lines[c->c[i].line];
            mf->x = (l->x0 + l->x1) / 2;
            mf->y = (l->y0 + l->y1) / 2;
            int n = c->c[i].ntok < EX_MEM_TOK ? (int)c->c[i].ntok : EX_MEM_TOK;
            if (n > 0) { /* c->tok is NULL when no candidate has words */
                memcpy(mf->tok, c->tok + c->c[i].tok_off, (size_t)n * sizeof(uint16_t));
                qsort(mf->tok, (size_t)n, sizeof(uint16_t), mem_cmp_u16);
            }
            mf->ntok = n;
            break;
        }
    }
    return 0;
}

/* Share of the remembered words a candidate carries (both sorted). */
static float mem_overlap(const ex_mem_field *mf, const uint16_t *tok, uint32_t n)
{
    if (mf->ntok == 0)
        return 0;
    int hit = 0;
    for (int i = 0; i < mf->ntok; i++)
        for (uint32_t j = 0; j < n; j++)
            if (tok[j] == mf->tok[i]) {
                hit++;
                break;
            }
    return (float)hit / (float)mf->ntok;
}

int ex_mem_predict(const ex_memory *m, const ex_doc *d, int field, ex_cands *c, char **text,
                   float *conf)
{
    *text = NULL;
    *conf = 0;
    const ex_mem_field *mf = &m->f[field];
    if (!mf->has)
        return 0;
    if (ex_candidates(d, field, c) != 0)
        return -1;
    float best = 0;
    size_t bi = 0;
    for (size_t i = 0; i < c->n; i++) {
        float s;
        if (mem_constant(field)) {
            s = strcmp(c->c[i].text, mf->text) == 0 ? 1.0f : 0;
        } else {
            if (mf->x < 0)
                continue;
            const ex_line *l = &d->lines[c->c[i].line];
            float dx = (l->x0 + l->x1) / 2 - mf->x, dy = (l->y0 + l->y1) / 2 - mf->y;
            float near = 1 - sqrtf(dx * dx + dy * dy) / 0.25f;
            if (near < 0)
                near = 0;
            s = 0.7f * mem_overlap(mf, c->tok + c->c[i].tok_off, c->c[i].ntok) + 0.3f * near;
        }
        if (s > best) {
            best = s;
            bi = i;
        }
    }
    /* A field that changes per document (date, total, numbers) is taken only
     * when its label words all return, close to where it was: receipts
     * print several amounts under similar labels, and a half-matching label
     * measured worse than the model (SROIE totals 0.93 -> 0.82). */
    /* (A name the reviewer typed that no candidate prints is not answered:
     * on SROIE's shops, where one shop's labels spell it in several ways,
     * answering it lowered company 0.99 -> 0.76.) */
    if (best < (mem_constant(field) ? 0.99f : 0.9f))
        return 0;
    *conf = best;
    *text = strdup(c->c[bi].text);
    return *text ? 0 : -1;
}

int ex_mem_prefer(int field, float mem_conf, int model_has, float model_conf)
{
    if (mem_conf <= 0)
        return 0;
    if (mem_constant(field) || !model_has)
        return 1;
    /* Varying fields: the memory decides only where the model is unsure
     * (measured on SROIE's shops: taken whenever as sure as the model, the
     * memory lowered totals 0.93 -> 0.84). */
    return model_conf < 0.5f && mem_conf >= model_conf;
}

void ex_mem_free(ex_memory *m)
{
    for (int i = 0; i < m->nkey; i++)
        free(m->key[i]);
    for (int f = 0; f < EX_NFIELDS; f++)
        free(m->f[f].text);
    memset(m, 0, sizeof *m);
}
