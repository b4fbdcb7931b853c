/* A PDF page as PNG with poppler + cairo. See pdf_render.h. */
#include "pdf_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poppler.h>
#include <cairo.h>

typedef struct {
    unsigned char *data;
    size_t len, cap;
} rd_buf;

static cairo_status_t rd_write(void *closure, const unsigned char *data, unsigned int length)
{
    rd_buf *b = closure;
    if (b->len + length > b->cap) {
        size_t cap = (b->len + length) * 2;
        unsigned char *d = realloc(b->data, cap);
        if (d == NULL)
            return CAIRO_STATUS_NO_MEMORY;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, length);
    b->len += length;
    return CAIRO_STATUS_SUCCESS;
}

static int rd_fail(char **err, const char *msg)
{
    *err = strdup(msg);
    return -1;
}

int pdf_render_png(const void *bytes, size_t len, int page, int max_px, unsigned char **png,
                   size_t *png_len, int *n_pages, char **err)
{
    *png = NULL;
    *png_len = 0;
    *n_pages = 0;
    GError *gerr = NULL;
    GBytes *gb = g_bytes_new_static(bytes, len);
    PopplerDocument *doc = poppler_document_new_from_bytes(gb, NULL, &gerr);
    g_bytes_unref(gb);
    if (doc == NULL) {
        int rc = rd_fail(err, gerr && gerr->message ? gerr->message : "not a PDF");
        if (gerr)
            g_error_free(gerr);
        return rc;
    }
    *n_pages = poppler_document_get_n_pages(doc);
    if (page < 0 || page >= *n_pages) {
        char msg[96];
        snprintf(msg, sizeof msg, "no page %d: the document has %d", page + 1, *n_pages);
        g_object_unref(doc);
        return rd_fail(err, msg);
    }
    PopplerPage *pg = poppler_document_get_page(doc, page);
    if (pg == NULL) {
        g_object_unref(doc);
        return rd_fail(err, "the page cannot be read");
    }
    double w = 0, h = 0;
    poppler_page_get_size(pg, &w, &h);
    if (!(w > 0) || !(h > 0)) {
        w = 595;
        h = 842;
    }
    /* The scale: the longer side at max_px, never over 200 dpi (72 points an inch). */
    double scale = (double)max_px / (w > h ? w : h);
    if (scale > 200.0 / 72)
        scale = 200.0 / 72;
    int pw = (int)(w * scale + 0.5), ph = (int)(h * scale + 0.5);
    if (pw < 1)
        pw = 1;
    if (ph < 1)
        ph = 1;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw, ph);
    int rc = -1;
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        rc = rd_fail(err, "out of memory for the page image");
    } else {
        cairo_t *cr = cairo_create(s);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        cairo_scale(cr, scale, scale);
        poppler_page_render_for_printing(pg, cr);
        cairo_destroy(cr);
        cairo_surface_flush(s);
        rd_buf b = {0};
        if (cairo_surface_write_to_png_stream(s, rd_write, &b) != CAIRO_STATUS_SUCCESS) {
            free(b.data);
            rc = rd_fail(err, "cannot encode the page as PNG");
        } else {
            *png = b.data;
            *png_len = b.len;
            rc = 0;
        }
    }
    cairo_surface_destroy(s);
    g_object_unref(pg);
    g_object_unref(doc);
    return rc;
}
