/* extract_where: a field's value back to its line(s). See extract_where.h. */
#include "extract_where.h"

#include <ctype.h>
#include <string.h>

int ex_where_lines(const ex_doc *d, const char *raw, size_t *first, size_t *last, size_t *off,
                   size_t *end)
{
    if (raw == NULL || *raw == '\0')
        return -1;
    size_t rl = strlen(raw);
    for (size_t i = 0; i < d->n; i++) {
        const char *p = strstr(d->lines[i].text, raw);
        if (p) {
            *first = *last = i;
            *off = (size_t)(p - d->lines[i].text);
            *end = *off + rl;
            return 0;
        }
    }
    /* The same letters in another case ("EUR" printed "Eur"). */
    char up[512];
    if (rl < sizeof up) {
        for (size_t k = 0; k <= rl; k++)
            up[k] = (char)toupper((unsigned char)raw[k]);
        for (size_t i = 0; i < d->n; i++) {
            const char *p = strstr(d->lines[i].up, up);
            if (p) {
                *first = *last = i;
                *off = (size_t)(p - d->lines[i].up);
                *end = *off + rl;
                return 0;
            }
        }
    }
    /* A run of lines joined by one space (an address). */
    for (size_t i = 0; i < d->n; i++) {
        const char *r = raw;
        size_t j = i;
        for (; j < d->n; j++) {
            size_t tl = strlen(d->lines[j].text);
            size_t left = strlen(r);
            if (left <= tl) {
                /* the last line: raw's tail starts it */
                if (j > i && strncmp(d->lines[j].text, r, left) == 0) {
                    *first = i;
                    *last = j;
                    *off = 0;
                    *end = left;
                    return 0;
                }
                break;
            }
            if (strncmp(d->lines[j].text, r, tl) != 0 || r[tl] != ' ')
                break;
            r += tl + 1;
        }
    }
    return -1;
}

/* Code points in the first n bytes of s (UTF-8). */
static size_t ex_cps(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n && s[i]; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static cJSON *ex_box4(double a, double b, double c, double e)
{
    double v[4] = {a, b, c, e};
    for (int k = 0; k < 4; k++) /* four decimals: stable output */
        v[k] = (double)(long)(v[k] * 10000 + (v[k] < 0 ? -0.5 : 0.5)) / 10000;
    return cJSON_CreateDoubleArray(v, 4);
}

/* The union of the boxes of line l's words that bytes [off, end) of its text
 * cover: the words of its page (layout[l->page].words) whose centre lies in
 * the line's box, left to right, are its words. 0 found, -1 not (no layout,
 * or the words do not spell the line). Boxes page-relative, 0..1. */
static int ex_where_words(const ex_line *l, const cJSON *layout, size_t off, size_t end,
                          float *x0, float *y0, float *x1, float *y1)
{
    const cJSON *pg = layout ? cJSON_GetArrayItem(layout, l->page) : NULL;
    const cJSON *words = cJSON_GetObjectItemCaseSensitive(pg, "words");
    double pw = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pg, "w"));
    double ph = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pg, "h"));
    if (!cJSON_IsArray(words) || !(pw > 0) || !(ph > 0))
        return -1;
    enum { MAXW = 256 };
    double bx[MAXW][4];
    const char *tx[MAXW];
    int n = 0;
    for (const cJSON *w = words->child; w && n < MAXW; w = w->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(w, "t");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(w, "b");
        if (!cJSON_IsString(t) || cJSON_GetArraySize(b) != 4)
            continue;
        double v[4];
        for (int k = 0; k < 4; k++)
            v[k] = cJSON_GetNumberValue(cJSON_GetArrayItem(b, k));
        double cx = (v[0] + v[2]) / 2 / pw, cy = (v[1] + v[3]) / 2 / ph;
        if (cx < l->px0 || cx > l->px1 || cy < l->py0 || cy > l->py1)
            continue;
        int at = n++;
        while (at > 0 && bx[at - 1][0] > v[0]) {   /* left to right */
            memcpy(bx[at], bx[at - 1], sizeof bx[at]);
            tx[at] = tx[at - 1];
            at--;
        }
        memcpy(bx[at], v, sizeof v);
        tx[at] = t->valuestring;
    }
    size_t pos = 0;
    int have = 0;
    for (int i = 0; i < n; i++) {
        size_t wl = strlen(tx[i]);
        if (strncmp(l->text + pos, tx[i], wl) != 0)
            return -1;   /* not this line's words */
        if (pos < end && pos + wl > off) {
            float a0 = (float)(bx[i][0] / pw), b0 = (float)(bx[i][1] / ph);
            float a1 = (float)(bx[i][2] / pw), b1 = (float)(bx[i][3] / ph);
            if (!have || a0 < *x0) *x0 = a0;
            if (!have || b0 < *y0) *y0 = b0;
            if (!have || a1 > *x1) *x1 = a1;
            if (!have || b1 > *y1) *y1 = b1;
            have = 1;
        }
        pos += wl + 1;
    }
    return have ? 0 : -1;
}

cJSON *ex_where(const ex_doc *d, const ex_origin *org, const char *const *texts,
                const char *const *paths, const char *raw)
{
    return ex_where_ex(d, org, texts, paths, raw, NULL);
}

cJSON *ex_where_ex(const ex_doc *d, const ex_origin *org, const char *const *texts,
                   const char *const *paths, const char *raw, const cJSON *layout)
{
    size_t first, last, off, end;
    if (ex_where_lines(d, raw, &first, &last, &off, &end) != 0)
        return NULL;
    const ex_line *a = &d->lines[first], *z = &d->lines[last];
    cJSON *w = cJSON_CreateObject();
    if (w == NULL)
        return NULL;
    if (d->n_pages > 0) {
        /* The union of the lines' page boxes, on the first line's page. */
        float x0 = a->px0, y0 = a->py0, x1 = a->px1, y1 = a->py1;
        for (size_t i = first + 1; i <= last; i++) {
            const ex_line *l = &d->lines[i];
            if (l->page != a->page)
                break;
            x0 = l->px0 < x0 ? l->px0 : x0;
            y0 = l->py0 < y0 ? l->py0 : y0;
            x1 = l->px1 > x1 ? l->px1 : x1;
            y1 = l->py1 > y1 ? l->py1 : y1;
        }
        /* Inside one line: the boxes of the words the value covers, when the
         * page's words are at hand (a line is its words joined by one space,
         * extract_doc.c), else the share of the line's width by bytes. */
        if (first == last && ex_where_words(a, layout, off, end, &x0, &y0, &x1, &y1) == 0) {
            /* found by words */
        } else if (first == last) {
            size_t tl = strlen(a->text);
            if (tl > 0 && (off > 0 || end < tl)) {
                float wd = x1 - x0;
                x1 = x0 + wd * (float)end / (float)tl;
                x0 = x0 + wd * (float)off / (float)tl;
            }
        }
        cJSON_AddNumberToObject(w, "page", a->page + 1);
        cJSON_AddItemToObject(w, "box", ex_box4(x0, y0, x1, y1));
    } else if (org && org[first].src >= 0 && org[last].src == org[first].src && texts &&
               texts[org[first].src]) {
        const char *t = texts[org[first].src];
        size_t s = org[first].off + off, e = org[last].off + end;
        size_t cs = ex_cps(t, s), ce = cs + ex_cps(t + s, e - s);
        double span[2] = {(double)cs, (double)ce};
        if (paths)
            cJSON_AddStringToObject(w, "path", paths[org[first].src]);
        cJSON_AddItemToObject(w, "span", cJSON_CreateDoubleArray(span, 2));
    } else if (d->has_boxes) {
        cJSON_AddNumberToObject(w, "line", (double)first);
        cJSON_AddItemToObject(w, "box", ex_box4(a->x0, a->y0, z->x1 > a->x1 ? z->x1 : a->x1, z->y1));
    } else {
        cJSON_AddNumberToObject(w, "line", (double)first);
    }
    return w;
}
